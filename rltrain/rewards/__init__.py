"""Reward models: the scoring contract (base), learned PRM / ORM scorers, and their training."""
from rltrain.rewards.base import OutcomeRewardModel, ProcessRewardModel, ScoringBatch, build_scoring_batch

__all__ = ["OutcomeRewardModel", "ProcessRewardModel", "ScoringBatch", "build_scoring_batch"]
