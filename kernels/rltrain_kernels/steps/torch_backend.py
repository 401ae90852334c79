"""Torch reference of the step ops: the readable definition and the CPU fallback.

`segment` is `segment_steps`'s backend; `step_boundaries`, shared with the reward ops' torch
reference, marks where steps end (steps/delimiter.py: where the response text
has the delimiter, however it was split into tokens; for a plain id set, the last token of
each maximal run of separator ids; always the last valid token). The automaton's state after
each token is a prefix scan of per-token state maps: constant maps read off directly,
constant / saturating-add maps by a forward fill, general maps by a Hillis-Steele scan of
map compositions.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from rltrain_kernels.options import MAX_STATES
from rltrain_kernels.steps.checks import valid_and_lengths
from rltrain_kernels.steps.delimiter import StepDelimiter


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


def step_boundaries(token_ids: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor,
                    delimiter: StepDelimiter) -> torch.Tensor:
    """[B, T] uint8 boundary flags; `valid` [B, T] uint8 and `lengths` [B] from
    `steps.checks.valid_and_lengths`."""
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


def segment(op: str, token_ids: torch.Tensor, mask: torch.Tensor,
            delimiter: StepDelimiter) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """token_ids, mask [B, T] as checked by `segment_steps`. Returns step_index [B, T] int32 (-1
    at padding), is_boundary [B, T] bool, num_steps [B] int32; ValueError (naming `op`) unless
    the mask is right-padded."""
    valid, lengths = valid_and_lengths(op, mask)
    boundary = step_boundaries(token_ids, valid, lengths, delimiter)
    inclusive = torch.cumsum(boundary, dim=1, dtype=torch.int32)
    step_index = (inclusive - boundary).masked_fill_(valid == 0, -1)
    if valid.shape[1]:
        num_steps = inclusive[:, -1].clone()
    else:
        num_steps = torch.zeros(valid.shape[0], dtype=torch.int32, device=valid.device)
    return step_index, boundary.view(torch.bool), num_steps
