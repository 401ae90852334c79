"""Reward models: the scoring contract (base), learned PRM / ORM scorers in several checkpoint
formats, and their training.

Names are imported on first use: `import rltrain.rewards` loads no torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "OutcomeRewardModel": "base", "ProcessRewardModel": "base", "ScoringBatch": "base", "build_scoring_batch": "base",
    "ORM_FORMATS": "formats", "PRM_FORMATS": "formats", "UnknownRewardModelError": "formats",
    "detect_format": "formats",
    "RenderConfig": "render", "Row": "render",
    "load_orm": "scorers", "load_prm": "scorers",
    "OutcomeRewardScorer": "scoring", "ProcessRewardScorer": "scoring",
    "MissingTokenError": "step_tag", "StepTagLM": "step_tag", "StepTagTokens": "step_tag",
    "MissingValueHeadError": "value_head", "ValueHead": "value_head", "ValueHeadModel": "value_head",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rltrain.rewards' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"rltrain.rewards.{home}"), name)
    globals()[name] = value
    return value
