"""bench/gpu_check.py: without CUDA it prints its plan and exits 0; every step runs at toy sizes on CPU."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared_data import data_file

pytestmark = pytest.mark.slow  # starts processes or trains models

REPO = Path(__file__).resolve().parents[2]


def test_without_cuda_it_says_what_it_would_run(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_check.py"), str(tmp_path / "out"), "--dry-run"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "it would run" in proc.stdout
    for part in ("kernel tests", "copy bandwidth", "1024 x 4096", "N=16384, H=1536, V=151936", "5 iterations"):
        assert part in proc.stdout
    assert not (tmp_path / "out").exists()


def test_every_step_runs_at_toy_sizes_on_cpu(tmp_path):
    data_file("gsm8k/train.jsonl")  # skips without the shared data
    from bench.gpu.assets import prepare
    from bench.gpu_check import main

    assets = tmp_path / "assets"
    try:
        prepare(assets, data_file("gsm8k/train.jsonl").parents[1], lines=40, wheels=False)
    except SystemExit as exc:
        pytest.skip(str(exc))
    assert main([str(tmp_path / "out"), "--device", "cpu", "--tiny", "--assets", str(assets)]) == 0
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert report["errors"] == [] and report["failing_tests"] == []
    checks = [row["check"] for row in report["rows"]]
    for part in ("kernel tests test_segment_steps", "copy bandwidth", "fused_reward_gae", "ppo_policy_loss",
                 "linear_ppo_policy_loss", "trainer iteration", "trainer response tokens/s"):
        assert any(c.startswith(part) for c in checks), (part, checks)
    values = {row["check"]: row["value"] for row in report["rows"]}
    assert all(v is not None and v > 0 for c, v in values.items() if c.startswith(("copy", "matmul", "trainer it")))
    assert "| check | value |" in (tmp_path / "out" / "gpu_check.md").read_text()
