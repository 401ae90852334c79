"""Reward models: the scoring contract (base), learned PRM / ORM scorers, and their training."""
from rltrain.rewards.base import OutcomeRewardModel, ProcessRewardModel, ScoringBatch, build_scoring_batch
from rltrain.rewards.render import RenderConfig, Row
from rltrain.rewards.scorers import OutcomeRewardScorer, ProcessRewardScorer, load_orm, load_prm
from rltrain.rewards.step_tag import MissingTokenError, StepTagLM, StepTagTokens
from rltrain.rewards.value_head import MissingValueHeadError, ValueHead, ValueHeadModel

__all__ = [
    "MissingTokenError",
    "MissingValueHeadError",
    "OutcomeRewardModel",
    "OutcomeRewardScorer",
    "ProcessRewardModel",
    "ProcessRewardScorer",
    "RenderConfig",
    "Row",
    "ScoringBatch",
    "StepTagLM",
    "StepTagTokens",
    "ValueHead",
    "ValueHeadModel",
    "build_scoring_batch",
    "load_orm",
    "load_prm",
]
