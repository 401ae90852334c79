"""The reward models' config: scalar-head names and `RewardScoringConfig` (the trainer's `reward.scoring`).

Plain data, no torch: the trainer's config (`rltrain.config.schema.RewardConfig`) embeds it and
validates it before any model loads. The formats are the rows of `rltrain.config.reward_formats`.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from rltrain.config.base import StrictModel

SCALAR_HEADS = ("sigmoid", "raw")
DEFAULT_IMPLICIT_BETA = 0.001  # EurusPRM's usage


class RewardScoringConfig(StrictModel):
    """How learned PRM / ORM checkpoints run inside the trainer: precision, micro-batch size, sharding."""

    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="reward-model parameter dtype (auto: bfloat16 on GPU, float32 on CPU)")
    token_budget: int = Field(16384, ge=1, description="tokens per reward-model micro-batch (real tokens when "
                                                       "packed, else padded; a longer row runs alone)")
    pack_sequences: bool = Field(True, description="padding-free scoring: each micro-batch's rows packed into one "
                                                   "sequence (not for the implicit PRM, which is scored padded)")
    shard: bool = Field(False, description="FSDP2-shard the reward models over the trainer's ranks, as the reference "
                                           "model is (each rank holds 1/world of the weights)")
