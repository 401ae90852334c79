"""Faults injected into trainer runs (subprocesses, tests/support/fault_run.py): kill -9 of two ranks while a
checkpoint is written, a full disk, damaged checkpoints, a resume of a finished run and of one killed
during the final export. Each asserts the one line the user sees and that no training state is lost:
a resume continues to the same metrics, bit for bit, as an uninterrupted run (timings aside)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from trainer_runs import MAIN, REPO, TINY, env, free_port, metrics, run_main, without_timing

pytestmark = pytest.mark.slow  # starts processes or trains models

FAULT_RUN = REPO / "tests" / "support" / "fault_run.py"
SAVE_EVERY = ["run.save_every=1", "run.keep_last=3"]


def run_fault(out_dir, fault: str, *overrides: str, nproc: int = 1, pids=None, timeout: int = 120):
    """main.py under fault_run.py (RLTRAIN_FAULT=fault); returns the finished process, whatever its status."""
    args = [*TINY, f"run.out_dir={out_dir}", *overrides]
    script = [str(FAULT_RUN), *args]
    cmd = [sys.executable, *script] if nproc == 1 else \
        [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", f"--master_port={free_port()}",
         *script]
    extra = {"RLTRAIN_FAULT": fault, **({"RLTRAIN_FAULT_PIDS": str(pids), "RLTRAIN_FAULT_RANK": "1"} if pids else {})}
    return subprocess.run(cmd, cwd=REPO, env={**env(), **extra}, capture_output=True, text=True, timeout=timeout)


def train_rows(out_dir) -> list[dict]:
    return [without_timing(dict(r)) for r in metrics(out_dir)]


def checkpoint_names(out_dir) -> list[str]:
    return sorted(p.name for p in (out_dir / "checkpoints").iterdir())


def test_kill_9_of_two_ranks_mid_checkpoint_resumes_bitwise(tmp_path):
    """Rank 1 half-writes its shard of iteration 2's checkpoint, then the job (torchrun and both
    ranks) is killed with SIGKILL. The resume starts from iteration 1's checkpoint and reproduces the
    uninterrupted run's metrics exactly (both ranks' RNG, optimizer, scheduler and data states)."""
    reference = tmp_path / "reference"
    run_main(reference, *SAVE_EVERY, nproc=2)
    out, pids = tmp_path / "killed", tmp_path / "pids"
    pids.mkdir()
    proc = run_fault(out, "kill:iter-000002", *SAVE_EVERY, nproc=2, pids=pids)
    assert proc.returncode == -9, proc.stdout[-2000:] + proc.stderr[-3000:]  # torchrun itself was killed
    assert checkpoint_names(out) == [".tmp-iter-000002", "iter-000001"]
    assert [r["iteration"] for r in metrics(out)] == [1, 2]  # logged before the save began
    run_main(out, *SAVE_EVERY, "run.resume=true", nproc=2)
    assert train_rows(out) == train_rows(reference)
    assert metrics(out, "eval") == metrics(reference, "eval")
    assert checkpoint_names(out) == ["iter-000001", "iter-000002", "iter-000003"]


def test_disk_full_while_saving_names_the_path_and_keeps_the_older_checkpoint(tmp_path):
    out = tmp_path / "run"
    proc = run_fault(out, "enospc:iter-000002", *SAVE_EVERY)
    assert proc.returncode == 2, proc.stderr[-3000:]
    ckpts = out / "checkpoints"
    line = (f"rltrain: checkpoint of iteration 2 not saved: cannot write {ckpts}/.tmp-iter-000002: no space left on "
            f"device; the newest complete checkpoint is {ckpts}/iter-000001")
    assert proc.stderr.splitlines()[-1] == line
    assert "Traceback" not in proc.stderr and "inline_container" not in proc.stderr
    assert checkpoint_names(out) == ["iter-000001"]  # the partial folder is gone, the older one intact
    run_main(out, *SAVE_EVERY, "run.resume=true")
    assert [r["iteration"] for r in metrics(out)] == [1, 2, 3]


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    """A run stopped after 2 of 3 iterations with checkpoints after each."""
    out = tmp_path_factory.mktemp("base") / "run"
    run_main(out, *SAVE_EVERY, "run.stop_after=2")
    return out


def _truncate_shard(ckpt):
    shard = ckpt / "__0_0.distcp"
    size = shard.stat().st_size
    with open(shard, "r+b") as f:
        f.truncate(size // 2)
    return f"__0_0.distcp: {size // 2} bytes, its manifest says {size} (truncated or overwritten)"


def _garble_rank_state(ckpt):
    state = ckpt / "rank0.pt"
    state.write_bytes(b"\x00" * state.stat().st_size)
    return "rank0.pt: its bytes differ from the sha256 in its manifest (corrupted)"


def _unverified_truncated_rank_state(ckpt):
    (ckpt / "manifest.json").unlink()  # as written before manifests: only loading can tell
    (ckpt / "rank0.pt").write_bytes(b"")
    return "rank0.pt: unreadable (EOFError: Ran out of input)"


@pytest.mark.parametrize("damage", [_truncate_shard, _garble_rank_state, _unverified_truncated_rank_state])
def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(two_checkpoints, tmp_path, damage):
    out = tmp_path / "run"
    shutil.copytree(two_checkpoints, out)
    ckpts = out / "checkpoints"
    why = damage(ckpts / "iter-000002")
    proc = run_main(out, *SAVE_EVERY, "run.resume=true")
    line = (f"[rltrain] {ckpts}/iter-000002 is damaged ({why}): moved aside to .damaged-iter-000002; "
            "resuming from iter-000001 (iteration 1)")
    assert line in proc.stdout.splitlines(), proc.stdout
    assert "Traceback" not in proc.stderr
    rows = train_rows(out)
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert rows[:2] == train_rows(two_checkpoints)  # iteration 2 recomputed from checkpoint 1: bit for bit
    assert checkpoint_names(out) == [".damaged-iter-000002", "iter-000001", "iter-000002", "iter-000003"]


def test_no_intact_checkpoint_is_one_line_and_moves_nothing(two_checkpoints, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(two_checkpoints, out)
    ckpts = out / "checkpoints"
    why2 = _truncate_shard(ckpts / "iter-000002")
    why1 = _garble_rank_state(ckpts / "iter-000001")
    proc = subprocess.run([sys.executable, str(MAIN), *TINY, f"run.out_dir={out}", "run.resume=true"], cwd=REPO,
                          env=env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (f"rltrain: run.resume=true: no intact checkpoint in {ckpts} (iter-000002: "
                                            f"{why2}; iter-000001: {why1}); set run.resume=false to start again")
    assert checkpoint_names(out) == ["iter-000001", "iter-000002"]
    assert [r["iteration"] for r in metrics(out)] == [1, 2]


def _files(out_dir) -> dict:
    return {str(p.relative_to(out_dir)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(out_dir.rglob("*"))}


def test_resume_after_a_kill_during_the_export_finishes_it_once_and_then_does_nothing(tmp_path):
    out = tmp_path / "run"
    proc = run_fault(out, "kill:export", "run.iterations=2")
    assert proc.returncode == -9
    assert not (out / "hf_actor").exists() and (out / "hf_actor.tmp").is_dir() and not (out / "summary.json").exists()
    assert [r.iteration for r in metrics(out, "eval")] == [0, 2]

    proc = run_main(out, "run.iterations=2", "run.resume=true")
    assert ("[rltrain] run.resume: iteration 2 and its final evaluation are done; writing what the interrupted run "
            "left: the Hugging Face export and summary.json") in proc.stdout
    assert [r.iteration for r in metrics(out, "eval")] == [0, 2]  # no second final evaluation line
    assert not (out / "hf_actor.tmp").exists()
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out / "hf_actor")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["iteration"] == 2 and summary["final"] == dict(metrics(out, "eval")[-1].values)

    before = _files(out)
    proc = run_main(out, "run.iterations=2", "run.resume=true")
    assert proc.stdout.splitlines() == [
        f"[rltrain] run.resume: {out} already finished at iteration 2 (run.iterations=2): its final evaluation, "
        "checkpoint, export and summary.json are written; nothing to do (raise run.iterations to train on)"]
    assert _files(out) == before  # nothing written, not even config.yaml
