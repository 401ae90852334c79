"""Triton backend of `segment_steps`: one program per row, one forward pass in blocks."""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.segmentation import StepSegments
from kernels.steps_triton import (as_loadable_mask, block_size, new_output, row_major, separator_table,
                                  step_boundaries)


@triton.jit
def _segment_kernel(tok_ptr, mask_ptr, table_ptr, table_size, step_ptr, bnd_ptr, nsteps_ptr, gaps_ptr,
                    T, stride_tok, stride_mask, stride_out, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    tok_row = tok_ptr + row * stride_tok
    mask_row = mask_ptr + row * stride_mask
    before = tl.zeros((), dtype=tl.int32)
    gaps = tl.zeros((), dtype=tl.int32)
    for start in range(0, T, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        valid, next_valid, boundary = step_boundaries(tok_row, mask_row, table_ptr, table_size, offs, T)
        b32 = boundary.to(tl.int32)
        step = before + tl.cumsum(b32, 0) - b32
        inb = offs < T
        tl.store(step_ptr + row * stride_out + offs, tl.where(valid, step, -1), mask=inb)
        tl.store(bnd_ptr + row * stride_out + offs, b32.to(tl.int8), mask=inb)
        before += tl.sum(b32, 0)
        gaps += tl.sum((next_valid & (valid == 0)).to(tl.int32), 0)
    tl.store(nsteps_ptr + row, before)
    tl.store(gaps_ptr + row, gaps)


def segment_steps_triton(token_ids: torch.Tensor, mask: torch.Tensor,
                         separator_ids: torch.Tensor) -> tuple[StepSegments, torch.Tensor]:
    """Returns the segments and a [B] int32 count of mask gaps (nonzero = not right-padded)."""
    B, T = token_ids.shape
    dev = token_ids.device
    token_ids, mask = row_major(token_ids), row_major(as_loadable_mask(mask))
    table = separator_table(separator_ids, dev)
    step = new_output((B, T), torch.int32, dev)
    bnd = new_output((B, T), torch.int8, dev)
    nsteps = new_output((B,), torch.int32, dev)
    gaps = new_output((B,), torch.int32, dev)
    if B > 0:
        _segment_kernel[(B,)](token_ids, mask, table, table.numel(), step, bnd, nsteps, gaps,
                              T, token_ids.stride(0), mask.stride(0), T, BLOCK=block_size(T))
    return StepSegments(step, bnd.view(torch.bool), nsteps), gaps
