"""A run stopped mid-way (max-iterations stop or SIGTERM) and resumed matches an uninterrupted run."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

from trainer_runs import MAIN, REPO, TINY, env, metrics, run_main, without_timing


def test_stop_and_resume_reproduces_metrics(tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    run_main(full, "run.iterations=4")
    proc = run_main(split, "run.iterations=4", "run.stop_after=2")
    assert "checkpoint saved at iteration 2" in proc.stdout
    assert [r["iteration"] for r in metrics(split)] == [1, 2]
    run_main(split, "run.iterations=4", "run.resume=true")
    a, b = metrics(full), metrics(split)
    assert [r["iteration"] for r in b] == [1, 2, 3, 4]
    assert [without_timing(r) for r in a] == [without_timing(r) for r in b]


def test_sigterm_saves_and_exits_cleanly(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(MAIN), *TINY, "run.iterations=200", f"run.out_dir={out}"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 45
        while time.time() < deadline and proc.poll() is None:
            path = out / "metrics.jsonl"
            if path.is_file() and '"kind": "train"' in path.read_text():
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
