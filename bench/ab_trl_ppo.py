"""Seconds per PPO iteration: rltrain's trainer vs TRL 0.29.1's `trl.experimental.ppo.PPOTrainer`,
same tiny model, weights, tokenizer and prompts, equal work per iteration, on CPU.

Three steps, the TRL one in its own virtual environment (TRL is never a dependency of this project;
0.29.1 is the last release with a PPO trainer):

    python -m venv --system-site-packages /tmp/trlvenv        # reuses this torch / transformers
    /tmp/trlvenv/bin/pip install "trl==0.29.1"
    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python bench/ab_trl_ppo.py rltrain --workdir /tmp/ab --iterations 10
    OMP_NUM_THREADS=1 /tmp/trlvenv/bin/python bench/ab_trl_ppo.py trl --workdir /tmp/ab --iterations 10
    python bench/ab_trl_ppo.py report --workdir /tmp/ab

`rltrain` runs the built-in task (configs/builtin.yaml: the warmed-up tiny Qwen2 model, 32 prompts x
4 samples, <= 48 new tokens, 1 epoch of 2 mini-batches, a critic, temperature 1) and writes the
warmed-up model + tokenizer (<workdir>/run/init_model), every iteration's 128 prompt texts
(<workdir>/prompts.json) and its timings (<workdir>/rltrain.json). `trl` trains TRL's PPO from that
model (policy, a reference copy, value model and reward model from the same weights) on the same
prompt rows, with the same batch (128 rows), response length (48, stopping at EOS), temperature,
epochs (1), mini-batches (2 of 64 rows, one micro-batch each), learning rate and threads, and writes
<workdir>/trl.json. Per iteration, TRL's work: generation (its old log-probs come from the sampling
logits), reference, value and reward-model forwards, then the epochs; rltrain's: generation, grading
and the rule PRM (no reward-model forward), the scoring forwards it needs, then the epochs.
`report` prints the medians over the iterations after --skip warm-up ones and the ratios, of wall
time and of the process's CPU time (one thread each side: OMP_NUM_THREADS=1), which a loaded
machine disturbs less than wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

BUILTIN = Path(__file__).resolve().parents[1] / "configs" / "builtin.yaml"
ROWS, SAMPLES, NEW_TOKENS, EPOCHS, MINI_BATCHES, LR = 128, 4, 48, 1, 2, 3.0e-4


def run_rltrain(workdir: Path, iterations: int, overrides: list[str]) -> None:
    from rltrain.config import load_config
    from rltrain.distributed.setup import init_distributed, shutdown_distributed
    from rltrain.ppo.trainer import PPOTrainer

    run_dir = workdir / "run"
    cfg = load_config(BUILTIN, [f"run.out_dir={run_dir}", "run.progress=false", "run.tensorboard=false",
                             f"rollout.prompts={ROWS // SAMPLES}", f"rollout.n={SAMPLES}",
                             f"rollout.max_new_tokens={NEW_TOKENS}", f"ppo.epochs={EPOCHS}",
                             f"ppo.mini_batches={MINI_BATCHES}", f"ppo.actor_lr={LR}", *overrides])
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = PPOTrainer(cfg, init_distributed(), run_dir)
    prompts = []
    for it in range(iterations):
        texts, _ = trainer._prompts(trainer.stream.batch(it, 0, 1))
        prompts.append([t for t in texts for _ in range(SAMPLES)])
    (workdir / "prompts.json").write_text(json.dumps(prompts))
    rows = []
    for _ in range(iterations):
        cpu = time.process_time()
        m = trainer.step()
        rows.append({"seconds": m["time_iteration"], "cpu_seconds": time.process_time() - cpu,
                     "response_tokens": m["response_length"] * m["samples"],
                     **{k: m[k] for k in ("time_rollout", "time_scoring", "time_training", "time_sync")}})
        print(f"rltrain iteration {len(rows)}: {m['time_iteration']:.2f} s", flush=True)
    trainer.close()
    shutdown_distributed()
    (workdir / "rltrain.json").write_text(json.dumps({"overrides": overrides, "iterations": rows}))


def run_trl(workdir: Path, iterations: int) -> None:
    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers import (AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer,
                              TrainerCallback)
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    model_dir = workdir / "run" / "init_model"
    prompts = json.loads((workdir / "prompts.json").read_text())[:iterations]
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"  # TRL generates from left-padded queries
    rows = [tok(text, add_special_tokens=False)["input_ids"] for batch in prompts for text in batch]
    dataset = Dataset.from_dict({"input_ids": rows})
    policy = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    value = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1, dtype=torch.float32)
    reward = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1, dtype=torch.float32)
    for m in (policy, ref, value, reward):
        m.config.pad_token_id = tok.pad_token_id
    args = PPOConfig(output_dir=str(workdir / "trl_out"), use_cpu=True, report_to="none", save_strategy="no",
                     per_device_train_batch_size=ROWS // MINI_BATCHES, gradient_accumulation_steps=MINI_BATCHES,
                     num_mini_batches=MINI_BATCHES, num_ppo_epochs=EPOCHS, local_rollout_forward_batch_size=ROWS,
                     response_length=NEW_TOKENS, temperature=1.0, stop_token="eos", learning_rate=LR,
                     total_episodes=ROWS * iterations, num_sample_generations=0, logging_steps=1, seed=0,
                     dataloader_num_workers=0)

    class Clock(TrainerCallback):
        def __init__(self):
            self.marks: list[tuple[float, float]] = []  # (wall, process CPU) seconds

        def on_train_begin(self, *_, **__):
            self.marks.append((time.perf_counter(), time.process_time()))

        def on_step_end(self, *_, **__):
            self.marks.append((time.perf_counter(), time.process_time()))
            print(f"trl iteration {len(self.marks) - 1}: {self.marks[-1][0] - self.marks[-2][0]:.2f} s", flush=True)

    clock = Clock()
    trainer = PPOTrainer(args=args, processing_class=tok, model=policy, ref_model=ref, reward_model=reward,
                         train_dataset=dataset, value_model=value, callbacks=[clock])
    lengths: list[float] = []
    real_generate = trainer.model.policy.generate

    def counting_generate(*a, **kw):  # response tokens up to and including the first EOS, per iteration
        out = real_generate(*a, **kw)
        seqs = out.sequences if hasattr(out, "sequences") else out
        resp = seqs[:, kw["input_ids"].shape[1]:]
        eos = (resp == tok.eos_token_id).int()
        first = torch.where(eos.any(1), eos.argmax(1) + 1, torch.full_like(eos[:, 0], resp.shape[1]))
        lengths.append(float(first.sum()))
        return out

    trainer.model.policy.generate = counting_generate
    trainer.train()
    steps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(clock.marks, clock.marks[1:])]
    out = [{"seconds": s, "cpu_seconds": c, "response_tokens": n} for (s, c), n in zip(steps, lengths)]
    (workdir / "trl.json").write_text(json.dumps({"versions": {"trl": trl.__version__, "torch": torch.__version__,
                                                              "transformers": transformers.__version__},
                                                 "iterations": out}))


def report(workdir: Path, skip: int) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores; load now {os.getloadavg()}")
    med, cpu = {}, {}
    for side in ("rltrain", "trl"):
        data = json.loads((workdir / f"{side}.json").read_text())
        rows = data["iterations"][skip:]
        secs = [r["seconds"] for r in rows]
        toks = statistics.mean(r["response_tokens"] for r in rows)
        med[side], cpu[side] = statistics.median(secs), statistics.median(r["cpu_seconds"] for r in rows)
        print(f"{side}: {len(rows)} iterations after {skip}; wall median {med[side]:.2f} s, mean "
              f"{statistics.mean(secs):.2f} s, min {min(secs):.2f} s; process CPU median {cpu[side]:.2f} s; "
              f"mean response tokens per iteration {toks:.0f}")
    print(f"TRL / rltrain per iteration (medians): wall {med['trl'] / med['rltrain']:.2f}x, "
          f"process CPU {cpu['trl'] / cpu['rltrain']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("side", choices=("rltrain", "trl", "report"))
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--skip", type=int, default=2, help="first iterations left out of the report (warm-up)")
    parser.add_argument("overrides", nargs="*", help="rltrain config overrides (rltrain side only)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.side == "rltrain":
        run_rltrain(args.workdir, args.iterations, args.overrides)
    elif args.side == "trl":
        run_trl(args.workdir, args.iterations)
    else:
        report(args.workdir, args.skip)


if __name__ == "__main__":
    main()
