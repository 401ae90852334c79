"""SIGTERM mid-run: a checkpoint is saved, the process exits 0, and the run resumes from it.

The two-rank stop / resume equality test is in test_trainer_runs.py (it shares the uninterrupted run)."""
from __future__ import annotations

import pytest

import signal
import subprocess
import sys
import time

from trainer_runs import MAIN, REPO, TINY, env, metrics, run_main

pytestmark = pytest.mark.slow  # starts processes or trains models


def test_sigterm_saves_and_exits_cleanly(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(MAIN), *TINY, "run.iterations=200", f"run.out_dir={out}"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 45
        while time.time() < deadline and proc.poll() is None:
            if (out / "metrics.jsonl").is_file() and metrics(out):
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr[-3000:]
    assert "SIGTERM: checkpoint saved" in stdout
    ckpts = sorted((out / "checkpoints").glob("iter-*"))
    assert len(ckpts) == 1 and not list((out / "checkpoints").glob(".tmp-*"))
    done = int(ckpts[0].name.split("-")[1])
    assert len(metrics(out)) == done
    run_main(out, f"run.iterations={done + 1}", "run.resume=true")
    assert [r["iteration"] for r in metrics(out)] == list(range(1, done + 2))
