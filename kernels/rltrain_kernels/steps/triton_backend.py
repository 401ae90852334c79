"""Triton backend of the step ops: the step-delimiter automaton block by block, and `segment`.

The building blocks (`step_states`, `row_masks`, the launch helpers) are shared with the reward
pass (rewards/triton_backend.py). Each token's table entry (steps/delimiter.py) holds its state map. Inside a block the
state BEFORE each token is an exclusive prefix scan of the maps (the previous token's map
loaded at offset - 1, the identity at the block's first position), applied to the state
carried in from the previous block; the state after the token is its own map applied once.
`simple` tables (constant or saturating-add maps) scan a packed int32 (add flag * 16 + value);
others compose 4-bit state maps packed in an int64.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from rltrain_kernels.options import MAX_STATES
from rltrain_kernels.scans.triton_backend import prefix_scan_states
from rltrain_kernels.steps.checks import not_right_padded
from rltrain_kernels.steps.delimiter import ADD_BIT, BLANK_BIT, CONTINUES_BIT, INTERNAL_SHIFT, StepDelimiter

INTERPRETED = bool(triton.knobs.runtime.interpret)
_MAP_MASK = tl.constexpr((1 << (4 * MAX_STATES)) - 1)
_IDENTITY = tl.constexpr(sum(s << (4 * s) for s in range(MAX_STATES)))
_INTERNAL = tl.constexpr(INTERNAL_SHIFT)
_CONTINUES = tl.constexpr(CONTINUES_BIT)
BLANK_FLAG = tl.constexpr(BLANK_BIT)
_ADD = tl.constexpr(ADD_BIT)


def as_loadable_mask(mask: torch.Tensor) -> torch.Tensor:
    """Bool masks are read as uint8 (same bytes, no copy)."""
    return mask.view(torch.uint8) if mask.dtype == torch.bool else mask


def row_major(x: torch.Tensor) -> torch.Tensor:
    return x if x.stride(-1) == 1 or x.numel() == 0 else x.contiguous()


def new_output(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Uninitialised output buffer; tests replace this to poison outputs before a launch."""
    return torch.empty(shape, dtype=dtype, device=device)


def block_size(T: int, cap: int = 1024) -> int:
    """Block length along T: one block for short rows; the interpreter prefers big blocks."""
    return max(16, min(triton.next_power_of_2(max(T, 1)), 4096 if INTERPRETED else cap))


def score_block_size(K: int) -> int:
    """Block length along the step-score columns of one row (min-form's suffix minimum)."""
    return max(16, min(triton.next_power_of_2(max(K, 1)), 1024))


def delimiter_args(delimiter: StepDelimiter, device: torch.device) -> tuple[torch.Tensor, int, int, bool]:
    """(table on device, table size, run state, simple) for a kernel launch."""
    table = delimiter.table_on(device)
    return table, table.numel(), delimiter.run_state, delimiter.simple


@triton.jit
def row_masks(mask_row, offs, T):
    """(valid, next_valid) int1 blocks for positions `offs` of one row."""
    valid = tl.load(mask_row + offs, mask=offs < T, other=0) != 0
    next_valid = tl.load(mask_row + offs + 1, mask=offs + 1 < T, other=0) != 0
    return valid, next_valid


@triton.jit
def step_states(tok_row, mask_row, table_ptr, table_size, run, offs, start, T, carry, SIMPLE: tl.constexpr,
                BLOCK: tl.constexpr):
    """One block of one row, `carry` = the state after position start - 1 (0 at the row start).

    Returns (valid, next_valid, run_end, nonblank, carry_out): int1 blocks, run_end = a step
    may end at this token (before the blank-tail rule); carry_out = the state after the block's
    last position (int32 scalar).
    """
    valid = tl.load(mask_row + offs, mask=offs < T, other=0) != 0
    next_valid = tl.load(mask_row + offs + 1, mask=offs + 1 < T, other=0) != 0
    prev_ok = valid & (offs > start)
    # ids outside the vocabulary (and -1 at masked lanes) read the table's last entry
    outside = table_size - 1
    tok = tl.load(tok_row + offs, mask=valid, other=-1)
    e = tl.load(table_ptr + tl.where((tok >= 0) & (tok < outside), tok, outside))
    tok = tl.load(tok_row + offs - 1, mask=prev_ok, other=-1)
    e_prev = tl.load(table_ptr + tl.where((tok >= 0) & (tok < outside), tok, outside))
    tok = tl.load(tok_row + offs + 1, mask=next_valid, other=-1)
    e_next = tl.load(table_ptr + tl.where((tok >= 0) & (tok < outside), tok, outside))
    if SIMPLE:
        code = (((e_prev >> _ADD) & 1) * 16 + (e_prev & 15)).to(tl.int32)
        prefix = prefix_scan_states(tl.where(prev_ok, code, 16), True, BLOCK)
        s_prev = tl.where((prefix & 16) != 0, tl.minimum(carry + (prefix & 15), run), prefix & 15)
        v = (e & 15).to(tl.int32)
        s_after = tl.where(((e >> _ADD) & 1) != 0, tl.minimum(s_prev + v, run), v)
    else:
        maps = tl.where(prev_ok, e_prev & _MAP_MASK, _IDENTITY)
        prefix = prefix_scan_states(maps, False, BLOCK)
        s_prev = ((prefix >> (4 * carry)) & 15).to(tl.int32)
        s_after = ((e >> (4 * s_prev)) & 15).to(tl.int32)
    internal = ((e >> (s_prev.to(tl.int64) + _INTERNAL)) & 1) != 0
    continued = next_valid & (((e_next >> _CONTINUES) & 1) != 0)
    run_end = valid & (internal | ((s_after == run) & (continued == 0)))
    nonblank = valid & (((e >> BLANK_FLAG) & 1) == 0)
    carry_out = tl.sum(tl.where(offs == start + BLOCK - 1, s_after, 0), 0)
    return valid, next_valid, run_end, nonblank, carry_out


@triton.jit
def _segment_kernel(tok_ptr, mask_ptr, table_ptr, table_size, run, step_ptr, bnd_ptr, nsteps_ptr, gaps_ptr,
                    T, stride_tok, stride_mask, stride_out, SIMPLE: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    tok_row = tok_ptr + row * stride_tok
    mask_row = mask_ptr + row * stride_mask
    gaps = tl.zeros((), dtype=tl.int32)
    last_nonblank = tl.full((), -1, dtype=tl.int32)
    for start in range(0, T, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        valid, next_valid = row_masks(mask_row, offs, T)
        tok = tl.load(tok_row + offs, mask=valid, other=-1)
        entry = tl.load(table_ptr + tl.where((tok >= 0) & (tok < table_size - 1), tok, table_size - 1))
        nonblank = valid & (((entry >> BLANK_FLAG) & 1) == 0)
        last_nonblank = tl.maximum(last_nonblank, tl.max(tl.where(nonblank, offs, -1), 0))
        gaps += tl.sum((next_valid & (valid == 0)).to(tl.int32), 0)

    before = tl.zeros((), dtype=tl.int32)
    carry = tl.zeros((), dtype=tl.int32)
    for start in range(0, T, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        valid, next_valid, run_end, nonblank, carry = step_states(
            tok_row, mask_row, table_ptr, table_size, run, offs, start, T, carry, SIMPLE, BLOCK)
        boundary = (run_end & (offs < last_nonblank)) | (valid & (next_valid == 0))
        b32 = boundary.to(tl.int32)
        step = before + tl.cumsum(b32, 0) - b32
        inb = offs < T
        tl.store(step_ptr + row * stride_out + offs, tl.where(valid, step, -1), mask=inb)
        tl.store(bnd_ptr + row * stride_out + offs, b32.to(tl.int8), mask=inb)
        before += tl.sum(b32, 0)
    tl.store(nsteps_ptr + row, before)
    tl.store(gaps_ptr + row, gaps)


def segment(op: str, token_ids: torch.Tensor, mask: torch.Tensor,
            delimiter: StepDelimiter) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`segment_steps` on checked inputs: one program per row, two forward passes in blocks (the
    first finds the row's last non-blank token, a step end counts only before it, and counts mask
    gaps; the second runs the automaton and writes the segments). Returns step_index [B, T] int32
    (-1 at padding), is_boundary [B, T] bool, num_steps [B] int32; ValueError (naming `op`) unless
    the mask is right-padded (one host sync)."""
    B, T = token_ids.shape
    dev = token_ids.device
    token_ids, mask = row_major(token_ids), row_major(as_loadable_mask(mask))
    table, table_size, run, simple = delimiter_args(delimiter, dev)
    step = new_output((B, T), torch.int32, dev)
    bnd = new_output((B, T), torch.int8, dev)
    nsteps = new_output((B,), torch.int32, dev)
    gaps = new_output((B,), torch.int32, dev)
    if B > 0:
        _segment_kernel[(B,)](token_ids, mask, table, table_size, run, step, bnd, nsteps, gaps,
                              T, token_ids.stride(0), mask.stride(0), T, SIMPLE=simple, BLOCK=block_size(T))
    if B > 0 and bool(gaps.any()):
        raise not_right_padded(op)
    return step, bnd.view(torch.bool), nsteps
