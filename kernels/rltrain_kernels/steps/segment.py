"""`segment_steps`: split right-padded responses into reasoning steps (checks, dispatch, result).

A valid position t closes a step (is a boundary) iff it is the last valid position, or the
step delimiter's automaton ends a step at t (steps/delimiter.py: where the response
text has the delimiter, however it was split into tokens; for a plain id set, the last token
of each maximal run of separator ids). step_index = boundaries strictly before t.
Backends: steps/torch_backend.py, steps/triton_backend.py (`segment`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from rltrain_kernels.dispatch import backend_module
from rltrain_kernels.steps.checks import as_step_delimiter, check_tokens_and_mask

_OP = "segment_steps"


@dataclass(frozen=True)
class StepSegments:
    """step_index [B, T] int32 (-1 at padding), is_boundary [B, T] bool, num_steps [B] int32."""

    step_index: torch.Tensor
    is_boundary: torch.Tensor
    num_steps: torch.Tensor


def segment_steps(token_ids: torch.Tensor, mask: torch.Tensor, separator_ids, *,
                  backend: str = "auto") -> StepSegments:
    """Split each right-padded response into reasoning steps.

    token_ids [B, T] int, mask [B, T] (bool/int/float, nonzero = valid, right-padded),
    separator_ids: a `StepDelimiter` (steps follow the text, however the tokenizer split it;
    `rltrain.data.separator_token_ids(tokenizer, "\n\n")` builds one), or a 1-D int tensor or
    sequence of ints (each maximal run of these ids closes one step; empty: one step per response).
    Returns StepSegments(step_index [B, T] int32, is_boundary [B, T] bool, num_steps [B] int32).
    Raises ValueError naming the argument for bad shapes, dtypes, a mask that is not right-padded.
    """
    token_ids, mask = check_tokens_and_mask(_OP, token_ids, mask)
    sep = as_step_delimiter(_OP, separator_ids)
    impl = backend_module("steps", backend, token_ids.device, _OP)
    return StepSegments(*impl.segment(_OP, token_ids, mask, sep))
