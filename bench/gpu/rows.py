"""One line of the GPU check's table."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Row:
    """check: what was measured; value: the number (None = not measured); goal: the target as
    text; ok: whether the goal is met (None = no goal or not measured); detail: how / against what."""

    check: str
    value: float | None
    unit: str
    goal: str = ""
    ok: bool | None = None
    detail: str = ""

    def to_dict(self) -> dict:
        return asdict(self)
