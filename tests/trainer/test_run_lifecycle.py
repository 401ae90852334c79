"""`run_training` in this process (one rank): a fresh run dir, stop and resume, a finished run left
alone, an experiment's kept init_model, SIGTERM handling given back."""
from __future__ import annotations

import json
import shutil
import signal

import pytest

from rltrain.config import load_config
from rltrain.metrics.records import read_metrics
from trainer_runs import TINY, without_timing


@pytest.fixture(autouse=True)
def _torch_kernels(monkeypatch):
    """The trainer's kernels pick the torch references on CPU (the Triton interpreter is much slower)."""
    triton = pytest.importorskip("triton")
    if getattr(triton, "knobs", None) is not None:
        monkeypatch.setattr(triton.knobs.runtime, "interpret", False)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)


def _run(out_dir, *overrides: str, keep=()) -> int:
    from rltrain.ppo.run import run_training

    cfg = load_config(None, [*TINY, "run.iterations=2", f"run.out_dir={out_dir}", *overrides])
    return run_training(cfg, keep=keep)


def _iterations(run_dir, kind: str) -> list[int]:
    return [r.iteration for r in read_metrics(run_dir, kind)]


def test_a_fresh_run_replaces_what_an_earlier_run_left(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints" / "step_00000099").mkdir(parents=True)
    (run / "summary.json").write_text("{}")
    (run / "notes.txt").write_text("mine")
    before = signal.getsignal(signal.SIGTERM)

    assert _run(run) == 0

    assert signal.getsignal(signal.SIGTERM) is before
    assert (run / "notes.txt").read_text() == "mine"  # only the run's own artifacts are removed
    assert not (run / "checkpoints" / "step_00000099").exists()
    assert _iterations(run, "train") == [1, 2]
    assert _iterations(run, "eval") == [0, 2]
    assert _iterations(run, "warmup") == [0]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["iteration"] == 2 and summary["initial"]["greedy_success"] == pytest.approx(
        dict(read_metrics(run, "eval")[0])["greedy_success"])
    assert (run / "init_model" / "config.json").is_file()
    assert load_config(run / "config.yaml").run.iterations == 2


def test_stop_after_then_resume_finishes_the_run_once(tmp_path, capsys):
    run = tmp_path / "run"
    assert _run(run, "run.stop_after=1") == 0
    assert "run.stop_after=1: checkpoint saved at iteration 1" in capsys.readouterr().out
    assert not (run / "summary.json").exists()
    assert _iterations(run, "train") == [1]

    assert _run(run, "run.resume=true") == 0
    assert _iterations(run, "train") == [1, 2]
    assert _iterations(run, "eval") == [0, 2]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["iteration"] == 2 and summary["initial"] is not None  # read back from metrics.jsonl


def test_resuming_a_finished_run_writes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert _run(run) == 0
    stamps = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()

    assert _run(run, "run.resume=true") == 0

    assert "already finished at iteration 2" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == stamps


def test_keep_leaves_a_shared_init_model_in_place(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert _run(first, "run.iterations=1") == 0
    shutil.copytree(first / "init_model", second / "init_model")
    assert _run(second, "run.iterations=1", keep=("init_model",)) == 0
    assert _iterations(second, "warmup") == []  # loaded, not warmed up again
    initial = [without_timing(dict(r)) for r in read_metrics(first, "eval") if r.iteration == 0]
    assert [without_timing(dict(r)) for r in read_metrics(second, "eval") if r.iteration == 0] == initial
