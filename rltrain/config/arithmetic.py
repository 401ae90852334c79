"""The built-in task's section (`data.arithmetic`): the generated problems' size (rltrain.tasks.arithmetic)."""
from __future__ import annotations

from pydantic import Field, model_validator

from rltrain.config.base import StrictModel, require


class ArithmeticConfig(StrictModel):
    """min_ops..max_ops operations on numbers in [1, max_operand]; multiplication operands
    are in [2, max_factor] so that results stay small."""

    min_ops: int = Field(2, ge=1, description="fewest operations (= solution steps) per problem")
    max_ops: int = Field(3, ge=1, description="most operations per problem (>= min_ops)")
    max_operand: int = Field(9, ge=1, description="largest start value and add / subtract operand")
    max_factor: int = Field(3, ge=2, description="largest multiplication operand (operands are 2..max_factor)")

    @model_validator(mode="after")
    def _ops_range(self) -> "ArithmeticConfig":
        require(self.min_ops <= self.max_ops, "min_ops",
                f"need min_ops <= max_ops, got min_ops={self.min_ops}, max_ops={self.max_ops}")
        return self
