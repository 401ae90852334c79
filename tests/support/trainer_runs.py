"""Helpers for the trainer tests: a tiny, fast config and subprocess launchers."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from rltrain.metrics.records import MetricsRow, read_metrics

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "rltrain" / "main.py"

TINY = [
    "run.iterations=3", "run.eval_problems=8", "run.progress=false", "run.tensorboard=false",
    "model.tiny.hidden_size=64", "model.tiny.intermediate_size=64", "model.tiny.num_hidden_layers=1",
    "model.tiny.num_attention_heads=2", "model.tiny_vocab_size=300",
    "warmup.steps=3", "rollout.prompts=4", "rollout.n=2", "rollout.max_new_tokens=12",
    "ppo.mini_batches=2", "ppo.micro_tokens=128",
]

TIMING_KEYS = ("time_", "tokens_per_s", "rollout_tokens_per_s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict:
    e = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "kernels")]), TOKENIZERS_PARALLELISM="false")
    e.pop("TRITON_INTERPRET", None)  # the trainer runs the torch references on CPU (faster)
    return e


def run_main(out_dir: Path, *overrides: str, nproc: int = 1, timeout: int = 120) -> subprocess.CompletedProcess:
    args = [*TINY, f"run.out_dir={out_dir}", *overrides]
    if nproc == 1:
        cmd = [sys.executable, str(MAIN), *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
               f"--master_port={free_port()}",
               str(MAIN), *args]
    proc = subprocess.run(cmd, cwd=REPO, env=env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def metrics(out_dir: Path, kind: str = "train") -> list[MetricsRow]:
    return read_metrics(out_dir, kind)


def without_timing(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith(TIMING_KEYS[0]) and k not in TIMING_KEYS[1:]}
