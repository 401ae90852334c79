"""Triton building blocks shared by the step kernels: separator lookup and boundary test."""
from __future__ import annotations

import torch
import triton
import triton.language as tl

INTERPRETED = bool(triton.knobs.runtime.interpret)
_TABLES: dict[tuple, torch.Tensor] = {}


def separator_table(separator_ids: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    """uint8 lookup table [max_id + 1] with 1 at every separator id ([1] of zeros if none).

    A table makes the separator test one gather per token whatever the size of the set
    (a tokenizer can have hundreds of tokens ending in a blank line). Cached per set.
    """
    ids = () if separator_ids is None else tuple(separator_ids.tolist())
    key = (device, ids)
    table = _TABLES.get(key)
    if table is None:
        table = torch.zeros(max(ids, default=0) + 1, dtype=torch.uint8)
        if ids:
            table[list(ids)] = 1
        table = table.to(device)
        if len(_TABLES) > 64:
            _TABLES.clear()
        _TABLES[key] = table
    return table


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


@triton.jit
def is_separator(tok, table_ptr, table_size):
    inside = (tok >= 0) & (tok < table_size)
    return tl.load(table_ptr + tok, mask=inside, other=0) != 0


@triton.jit
def step_boundaries(tok_row, mask_row, table_ptr, table_size, offs, T):
    """For positions `offs` of one row: (valid, next_valid, boundary) as int1 blocks."""
    inb = offs < T
    nxt = offs + 1
    nxt_inb = nxt < T
    valid = tl.load(mask_row + offs, mask=inb, other=0) != 0
    next_valid = tl.load(mask_row + nxt, mask=nxt_inb, other=0) != 0
    tok = tl.load(tok_row + offs, mask=valid, other=-1)
    next_tok = tl.load(tok_row + nxt, mask=next_valid, other=-1)
    sep = is_separator(tok, table_ptr, table_size) & valid
    next_sep = is_separator(next_tok, table_ptr, table_size) & next_valid
    boundary = valid & ((next_valid == 0) | (sep & (next_sep == 0)))
    return valid, next_valid, boundary
