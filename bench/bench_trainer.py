"""Time per PPO iteration and its phase breakdown on the built-in task.

    OMP_NUM_THREADS=1 python bench/bench_trainer.py                 # runs the default config
    OMP_NUM_THREADS=1 python bench/bench_trainer.py --nproc 2       # torchrun, 2 ranks
    python bench/bench_trainer.py --run-dir runs/builtin            # summarise an existing run

Prints a markdown table: median / mean seconds per phase (rollout, scoring, training, sync,
whole iteration) over the iterations after `--skip` warm-up iterations, and response tokens/s.
Extra arguments are passed to rltrain/main.py as overrides.
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

PHASES = ("time_rollout", "time_scoring", "time_training", "time_sync", "time_iteration")


def summarise(run_dir: Path, skip: int) -> str:
    train = read_metrics(run_dir, "train")[skip:]
    if not train:
        raise SystemExit(f"no train iterations after skipping {skip} in {run_dir}")
    lines = [f"iterations timed: {len(train)} (after {skip} skipped); samples per iteration: {train[0]['samples']:.0f}",
             "", "| phase | median s | mean s | share of iteration |", "| --- | --- | --- | --- |"]
    total = statistics.mean(r["time_iteration"] for r in train)
    for key in PHASES:
        vals = [r[key] for r in train]
        lines.append(f"| {key[5:]} | {statistics.median(vals):.3f} | {statistics.mean(vals):.3f} | "
                     f"{statistics.mean(vals) / total:.0%} |")
    tps = statistics.mean(r["tokens_per_s"] for r in train)
    gen = statistics.mean(r["rollout_tokens_per_s"] for r in train)
    lines += ["", f"response tokens/s over the iteration: {tps:.0f}; during rollout: {gen:.0f}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=None, help="summarise this run instead of running one")
    parser.add_argument("--nproc", type=int, default=1)
    parser.add_argument("--skip", type=int, default=2, help="first iterations left out (warm-up)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    run_dir = args.run_dir
    if run_dir is None:
        run_dir = Path(tempfile.mkdtemp(prefix="bench_trainer_")) / "run"
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={args.nproc}", "--master_port=29517",
               str(REPO / "rltrain" / "main.py"), f"run.out_dir={run_dir}", "run.progress=false", *args.overrides]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "kernels")]))
        env.setdefault("OMP_NUM_THREADS", "1")
        subprocess.run(cmd, cwd=REPO, env=env, check=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, python {platform.python_version()}")
    print(summarise(run_dir, args.skip))


if __name__ == "__main__":
    main()
