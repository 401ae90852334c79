"""Triton backend of `segment_steps`: one program per row, two forward passes in blocks.

Pass 1 finds the row's last non-blank token (a step end counts only before it) and checks the
mask is right-padded; pass 2 runs the step-delimiter automaton and writes the segments.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.step_delimiter import StepDelimiter
from kernels.triton_steps import (BLANK_FLAG, as_loadable_mask, block_size, delimiter_args,
                                  new_output, row_major, row_masks, step_states)


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


def segment_steps_triton(token_ids: torch.Tensor, mask: torch.Tensor,
                         delimiter: StepDelimiter) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns step_index [B, T] int32 (-1 at padding), is_boundary [B, T] bool, num_steps [B]
    int32 and a [B] int32 count of mask gaps per row (nonzero = not right-padded)."""
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
    return step, bnd.view(torch.bool), nsteps, gaps
