"""Padding-free forwards: the rows of a micro-batch packed into one sequence.

    packed = pack_padded(input_ids, attention_mask)        # rows [b, S] right-padded -> [1, N]
    hidden = backbone(input_ids=packed.input_ids, use_cache=False, **packed.forward_kwargs()).last_hidden_state
    row r = hidden[0, packed.starts[r] : packed.starts[r] + length_r]

N = the rows' total length: nothing is padded. Position ids restart at 0 for every row, and the
row boundaries travel as flash-attention's varlen keywords (`cu_seq_lens_q / _k`, `max_length_q
/ _k`), which transformers hands to the attention function of every layer:
- flash_attention_* runs its varlen kernel on them (attention costs sum_r L_r^2);
- any other implementation is switched (`use_varlen_attention`) to `VARLEN_ATTENTION`, registered
  here: torch SDPA, causal, on each row's slice of the packed sequence (the same sum_r L_r^2; a
  dense block-diagonal mask would cost N^2); consecutive short rows share one call with a
  block-diagonal mask over at most CHUNK_TOKENS tokens, which saves calls on small models. Called with an attention mask (a padded batch) it is
  plain SDPA with that mask, so the model still runs padded batches.
Models whose attention is not plain causal attention (encoders, sliding windows, logit
soft-capping) are left as they are and run padded (`supports_varlen`, `is_causal_model`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

VARLEN_ATTENTION = "rltrain_varlen_sdpa"
CHUNK_TOKENS = 256  # rows shorter than this share SDPA calls (see `_chunks`)


@dataclass(frozen=True)
class PackedRows:
    """input_ids, position_ids: [1, N] int64; cu_seqlens: [b + 1] int32 (row starts, then N);
    max_length: the longest row."""

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    cu_seqlens: torch.Tensor
    max_length: int

    @property
    def starts(self) -> torch.Tensor:
        """[b] int64: each row's first position in the packed sequence."""
        return self.cu_seqlens[:-1].long()

    def forward_kwargs(self) -> dict:
        """The keywords a transformers backbone takes with `input_ids` for this packing (position ids and
        the varlen bounds; no attention mask)."""
        return dict(position_ids=self.position_ids, cu_seq_lens_q=self.cu_seqlens, cu_seq_lens_k=self.cu_seqlens,
                    max_length_q=self.max_length, max_length_k=self.max_length)


def _pack(tokens: torch.Tensor, lengths: torch.Tensor) -> PackedRows:
    """tokens [N]: the rows' tokens end to end; lengths [b] int64 (each >= 1)."""
    cu = torch.zeros(lengths.numel() + 1, dtype=torch.int32, device=tokens.device)
    torch.cumsum(lengths, 0, out=cu[1:])
    total = tokens.numel()
    first = torch.repeat_interleave(cu[:-1].long(), lengths, output_size=total)
    positions = torch.arange(total, device=tokens.device) - first
    return PackedRows(tokens.unsqueeze(0), positions.unsqueeze(0), cu, int(lengths.max()))


def pack_padded(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> PackedRows:
    """Pack right-padded rows: input_ids [b >= 1, S], attention_mask [b, S] (1 = token, each row's
    ones first, at least one per row). Raises ValueError otherwise."""
    valid = attention_mask.bool()
    lengths = valid.sum(1)
    expected = torch.arange(valid.shape[1], device=valid.device) < lengths[:, None]
    if valid.shape[0] == 0 or not torch.equal(valid, expected) or bool((lengths == 0).any()):
        raise ValueError("pack_padded: `attention_mask` must be right-padded (each row's ones first), with at "
                         "least one row and one token per row")
    return _pack(input_ids[valid], lengths)


def pack_lists(rows: Sequence[Sequence[int]], device: torch.device | str = "cpu") -> PackedRows:
    """Pack token-id lists (at least one, each non-empty)."""
    if not rows or any(len(r) == 0 for r in rows):
        raise ValueError("pack_lists: needs at least one row and one token per row")
    tokens = torch.tensor([t for r in rows for t in r], dtype=torch.long, device=device)
    return _pack(tokens, torch.tensor([len(r) for r in rows], dtype=torch.long, device=device))


def _varlen_sdpa(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                 attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                 **kwargs) -> tuple[torch.Tensor, None]:
    """query [1, H, N, D], key / value [1, H_kv, N, D] -> ([1, N, H, D], None): causal SDPA per row."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    cu = kwargs.get("cu_seq_lens_q")
    if cu is None or attention_mask is not None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    if query.shape[0] != 1:
        raise ValueError(f"{VARLEN_ATTENTION}: packed rows come as one sequence, got a batch of {query.shape[0]}")
    repeat = query.shape[1] // key.shape[1]
    if repeat > 1:  # grouped-query attention
        key, value = key.repeat_interleave(repeat, dim=1), value.repeat_interleave(repeat, dim=1)
    out = torch.empty_like(query)
    p = dropout if module.training else 0.0
    for a, b, mask in _chunks(tuple(cu.tolist()), str(query.device), CHUNK_TOKENS):
        q, k, v = query[:, :, a:b], key[:, :, a:b], value[:, :, a:b]
        out[:, :, a:b] = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                                                    is_causal=mask is None, scale=scaling)
    return out.transpose(1, 2).contiguous(), None


@functools.lru_cache(maxsize=16)
def _chunks(bounds: tuple[int, ...], device: str, limit: int) -> list[tuple[int, int, torch.Tensor | None]]:
    """Consecutive rows grouped into chunks of <= limit tokens (a longer row alone): (start, end,
    block-diagonal causal mask [c, c] bool, None for a single row). Short rows share one SDPA call
    (attention over <= limit^2 pairs) instead of one call each. Cached: every layer of a forward
    asks for the same bounds."""
    chunks, start, rows = [], bounds[0], []
    for a, b in zip(bounds, bounds[1:]):
        if rows and b - start > limit:
            chunks.append((start, a, rows))
            start, rows = a, []
        if b > a:
            rows.append(b - a)
    if rows:
        chunks.append((start, bounds[-1], rows))
    out = []
    for a, b, rows in chunks:
        if len(rows) == 1:
            out.append((a, b, None))
            continue
        segment = torch.repeat_interleave(torch.arange(len(rows), device=device), torch.tensor(rows, device=device))
        causal = torch.ones(b - a, b - a, dtype=torch.bool, device=device).tril()
        out.append((a, b, causal & (segment[:, None] == segment[None, :])))
    return out


def _varlen_mask(*args, **kwargs):
    """No mask for packed rows (the attention function reads the row bounds); SDPA's mask otherwise."""
    from transformers.masking_utils import sdpa_mask

    return None if kwargs.get("attention_mask") is None else sdpa_mask(*args, **kwargs)


def _register() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface

    AttentionInterface.register(VARLEN_ATTENTION, _varlen_sdpa)
    AttentionMaskInterface.register(VARLEN_ATTENTION, _varlen_mask)


def is_causal_model(model: nn.Module) -> bool:
    """Whether every attention module of `model` is causal (a decoder; an encoder such as BERT is not)."""
    flags = [m.is_causal for m in model.modules() if isinstance(getattr(m, "is_causal", None), bool)]
    return bool(flags) and all(flags)


def supports_varlen(config) -> bool:
    """Whether a model's attention config is plain attention (no sliding window, no soft-capping)."""
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None and any(t != "full_attention" for t in layer_types):
        return False
    if layer_types is None and getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return False
    return getattr(config, "attn_logit_softcapping", None) is None


def use_varlen_attention(model: nn.Module) -> bool:
    """Prepare every transformers model inside `model` for packed forwards: flash-attention stays,
    other implementations become VARLEN_ATTENTION. False (nothing changed) if one of them does not
    `supports_varlen`; the caller then runs padded."""
    from transformers import PreTrainedModel

    outer = [m for m in model.modules() if isinstance(m, PreTrainedModel)]
    outer = [m for m in outer if not any(m is not o and any(m is s for s in o.modules()) for o in outer)]
    if not outer or not all(supports_varlen(m.config) and is_causal_model(m) for m in outer):
        return False
    _register()
    for m in outer:
        if "flash" not in (m.config._attn_implementation or "") and m.config._attn_implementation != VARLEN_ATTENTION:
            m.set_attn_implementation(VARLEN_ATTENTION)
    return True
