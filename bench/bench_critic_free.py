"""Memory and time of a critic-free estimator against GAE on the same built-in run.

    OMP_NUM_THREADS=1 python bench/bench_critic_free.py                      # gae vs grpo, 30 iterations
    OMP_NUM_THREADS=1 python bench/bench_critic_free.py --estimators gae,grpo,rloo run.iterations=60

Each estimator trains the default built-in config (`rltrain/main.py`, one process, the same seed)
in its own child process, one after another. Printed per estimator: the child's peak resident
memory (`wait4`'s ru_maxrss), the model state the trainer holds (parameters, gradients and AdamW
moments, float32: 16 bytes per trained parameter, 4 per frozen one, counted from the built
modules), and the median seconds per phase over the iterations after `--skip` (from
metrics.jsonl). Extra arguments are trainer overrides for every run.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "kernels")]

from rltrain.metrics.records import read_metrics  # noqa: E402

PHASES = ("time_rollout", "time_scoring", "time_training", "time_iteration")


def model_state_bytes(run_dir: Path, estimator: str) -> dict[str, int]:
    """Bytes of the trainer's models as `rltrain.models.build` makes them for this run's init model:
    actor (trained), reference and rollout copy (frozen), critic (trained, gae only)."""
    from rltrain.models.tiny import load_tiny

    lm, _ = load_tiny(run_dir / "init_model")
    policy = sum(p.numel() for p in lm.parameters())
    backbone = sum(p.numel() for p in lm.model.parameters())
    critic = backbone + lm.config.hidden_size + 1 if estimator == "gae" else 0  # + the value head
    return {"actor": 16 * policy, "reference + rollout copy": 2 * 4 * policy, "critic": 16 * critic}


def run(estimator: str, overrides: list[str], root: Path) -> dict:
    run_dir = root / estimator
    cmd = [sys.executable, str(REPO / "rltrain" / "main.py"), f"run.out_dir={run_dir}", "run.progress=false",
           "run.tensorboard=false", "run.export_hf=false", f"ppo.estimator={estimator}", *overrides]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "kernels")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("TRITON_INTERPRET", None)
    with open(root / f"{estimator}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{estimator} failed: see {root / (estimator + '.log')}")
    return {"run_dir": run_dir, "peak_rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimators", default="gae,grpo")
    parser.add_argument("--skip", type=int, default=2, help="first iterations left out (warm-up)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    overrides = ["run.iterations=30", *args.overrides]
    root = Path(tempfile.mkdtemp(prefix="bench_critic_free_"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
          f"overrides: {' '.join(overrides)}; runs in {root}")
    header = ["estimator", "peak RSS (MB)", "model state (MB)", "of which critic (MB)"] + \
             [f"{p[5:]} s (median)" for p in PHASES]
    rows = []
    for estimator in args.estimators.split(","):
        result = run(estimator, overrides, root)
        train = read_metrics(result["run_dir"], "train")[args.skip:]
        state = model_state_bytes(result["run_dir"], estimator)
        rows.append([estimator, f"{result['peak_rss_mb']:.0f}", f"{sum(state.values()) / 2**20:.2f}",
                     f"{state['critic'] / 2**20:.2f}"] +
                    [f"{statistics.median(r[p] for r in train):.3f}" for p in PHASES])
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
