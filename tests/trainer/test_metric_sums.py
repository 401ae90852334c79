"""MetricSums: named totals summed over ranks in one all_reduce, means derived by name."""
from __future__ import annotations

import pytest
import torch

from rltrain.metrics import sums as sums_module
from rltrain.metrics.sums import MetricSums

CPU = torch.device("cpu")


def _declare(order: list[str], scale: float = 1.0) -> MetricSums:
    s = MetricSums()
    steps = {
        "samples": lambda: s.add("samples", 4 * scale),
        "tokens": lambda: s.count("tokens", torch.tensor(10.0 * scale)),
        "success_rate": lambda: s.mean("success_rate", 3 * scale, per="samples"),
        "entropy": lambda: s.mean("entropy", torch.tensor(5.0 * scale), per="tokens"),
        "policy_loss": lambda: s.mean("policy_loss", 0.5 * scale, per=2),
    }
    for name in order:
        steps[name]()
    return s


def test_one_rank_reports_totals_and_means_in_declaration_order():
    order = ["samples", "tokens", "success_rate", "entropy", "policy_loss"]
    r = _declare(order).reduce(CPU)
    assert list(r.metrics) == ["samples", "success_rate", "entropy", "policy_loss"]  # counts are not reported
    assert r.metrics == {"samples": 4.0, "success_rate": 0.75, "entropy": 0.5, "policy_loss": 0.25}
    assert r.totals["tokens"] == 10.0 and r.totals["success_rate"] == 3.0


def test_a_zero_count_gives_a_zero_mean_not_an_error():
    s = MetricSums()
    s.count("tokens", 0)
    s.mean("entropy", 0.0, per="tokens")
    assert s.reduce(CPU).metrics == {"entropy": 0.0}


def test_declaration_errors():
    s = MetricSums()
    s.add("samples", 1)
    with pytest.raises(ValueError, match="`samples` is declared twice"):
        s.mean("samples", 1, per="samples")
    s.mean("entropy", 1.0, per="tokens")
    with pytest.raises(KeyError, match="per `tokens`"):
        s.reduce(CPU)


class _TwoRanks:
    """all_reduce_sum as a 2-rank group would compute it, with `other` as the second rank's vector."""

    def __init__(self, other: list[float]):
        self.other, self.calls = other, 0

    def __call__(self, values: list[float], device) -> list[float]:
        self.calls += 1
        return [a + b for a, b in zip(values, self.other)]


def _vector(s: MetricSums, monkeypatch) -> list[float]:
    sent: list[list[float]] = []
    monkeypatch.setattr(sums_module, "all_reduce_sum", lambda values, device: sent.append(values) or values)
    s.reduce(CPU)
    return sent[0]


def test_two_ranks_sum_by_name_whatever_order_each_declared_in(monkeypatch):
    other = _vector(_declare(["policy_loss", "entropy", "success_rate", "tokens", "samples"], scale=3.0), monkeypatch)
    group = _TwoRanks(other)
    monkeypatch.setattr(sums_module, "all_reduce_sum", group)
    monkeypatch.setattr(sums_module.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(sums_module.dist, "get_world_size", lambda: 2)
    r = _declare(["samples", "tokens", "success_rate", "entropy", "policy_loss"]).reduce(CPU)
    assert group.calls == 1
    assert r.metrics == {"samples": 16.0, "success_rate": 12 / 16, "entropy": 20 / 40, "policy_loss": 2.0 / 2}


def test_ranks_with_different_names_fail_loudly(monkeypatch):
    theirs = MetricSums()
    theirs.add("samples", 4)
    theirs.add("orm_score", 1.0)
    other = _vector(theirs, monkeypatch)
    monkeypatch.setattr(sums_module, "all_reduce_sum", _TwoRanks(other))
    monkeypatch.setattr(sums_module.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(sums_module.dist, "get_world_size", lambda: 2)
    mine = MetricSums()
    mine.add("samples", 4)
    mine.add("kl_coef", 1.0)  # same count of values, another name: the sums would be silently wrong
    with pytest.raises(RuntimeError, match="different metric names"):
        mine.reduce(CPU)
