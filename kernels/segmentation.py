"""Step segmentation: `segment_steps` and its torch reference.

A valid position t closes a step (is a boundary) iff it is the last valid position, or the
step delimiter's automaton ends a step at t (kernels/step_delimiter.py: where the response
text has the delimiter, however it was split into tokens; for a plain id set, the last token
of each maximal run of separator ids). step_index = boundaries strictly before t.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

import torch.nn.functional as F

from kernels.backend import resolve_backend
from kernels.checks import INT_DTYPES, MASK_DTYPES, as_step_delimiter, check_tensor
from kernels.step_delimiter import MAX_STATES, StepDelimiter

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


def _vocab_index(token_ids: torch.Tensor, delimiter: StepDelimiter) -> torch.Tensor:
    """[B * T] int64 table rows; ids outside [0, V) read the last row."""
    vocab = delimiter.vocab_size
    ids = token_ids.reshape(-1).to(torch.int64)
    if ids.numel() == 0:
        return ids
    low, high = (int(x) for x in torch.aminmax(ids))
    if low < 0 or high >= vocab:
        ids = ids.clamp(min=-1, max=vocab).masked_fill_(ids < 0, vocab)
    return ids


def _compose_maps(earlier: torch.Tensor, later: torch.Tensor, num_states: int) -> torch.Tensor:
    """Packed 4-bit state maps: (later after earlier)(s) = later(earlier(s))."""
    out = torch.zeros_like(earlier)
    for s in range(num_states):
        mid = (earlier >> (4 * s)) & 15
        out |= ((later >> (4 * mid)) & 15) << (4 * s)
    return out


def _states_after_simple(codes: torch.Tensor, run: int) -> torch.Tensor:
    """[B, T] int32 states after each token for constant / saturating-add maps:
    s_t = min(r_c + (adds after c up to t), run), c = the last constant map at or before t
    (with r = 0 before a row's first constant)."""
    value = (codes & 15).to(torch.int32)
    is_const = (codes & 16) == 0
    added = torch.cumsum(value * ~is_const, dim=1, dtype=torch.int32)
    hole = torch.zeros((), dtype=torch.int32) - (1 << 30)
    base = torch.where(is_const, value - added, hole)  # r_c - adds up to c, at each constant
    base[:, 0].masked_fill_(~is_const[:, 0], 0)  # the row start acts as a constant 0
    missing = ~is_const
    missing[:, 0] = False
    shift = 1
    while shift < base.shape[1] and bool(missing.any()):  # forward-fill the adds (a doubling scan)
        base = torch.where(missing, F.pad(base[:, :-shift], (shift, 0), value=-(1 << 30)), base)
        missing = base == hole
        shift *= 2
    return base.add_(added).clamp_(max=run)


def _states_after(index: torch.Tensor, codes: torch.Tensor, delimiter: StepDelimiter) -> torch.Tensor:
    """[B, T] int (uint8 or int32): the automaton's state after each token, from state 0."""
    if delimiter.constant_maps:
        return codes & 15
    if delimiter.simple:
        return _states_after_simple(codes, delimiter.run_state)
    maps = delimiter.table_on(codes.device).index_select(0, index).view(codes.shape)
    prefix = maps & ((1 << (4 * MAX_STATES)) - 1)
    shift = 1
    while shift < prefix.shape[1]:  # Hillis-Steele scan: log2(T) rounds of composition
        prefix = torch.cat([prefix[:, :shift], _compose_maps(prefix[:, :-shift], prefix[:, shift:],
                                                             delimiter.num_states)], dim=1)
        shift *= 2
    return (prefix & 15).to(torch.int32)


def step_boundaries_torch(token_ids: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor,
                          delimiter: StepDelimiter) -> torch.Tensor:
    """[B, T] uint8 boundary flags (torch reference); `valid` [B, T] uint8, `lengths` [B]."""
    B, T = valid.shape
    boundary = torch.zeros_like(valid)
    if valid.numel():
        index = _vocab_index(token_ids, delimiter)
        code_table, internal_table = delimiter.small_tables_on(valid.device)
        codes = code_table.index_select(0, index).view(B, T)
        after = _states_after(index, codes, delimiter)
        run_end = (after == delimiter.run_state).view(torch.uint8)
        continues = ((codes >> 5) & 1) & valid
        run_end[:, :-1] &= continues[:, 1:] ^ 1  # the next valid token does not continue the run
        if delimiter.has_internal_ends:
            before = F.pad(after[:, :-1].to(torch.int32), (1, 0))
            internal = (internal_table.index_select(0, index).view(B, T).to(torch.int32) >> before) & 1
            run_end |= internal.to(torch.uint8)
        boundary = run_end & valid
        if delimiter.has_blank_tokens:  # an end counts only before the row's last non-blank token
            position = torch.arange(1, T + 1, dtype=torch.int32, device=valid.device)  # t + 1
            nonblank = ((codes >> 6) ^ 1) & valid
            last_nonblank = (nonblank * position).amax(dim=1)  # t + 1 of the last non-blank token, or 0
            boundary &= position[None, :] <= last_nonblank[:, None] - 1
    rows = torch.nonzero(lengths > 0).squeeze(1)
    boundary[rows, lengths[rows] - 1] = 1
    return boundary


def segment_steps_torch(token_ids: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor,
                        delimiter: StepDelimiter) -> StepSegments:
    boundary = step_boundaries_torch(token_ids, valid, lengths, delimiter)
    inclusive = torch.cumsum(boundary, dim=1, dtype=torch.int32)
    step_index = (inclusive - boundary).masked_fill_(valid == 0, -1)
    return StepSegments(step_index, boundary.view(torch.bool), inclusive[:, -1].clone() if valid.shape[1]
                        else torch.zeros(valid.shape[0], dtype=torch.int32, device=valid.device))


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
    token_ids, mask = check_token_inputs(_OP, token_ids, mask)
    sep = as_step_delimiter(_OP, separator_ids)
    chosen = resolve_backend(backend, token_ids.device, _OP)
    if chosen == "triton":
        from kernels.segmentation_triton import segment_steps_triton

        out, gaps = segment_steps_triton(token_ids, mask, sep)
        if token_ids.shape[0] and bool(gaps.any()):
            raise ValueError(f"{_OP}: `mask` must be right-padded (1 for the first L_b positions, 0 after)")
        return out
    valid, lengths = valid_and_lengths(_OP, mask)
    return segment_steps_torch(token_ids, valid, lengths, sep)
