"""What a reward-model format's loader receives and returns (`rltrain.config.reward_formats`).

A format's loader, `function(folder, tokenizer, role, options) -> ScorerParts`, builds the model
that scores tokens, the renderer that turns (prompt, steps) into its token rows and the read-out
that turns its numbers into scores; `rltrain.rewards.scorers` wraps them in a Process- or
OutcomeRewardScorer. `load_parts` imports a format's module only when the format is used.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from rltrain.config.reward_formats import REWARD_FORMATS


@dataclass(frozen=True)
class LoadOptions:
    """device / dtype of the model; attn_implementation; scalar_head: "sigmoid" | "raw", the score of a
    1-label classification head; step_tag / good_token / bad_token: a Math-Shepherd PRM's tokens;
    implicit_reference / implicit_beta: an implicit PRM's reference LM folder and beta;
    allow_download: fetch a Hub id named by an option (the reference LM)."""

    device: str | torch.device = "cpu"
    dtype: torch.dtype = torch.float32
    attn_implementation: str = "sdpa"
    scalar_head: str = "sigmoid"
    step_tag: str | None = None
    good_token: str | None = None
    bad_token: str | None = None
    implicit_reference: str | Path | None = None
    implicit_beta: float = 0.001
    allow_download: bool = False


@dataclass(frozen=True)
class ScorerParts:
    """model: a TokenScoreModel; renderer and readout: None for the scorer's defaults."""

    model: Any
    renderer: Any = None
    readout: Callable | None = None


def load_parts(fmt: str, folder: Path, tokenizer, role: str, options: LoadOptions) -> ScorerParts:
    """The parts of a `role` scorer for a folder of format `fmt`, by the format's registered loader."""
    module, _, function = REWARD_FORMATS[fmt].loader.partition(":")
    return getattr(importlib.import_module(module), function)(folder, tokenizer, role, options)
