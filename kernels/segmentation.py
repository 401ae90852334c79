"""`segment_steps`: split right-padded responses into reasoning steps (checks, dispatch, result).

A valid position t closes a step (is a boundary) iff it is the last valid position, or the
step delimiter's automaton ends a step at t (kernels/step_delimiter.py: where the response
text has the delimiter, however it was split into tokens; for a plain id set, the last token
of each maximal run of separator ids). step_index = boundaries strictly before t.
Backends: kernels/segmentation_torch.py, kernels/segmentation_triton.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from kernels.backend import resolve_backend
from kernels.checks import as_step_delimiter, check_tokens_and_mask, not_right_padded, valid_and_lengths

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
    if resolve_backend(backend, token_ids.device, _OP) == "triton":
        from kernels.segmentation_triton import segment_steps_triton

        step_index, is_boundary, num_steps, gaps = segment_steps_triton(token_ids, mask, sep)
        if token_ids.shape[0] and bool(gaps.any()):
            raise not_right_padded(_OP)
    else:
        from kernels.segmentation_torch import segment_steps_torch

        valid, lengths = valid_and_lengths(_OP, mask)
        step_index, is_boundary, num_steps = segment_steps_torch(token_ids, valid, lengths, sep)
    return StepSegments(step_index, is_boundary, num_steps)
