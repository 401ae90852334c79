"""Step segmentation: `segment_steps` and its torch reference.

A valid position t closes a step (is a boundary) iff it is the last valid position, or
token[t] is a separator and position t+1 is not a valid separator: each maximal run of
separators closes one step at its last token. step_index = boundaries strictly before t.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

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


def valid_and_lengths(op: str, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """mask [B, T] -> (valid [B, T] uint8 0/1, lengths [B] int64); raises unless right-padded.

    Right-padded <=> the valid positions of a row sum to 0 + 1 + ... + (L - 1), the unique
    minimum for L ones: one matrix-vector product instead of a pass of comparisons.
    """
    valid = (mask if mask.dtype == torch.bool else mask != 0).view(torch.uint8)
    B, T = valid.shape
    exact = torch.float32 if T <= 4096 else torch.float64  # position sums stay below 2**24
    valid_f = valid.to(exact)
    length = valid_f.sum(1).double()
    position_sum = (valid_f @ torch.arange(T, dtype=exact, device=mask.device)).double()
    if B and T and bool((position_sum != length * (length - 1) / 2).any()):
        raise ValueError(f"{op}: `mask` must be right-padded (1 for the first L_b positions, 0 after)")
    return valid, length.to(torch.int64)


def step_boundaries_torch(token_ids: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor,
                          separator_ids: torch.Tensor | None) -> torch.Tensor:
    """[B, T] uint8 boundary flags (torch reference); `valid` [B, T] uint8, `lengths` [B]."""
    B, T = valid.shape
    boundary = torch.zeros_like(valid)
    if separator_ids is not None and separator_ids.numel() and valid.numel():
        flat = token_ids.reshape(-1)
        low, high = (int(x) for x in torch.aminmax(flat))
        shift = 1 if low < 0 else 0  # negative ids (padding such as -100) look up as "no separator"
        if shift:
            flat = flat.clamp(min=-1) + 1
        table = torch.zeros(max(int(separator_ids.max()), high) + 1 + shift, dtype=torch.uint8, device=valid.device)
        table[separator_ids + shift] = 1
        sep = table.index_select(0, flat).view(B, T) & valid
        torch.bitwise_and(sep[:, :-1], sep[:, 1:] ^ 1, out=boundary[:, :-1])
    rows = torch.nonzero(lengths > 0).squeeze(1)
    boundary[rows, lengths[rows] - 1] = 1
    return boundary


def segment_steps_torch(token_ids: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor,
                        separator_ids: torch.Tensor | None) -> StepSegments:
    boundary = step_boundaries_torch(token_ids, valid, lengths, separator_ids)
    inclusive = torch.cumsum(boundary, dim=1, dtype=torch.int32)
    step_index = (inclusive - boundary).masked_fill_(valid == 0, -1)
    return StepSegments(step_index, boundary.view(torch.bool), inclusive[:, -1].clone() if valid.shape[1]
                        else torch.zeros(valid.shape[0], dtype=torch.int32, device=valid.device))


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
    valid, lengths = valid_and_lengths(_OP, mask)
    return segment_steps_torch(token_ids, valid, lengths, sep)
