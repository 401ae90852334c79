"""How the numbers a token-logit model gives at a row's read positions become scores.

A `ReadOut` maps the values read at one row's positions ([n] float32) to that row's scores:
- `sigmoid`: a logit -> a probability in (0, 1). A value head's logit; a step-tag LM's
  logit("+") - logit("-") (= the 2-way softmax at "+"); a 2-label classifier's
  logit[1] - logit[0] (= the softmax probability of the positive label, label 1).
- `raw`: the number itself (a 1-label classifier read as a Bradley-Terry reward, e.g. Skywork-Reward).
- `step_differences`: the implicit PRM reads its running sum of beta * log-ratios at the
  prompt's last token and at each step's last token ([n_steps + 1] values); the score of
  step k is the sum over step k's tokens = the difference of consecutive reads ([n_steps]).
"""
from __future__ import annotations

from typing import Callable

import torch

from rltrain.config.reward_scoring import SCALAR_HEADS

ReadOut = Callable[[torch.Tensor], torch.Tensor]


def sigmoid(values: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(values)


def raw(values: torch.Tensor) -> torch.Tensor:
    return values


def step_differences(values: torch.Tensor) -> torch.Tensor:
    """[n + 1] running sums -> [n] increments (an empty row stays empty)."""
    return values[1:] - values[:-1] if values.numel() else values


def scalar_readout(name: str) -> ReadOut:
    """`reward.scalar_head`: how a 1-label classification head's logit becomes the score."""
    if name not in SCALAR_HEADS:
        raise ValueError(f"reward.scalar_head must be one of {SCALAR_HEADS}, got {name!r}")
    return sigmoid if name == "sigmoid" else raw
