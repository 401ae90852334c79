"""Per-rank metric sums by name, summed over ranks in one all_reduce.

    sums = MetricSums()
    sums.add("samples", batch_size)                              # reported: the total over ranks
    sums.count("tokens", mask.sum())                             # reduced, not reported (a denominator)
    sums.mean("entropy", (entropy * mask).sum(), per="tokens")   # reported: total / max(total tokens, 1)
    reduced = sums.reduce(device)
    reduced.metrics["entropy"], reduced.totals["tokens"]

Every rank must declare the same names (in any order): `reduce` sends the totals in sorted-name
order and checks, in the same all_reduce, that every rank sent the same set of names.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch
import torch.distributed as dist

from rltrain.distributed.setup import all_reduce_sum

Number = float | int | torch.Tensor


@dataclass(frozen=True)
class Reduced:
    """totals: {name: sum over ranks} of every declared name; metrics: the reported values, in
    declaration order (`add` names as their totals, `mean` names as ratios)."""

    totals: dict[str, float]
    metrics: dict[str, float]


@dataclass(frozen=True)
class _Mean:
    per: str | float


class MetricSums:
    """Named float totals of one rank; see the module docstring."""

    def __init__(self) -> None:
        self._totals: dict[str, float] = {}
        self._reported: dict[str, _Mean | None] = {}

    def _declare(self, name: str, value: Number) -> None:
        if name in self._totals:
            raise ValueError(f"MetricSums: `{name}` is declared twice")
        self._totals[name] = float(value)

    def add(self, name: str, value: Number) -> None:
        """Report the total of `value` over ranks as `name`."""
        self._declare(name, value)
        self._reported[name] = None

    def count(self, name: str, value: Number) -> None:
        """Reduce `value` over ranks as `name` without reporting it (a denominator)."""
        self._declare(name, value)

    def mean(self, name: str, value: Number, *, per: str | float) -> None:
        """Report total(value) / max(denominator, 1) as `name`.

        per: the name of another total (e.g. "samples", "tokens"), or a number that every rank
        holds alike (used as it is, not summed).
        """
        self._declare(name, value)
        self._reported[name] = _Mean(per)

    def reduce(self, device: torch.device) -> Reduced:
        """Sum every total over ranks (float64, one all_reduce) and derive the reported metrics."""
        names = sorted(self._totals)
        check = float(zlib.crc32("\0".join(names).encode()))
        *summed, checks = all_reduce_sum([self._totals[n] for n in names] + [check], device)
        world = dist.get_world_size() if dist.is_initialized() else 1
        if checks != check * world:
            raise RuntimeError("MetricSums.reduce: the ranks declared different metric names")
        totals = dict(zip(names, summed))
        metrics = {}
        for name, how in self._reported.items():
            if how is None:
                metrics[name] = totals[name]
                continue
            if isinstance(how.per, str) and how.per not in totals:
                raise KeyError(f"MetricSums: `{name}` is a mean per `{how.per}`, which is not declared")
            den = totals[how.per] if isinstance(how.per, str) else how.per
            metrics[name] = totals[name] / max(den, 1)
        return Reduced(totals, metrics)
