"""`python -m rltrain.plot RUN_DIR` draws a PNG from metrics.jsonl."""
from __future__ import annotations

import json

import pytest


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    from rltrain.plot import main

    rows = [{"iteration": 0, "kind": "eval", "greedy_success": 0.5, "sampling_success": 0.4}]
    rows += [{"iteration": i, "kind": "train", "success_rate": 0.1 * i, "prm_return_raw": 1.0, "prm_return_shaped": -0.1,
              "time_rollout": 0.4, "time_training": 1.0, "kl_per_response": None} for i in range(1, 5)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main([str(tmp_path)]) == 0
    png = tmp_path / "curves.png"
    assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
    assert main([str(tmp_path / "missing")]) == 2
