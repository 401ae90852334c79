"""End-to-end runs of `rltrain/main.py` on the built-in task with a tiny config (subprocesses)."""
from __future__ import annotations

import math

import pytest

from trainer_runs import metrics, run_main, without_timing

pytestmark = pytest.mark.slow  # starts processes or trains models

EXPECTED = ("success_rate", "prm_return_raw", "prm_return_shaped", "orm_score", "entropy",
            "clip_fraction", "value_loss", "explained_variance", "response_length", "steps_per_response",
            "repeated_step_fraction", "time_rollout", "time_scoring", "time_training", "time_sync",
            "tokens_per_s", "param_rank_spread", "sampler_logprob_gap")


def test_one_process_run(tmp_path):
    out = tmp_path / "run"
    # a zero threshold: every (tiny, non-zero) gap exceeds it, and the warning still comes once
    proc = run_main(out, "reward.shaping=clip_delta", "rollout.sampler_logprob_gap_warn=0")
    rows = metrics(out)
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    for r in rows:
        for key in EXPECTED:
            assert key in r and r[key] is not None and math.isfinite(r[key]), key
        assert r["samples"] == 8
        assert 0 < r["sampler_logprob_gap"] < 1e-3  # update_weights kept the engine in sync
        assert "kl_per_response" not in r  # kl.coef = 0 and no kl.loss_coef: the reference never ran
    warnings = [line for line in proc.stderr.splitlines() if "sampler_logprob_gap" in line]
    assert len(warnings) == 1 and "> rollout.sampler_logprob_gap_warn 0 at iteration 1" in warnings[0], proc.stderr
    assert len(metrics(out, "eval")) == 2
    assert (out / "checkpoints" / "iter-000003").is_dir()
    assert "held-out greedy success" in proc.stdout
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(out / "hf_actor")
    AutoTokenizer.from_pretrained(out / "hf_actor")


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_rank") / "run"
    run_main(out, nproc=2)
    return out


def test_two_process_run_keeps_ranks_identical(two_rank_run):
    out = two_rank_run
    rows = metrics(out)
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert r["samples"] == 8  # 4 prompts x 2 samples over both ranks
        assert r["param_rank_spread"] == 0.0  # the full weights are bit-identical on both ranks
        assert r["sampler_logprob_gap"] < 1e-3  # the engine samples with the trainer's current weights
    assert sorted(p.name for p in (out / "checkpoints" / "iter-000003").iterdir() if p.suffix == ".pt") == \
        ["rank0.pt", "rank1.pt"]


def test_stop_and_resume_reproduces_metrics(two_rank_run, tmp_path):
    """Two ranks (sharded DCP checkpoint, per-rank RNG states): stopped after 1 of 3 iterations
    and resumed, the metrics equal the uninterrupted run's (timings aside)."""
    split = tmp_path / "split"
    proc = run_main(split, "run.stop_after=1", nproc=2)
    assert "checkpoint saved at iteration 1" in proc.stdout
    assert "sampler_logprob_gap" not in proc.stderr  # ~1e-7, far below the default threshold 0.01
    assert [r["iteration"] for r in metrics(split)] == [1]
    run_main(split, "run.resume=true", nproc=2)
    a, b = metrics(two_rank_run), metrics(split)
    assert [r["iteration"] for r in b] == [1, 2, 3]
    assert [without_timing(r) for r in a] == [without_timing(r) for r in b]
    assert metrics(two_rank_run, "eval")[-1] == metrics(split, "eval")[-1]


def test_script_entry_drops_its_own_folder_from_sys_path(tmp_path):
    """Run as `python rltrain/main.py`, sys.path[0] (rltrain/) is replaced by the repo root, so
    rltrain/'s subpackages (config, distributed, ...) cannot shadow top-level modules."""
    import subprocess
    import sys

    from trainer_runs import MAIN, REPO, env

    probe = tmp_path / "probe.py"
    probe.write_text(f"import runpy, sys\nsys.path[0] = {str(MAIN.parent)!r}\n"
                     f"g = runpy.run_path({str(MAIN)!r}, run_name='probe')\n"
                     f"print(sys.path[0])\n")
    out = subprocess.run([sys.executable, str(probe)], cwd=REPO, env=env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == str(REPO)
    help_out = subprocess.run([sys.executable, str(MAIN), "--help"], cwd=tmp_path, env=env(), capture_output=True,
                              text=True)
    assert help_out.returncode == 0 and "overrides" in help_out.stdout, help_out.stderr


if __name__ == "__main__":
    pytest.main([__file__])
