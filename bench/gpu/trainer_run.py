"""A short trainer run on the check's device: a randomly initialised Qwen2 of realistic width with
the real Qwen vocabulary, GSM8K prompts, bf16 mixed precision, FSDP2 on one rank (NCCL on a GPU),
activation checkpointing; tokens/s per phase and peak memory from its metrics.jsonl."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.gpu.rows import Row

REPO = Path(__file__).resolve().parents[2]
PHASES = ("rollout", "scoring", "training", "sync", "iteration")


@dataclass(frozen=True)
class ModelShape:
    """The random policy's sizes and the run's batch (prompts x samples, new tokens)."""

    hidden: int = 1024
    layers: int = 8
    heads: int = 16
    kv_heads: int = 4
    intermediate: int = 2816
    iterations: int = 5
    prompts: int = 16
    samples: int = 4
    max_new_tokens: int = 256

    @classmethod
    def tiny(cls) -> "ModelShape":
        return cls(hidden=64, layers=2, heads=2, kv_heads=1, intermediate=128, iterations=2, prompts=2, samples=2,
                   max_new_tokens=8)


def build_random_qwen2(folder: Path, tokenizer_dir: Path, shape: ModelShape) -> Path:
    """Write a randomly initialised Qwen2ForCausalLM with the tokenizer in `tokenizer_dir` to `folder`."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=shape.hidden, num_hidden_layers=shape.layers,
                         num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads,
                         intermediate_size=shape.intermediate, max_position_embeddings=4096,
                         tie_word_embeddings=False, eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_trainer(out_dir: Path, model_dir: Path, data_dir: Path, shape: ModelShape, timeout_s: float) -> Path:
    """torchrun rltrain/main.py on one rank; returns the run folder (raises on failure / timeout)."""
    run_dir = out_dir / "trainer_run"
    overrides = [
        f"model.policy={model_dir}", "model.mixed_precision=true", "model.gradient_checkpointing=true",
        f"data.dataset=gsm8k", f"data.source={data_dir}", "data.split=train", "data.eval_split=test",
        f"rollout.prompts={shape.prompts}", f"rollout.n={shape.samples}",
        f"rollout.max_new_tokens={shape.max_new_tokens}", f"model.tiny.max_position_embeddings=4096",
        f"run.iterations={shape.iterations}", "warmup.steps=0", "reward.prm=none", "run.eval_problems=16", "run.export_hf=false", "run.progress=false",
        "run.tensorboard=false", f"run.out_dir={run_dir}", "ppo.micro_tokens=16384",
    ]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1", "--standalone",
           str(REPO / "rltrain" / "main.py"), *overrides]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), str(REPO / "kernels"), os.environ.get("PYTHONPATH")])))
    log_path = out_dir / "trainer_run.log"
    with open(log_path, "w") as log:
        code = subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s).returncode
    if code != 0:
        lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
        cause = next((line.split("traceback :", 1)[1].strip() for line in reversed(lines) if "traceback :" in line),
                     lines[-1] if lines else "no output")
        raise RuntimeError(f"the trainer exited with status {code} ({log_path.name}): {cause}")
    return run_dir


def trainer_rows(run_dir: Path, shape: ModelShape) -> list[Row]:
    """Per-phase seconds and tokens/s (iterations after the first) and peak memory, from metrics.jsonl."""
    sys.path[:0] = [str(REPO), str(REPO / "kernels")]
    from rltrain.metrics.records import read_metrics

    train = read_metrics(run_dir, "train")
    timed = train[1:] or train
    shape_text = (f"Qwen2 h{shape.hidden} x {shape.layers} layers, {shape.prompts}x{shape.samples} samples, "
                  f"<= {shape.max_new_tokens} new tokens")
    rows = []
    for phase in PHASES:
        seconds = statistics.median(r[f"time_{phase}"] for r in timed)
        rows.append(Row(f"trainer {phase} ({shape_text})", seconds, "s / iteration"))
    rows.append(Row("trainer response tokens/s (whole iteration)", statistics.median(r["tokens_per_s"] for r in timed),
                    "tokens/s"))
    rows.append(Row("trainer response tokens/s (rollout)",
                    statistics.median(r["rollout_tokens_per_s"] for r in timed), "tokens/s"))
    peaks = [r["gpu_peak_memory_gib"] for r in timed if r.get("gpu_peak_memory_gib") is not None]
    rows.append(Row("trainer peak GPU memory", max(peaks) if peaks else None, "GiB",
                    detail="" if peaks else "the run logs no gpu_peak_memory_gib"))
    return rows
