"""Step segmentation: `segment_steps` and its torch reference.

A valid position t closes a step (is a boundary) iff it is the last valid position, or
token[t] is a separator and position t+1 is not a valid separator: each maximal run of
separators closes one step at its last token. step_index = boundaries strictly before t.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kernels.backend import resolve_backend
from kernels.checks import INT_DTYPES, MASK_DTYPES, as_separator_tensor, check_tensor

_OP = "segment_steps"


@dataclass(frozen=True)
class StepSegments:
    """step_index [B, T] int32 (-1 at padding), is_boundary [B, T] bool, num_steps [B] int32."""

    step_index: torch.Tensor
    is_boundary: torch.Tensor
    num_steps: torch.Tensor


def check_token_inputs(op: str, token_ids: object, mask: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate the [B, T] token ids and the right-padded mask shared by the step ops."""
    token_ids = check_tensor(op, "token_ids", token_ids, ndim=2, dtypes=INT_DTYPES)
    mask = check_tensor(op, "mask", mask, shape=token_ids.shape, dtypes=MASK_DTYPES,
                        device=token_ids.device)
    return token_ids, mask


def step_boundaries_torch(token_ids: torch.Tensor, valid: torch.Tensor,
                          separator_ids: torch.Tensor | None) -> torch.Tensor:
    """[B, T] bool boundary flags (torch reference). `valid` is the [B, T] bool mask."""
    next_valid = F.pad(valid[:, 1:], (0, 1), value=False)
    last_valid = valid & ~next_valid
    if separator_ids is None or separator_ids.numel() == 0:
        return last_valid
    is_sep = torch.isin(token_ids, separator_ids) & valid
    next_sep = F.pad(is_sep[:, 1:], (0, 1), value=False)
    return last_valid | (is_sep & ~next_sep)


def check_right_padded(op: str, valid: torch.Tensor) -> None:
    """Raise unless each row of `valid` is ones then zeros (one host sync)."""
    if valid.shape[1] > 1 and bool((valid[:, 1:] & ~valid[:, :-1]).any()):
        raise ValueError(f"{op}: `mask` must be right-padded (1 for the first L_b positions, 0 after)")


def segment_steps_torch(token_ids: torch.Tensor, valid: torch.Tensor,
                        separator_ids: torch.Tensor | None) -> StepSegments:
    boundary = step_boundaries_torch(token_ids, valid, separator_ids)
    b32 = boundary.to(torch.int32)
    before = torch.cumsum(b32, dim=1, dtype=torch.int32) - b32
    step_index = torch.where(valid, before, torch.full_like(before, -1))
    return StepSegments(step_index, boundary, b32.sum(dim=1, dtype=torch.int32))


def segment_steps(token_ids: torch.Tensor, mask: torch.Tensor, separator_ids, *,
                  backend: str = "auto") -> StepSegments:
    """Split each right-padded response into reasoning steps.

    token_ids [B, T] int, mask [B, T] (bool/int/float, nonzero = valid, right-padded),
    separator_ids 1-D int tensor or sequence of ints (may be empty: one step per response).
    Returns StepSegments(step_index [B, T] int32, is_boundary [B, T] bool, num_steps [B] int32).
    """
    token_ids, mask = check_token_inputs(_OP, token_ids, mask)
    sep = as_separator_tensor(_OP, separator_ids, token_ids.device)
    chosen = resolve_backend(backend, token_ids.device, _OP)
    if chosen == "triton":
        from kernels.segmentation_triton import segment_steps_triton

        out, gaps = segment_steps_triton(token_ids, mask, sep)
        if token_ids.shape[0] and bool(gaps.any()):
            raise ValueError(f"{_OP}: `mask` must be right-padded (1 for the first L_b positions, 0 after)")
        return out
    valid = mask != 0
    check_right_padded(_OP, valid)
    return segment_steps_torch(token_ids, valid, sep)
