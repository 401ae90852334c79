"""metrics.jsonl: one writer (MetricsLogger), one reader (read_metrics), typed rows."""
from __future__ import annotations

import json

import pytest

from rltrain.metrics.logger import MetricsLogger
from rltrain.metrics.records import MetricsRow, read_metrics


def _write(path, lines: list[str]) -> None:
    path.joinpath("metrics.jsonl").write_text("".join(line + "\n" for line in lines))


def test_rows_are_typed_filtered_by_kind_and_read_like_the_line(tmp_path):
    _write(tmp_path, [json.dumps({"iteration": 0, "kind": "eval", "greedy_success": 0.5}),
                      json.dumps({"iteration": 1, "kind": "train", "success_rate": 0.25, "kl_coef": None}),
                      "",
                      json.dumps({"iteration": 2, "kind": "train", "success_rate": 0.75, "kl_coef": 0.1})])
    rows = read_metrics(tmp_path)
    assert [(r.iteration, r.kind) for r in rows] == [(0, "eval"), (1, "train"), (2, "train")]
    train = read_metrics(tmp_path, "train")
    assert [r.values["success_rate"] for r in train] == [0.25, 0.75]
    assert train[0]["iteration"] == 1 and train[0]["kind"] == "train" and train[0]["kl_coef"] is None
    assert dict(train[1]) == {"iteration": 2, "kind": "train", "success_rate": 0.75, "kl_coef": 0.1}
    assert "success_rate" in train[0] and "greedy_success" not in train[0] and train[0].get("missing") is None
    assert read_metrics(tmp_path, "eval") == [MetricsRow(0, "eval", {"greedy_success": 0.5})]
    assert read_metrics(tmp_path, "warmup") == []


def test_a_line_still_being_written_is_left_out(tmp_path):
    done = json.dumps({"iteration": 1, "kind": "train", "success_rate": 0.5})
    (tmp_path / "metrics.jsonl").write_text(done + "\n" + '{"iteration": 2, "kind": "tr')
    assert [r.iteration for r in read_metrics(tmp_path)] == [1]
    (tmp_path / "metrics.jsonl").write_text(done + "\n" + json.dumps({"iteration": 2, "kind": "train"}))
    assert [r.iteration for r in read_metrics(tmp_path)] == [1, 2]


def test_bad_input_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no metrics.jsonl"):
        read_metrics(tmp_path)
    _write(tmp_path, [json.dumps({"iteration": 1, "kind": "train"}), "{oops", json.dumps({"iteration": 2, "kind": "x"})])
    with pytest.raises(ValueError, match=r"metrics.jsonl:2: not JSON"):
        read_metrics(tmp_path)
    _write(tmp_path, [json.dumps({"kind": "train", "success_rate": 1.0})])
    with pytest.raises(ValueError, match=r"metrics.jsonl:1: .*int `iteration`"):
        read_metrics(tmp_path)
    with pytest.raises(ValueError, match="`kind` must be one of"):
        read_metrics(tmp_path, "evals")


def test_logger_writes_what_the_reader_reads_and_truncates_by_iteration(tmp_path):
    log = MetricsLogger(tmp_path, enabled=True, tensorboard=False)
    log.log(0, {"greedy_success": 0.5}, kind="eval")
    for it in (1, 2, 3):
        log.log(it, {"success_rate": it / 4, "samples": 8.0, "entropy": float("nan"), "note": "x"})
    rows = read_metrics(tmp_path, "train")
    assert [r["success_rate"] for r in rows] == [0.25, 0.5, 0.75]
    assert rows[0].values == {"success_rate": 0.25, "samples": 8.0, "entropy": None, "note": "x"}
    before = (tmp_path / "metrics.jsonl").read_text().splitlines()
    log.truncate_after(2)
    assert (tmp_path / "metrics.jsonl").read_text().splitlines() == before[:3]
    assert [r.iteration for r in read_metrics(tmp_path)] == [0, 1, 2]
