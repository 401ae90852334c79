"""`WarmupConfig`: the supervised warm-up of the built-in task (`rltrain.tasks.builtin`), without torch."""
from __future__ import annotations

from pydantic import Field

from rltrain.config.base import FiniteFloat, StrictModel


class WarmupConfig(StrictModel):
    """Teacher forcing on reference solutions before RL (built-in task only): `steps` AdamW
    steps at `lr` (linear warm-up over the first 10 steps), `batch_size` problems per step."""

    steps: int = Field(0, ge=0, description="AdamW steps on reference solutions before RL (0 = off)")
    lr: FiniteFloat = Field(3e-3, gt=0, description="peak learning rate, per step")
    batch_size: int = Field(32, ge=1, description="reference solutions per step")
