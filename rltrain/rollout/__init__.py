"""Rollout engines: the interface (`types.py`) and the built-in transformers engine."""
from rltrain.rollout.hf_engine import HFRolloutEngine, plan_batches
from rltrain.rollout.types import FINISH_REASONS, RolloutEngine, RolloutOutput, SamplingParams

__all__ = ["FINISH_REASONS", "HFRolloutEngine", "RolloutEngine", "RolloutOutput", "SamplingParams",
           "plan_batches"]
