"""The built-in rollout engine: Hugging Face transformers `generate` with a KV cache.

Prompts are expanded to `n` rows each, sorted by length and packed into left-padded
batches whose padded size, rows * (longest prompt + max_new_tokens), stays within
`token_budget`. Log-probs are recorded by a logits processor that runs before the
temperature / top-p warpers, on the raw float32 logits, so they follow the convention in
`rollout/types.py`: log_softmax(logits / temperature) of the sampled token, untruncated.
Only one [rows, vocab] tensor of log-probs is kept at a time (no per-step logits history).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch

from rltrain.batching import plan_batches
from rltrain.rollout.types import RolloutEngine, RolloutOutput, SamplingParams, check_prompts


class _LogProbRecorder:
    """A logits processor that records log_softmax(scores / temperature) of each chosen token.

    At step t it sees the token chosen at step t-1 as the last input id, so it keeps the
    previous step's log-probs and gathers from them; `finish` adds the last step.
    """

    def __init__(self, temperature: float):
        self.temperature = temperature if temperature > 0 else 1.0
        self.previous: torch.Tensor | None = None
        self.steps: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.previous is not None:
            self.steps.append(self.previous.gather(1, input_ids[:, -1:]).squeeze(1))
        self.previous = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        return scores

    def finish(self, new_tokens: torch.Tensor) -> torch.Tensor:
        """[rows, steps] float32 log-probs of `new_tokens` [rows, steps]."""
        t = len(self.steps)
        if self.previous is not None and t < new_tokens.shape[1]:
            self.steps.append(self.previous.gather(1, new_tokens[:, t:t + 1]).squeeze(1))
        if not self.steps:
            return torch.zeros(new_tokens.shape, dtype=torch.float32)
        return torch.stack(self.steps, dim=1).cpu()


class HFRolloutEngine(RolloutEngine):
    """`HFRolloutEngine(model, pad_token_id=..., eos_token_ids=[...]).generate(prompts, params)`.

    model: a transformers causal LM (the engine owns its generation config: it is replaced
    by a neutral one so that no checkpoint default such as top_k or a repetition penalty
    changes the sampler); eos_token_ids: the stop tokens when `params.stop_token_ids` is
    empty; token_budget: the most padded tokens (prompt + new) per batch.
    """

    def __init__(self, model, *, pad_token_id: int, eos_token_ids: Sequence[int] = (),
                 token_budget: int = 16384):
        from transformers import GenerationConfig

        if token_budget < 1:
            raise ValueError(f"HFRolloutEngine: `token_budget` must be >= 1, got {token_budget}")
        self.model = model.eval()
        self.model.generation_config = GenerationConfig()
        self.pad_token_id = int(pad_token_id)
        self.eos_token_ids = tuple(int(t) for t in eos_token_ids)
        self.token_budget = int(token_budget)

    @classmethod
    def from_tokenizer(cls, model, tokenizer, **kwargs) -> "HFRolloutEngine":
        """Pad and eos ids from the tokenizer (pad falls back to eos)."""
        eos = tokenizer.eos_token_id
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
        if pad is None:
            raise ValueError("HFRolloutEngine.from_tokenizer: the tokenizer has neither a pad nor an eos token")
        return cls(model, pad_token_id=pad, eos_token_ids=() if eos is None else (eos,), **kwargs)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def generate(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[list[RolloutOutput]]:
        vocab = self.model.get_input_embeddings().weight.shape[0]
        checked = check_prompts(prompts, vocab)
        stops = params.stop_token_ids or self.eos_token_ids
        rows = [p for p in checked for _ in range(params.n)]
        outputs: list[RolloutOutput | None] = [None] * len(rows)
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, enabled=params.seed is not None):
            if params.seed is not None:
                torch.manual_seed(params.seed)
            for batch in plan_batches([len(r) for r in rows], params.max_new_tokens, self.token_budget):
                for i, out in zip(batch, self._generate_batch([rows[i] for i in batch], params, stops)):
                    outputs[i] = out
        return [outputs[k * params.n:(k + 1) * params.n] for k in range(len(checked))]  # type: ignore[misc]

    @torch.no_grad()
    def _generate_batch(self, prompts: list[list[int]], params: SamplingParams,
                        stops: tuple[int, ...]) -> list[RolloutOutput]:
        from transformers import GenerationConfig, LogitsProcessorList

        longest = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), longest), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), longest), dtype=torch.long)
        for row, prompt in enumerate(prompts):  # left padding
            input_ids[row, longest - len(prompt):] = torch.tensor(prompt)
            attention_mask[row, longest - len(prompt):] = 1
        config = GenerationConfig(
            do_sample=not params.greedy, temperature=params.temperature if not params.greedy else 1.0,
            top_p=params.top_p if not params.greedy else 1.0, top_k=None if params.greedy else 0,
            max_new_tokens=params.max_new_tokens,
            eos_token_id=list(stops) or None, pad_token_id=self.pad_token_id, use_cache=True,
        )
        recorder = _LogProbRecorder(params.temperature)
        sequences = self.model.generate(
            input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device),
            generation_config=config, logits_processor=LogitsProcessorList([recorder]),
        )
        new_tokens = sequences[:, longest:]
        logprobs = recorder.finish(new_tokens)
        return [self._trim(new_tokens[row].tolist(), logprobs[row], stops) for row in range(len(prompts))]

    @staticmethod
    def _trim(tokens: list[int], logprobs: torch.Tensor, stops: tuple[int, ...]) -> RolloutOutput:
        stop_set = set(stops)
        for t, token in enumerate(tokens):
            if token in stop_set:
                return RolloutOutput(tokens[:t + 1], logprobs[:t + 1].clone(), "stop")
        return RolloutOutput(tokens, logprobs.clone(), "length")

    @torch.no_grad()
    def update_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        targets = self.model.state_dict(keep_vars=True)  # tied weights appear under every name
        for name, tensor in named_tensors:
            target = targets.get(name)
            if target is None:
                raise ValueError(f"update_weights: unknown tensor name {name!r}")
            if tuple(target.shape) != tuple(tensor.shape):
                raise ValueError(f"update_weights: `{name}` has shape {tuple(tensor.shape)}, "
                                 f"the model expects {tuple(target.shape)}")
            target.copy_(tensor.to(device=target.device, dtype=target.dtype))


def engine_from_config(cfg, rollout_lm, tokenizer, model_dir, device_type: str) -> HFRolloutEngine:
    """rollout.engine=builtin (`rltrain.config.engines`): generates with the actor's unsharded copy,
    micro-batched by rollout.token_budget; model_dir and device_type are not read."""
    return HFRolloutEngine.from_tokenizer(rollout_lm, tokenizer, token_budget=cfg.rollout.token_budget)
