"""The reward ops on packed (padding-free) rows: `fused_reward_gae_packed`, `fused_reward_advantages_packed`.

Packed layout: the B responses' tokens one after another, token tensors [N] (N = total response
tokens), row r at positions cu_seqlens[r] : cu_seqlens[r + 1] (cu_seqlens [B + 1] int, 0 first,
N last, non-decreasing: an empty response is an empty range). Flash-attention's varlen convention.

An API module without backends of its own: the rows are scattered into the right-padded [B, T]
layout (T = the longest row), the padded op runs (the same checks, backends and semantics), and
its token outputs are gathered back to [N]. The scatter and gather are one indexed copy each,
O(N + B * T) memory traffic next to the op's own; the padded [B, T] ops stay the public default.
"""
from __future__ import annotations

import torch

from rltrain_kernels.checks import check_tensor
from rltrain_kernels.rewards.advantages import RewardAdvantages, fused_reward_advantages
from rltrain_kernels.rewards.gae import RewardGAE, fused_reward_gae

_INT_DTYPES = (torch.int32, torch.int64)


def check_cu_seqlens(op: str, cu_seqlens: object, total: int, device: torch.device) -> torch.Tensor:
    """cu_seqlens as int64 on `device`; ValueError naming it unless 1-D, integer, starting at 0,
    non-decreasing and ending at `total` (the packed token count)."""
    cu = check_tensor(op, "cu_seqlens", cu_seqlens, ndim=1, dtypes=_INT_DTYPES, device=device).long()
    if cu.numel() == 0:
        raise ValueError(f"{op}: `cu_seqlens` must hold B + 1 offsets (at least [0]), got an empty tensor")
    ends = cu.tolist()
    if ends[0] != 0 or ends[-1] != total or any(b < a for a, b in zip(ends, ends[1:])):
        raise ValueError(f"{op}: `cu_seqlens` must start at 0, never decrease and end at the {total} packed tokens, "
                         f"got {ends[:8]}{' ...' if len(ends) > 8 else ''}")
    return cu


def _index(cu: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(row [N], column [N] of each packed token in the padded layout, T = max(1, longest row))."""
    lengths = cu[1:] - cu[:-1]
    total = int(cu[-1])
    rows = torch.repeat_interleave(torch.arange(lengths.numel(), device=cu.device), lengths, output_size=total)
    cols = torch.arange(total, device=cu.device) - cu[:-1][rows]
    return rows, cols, max(1, int(lengths.max())) if lengths.numel() else 1


def unpack_tokens(x: torch.Tensor, cu_seqlens: torch.Tensor, fill: float | int | bool = 0) -> torch.Tensor:
    """[N, ...] packed -> [B, T, ...] right-padded with `fill` (T = max(1, longest row))."""
    rows, cols, width = _index(cu_seqlens.long())
    out = torch.full((cu_seqlens.numel() - 1, width, *x.shape[1:]), fill, dtype=x.dtype, device=x.device)
    out[rows, cols] = x
    return out


def pack_tokens(x: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
    """[B, T, ...] right-padded -> [N, ...] packed (the inverse of `unpack_tokens`)."""
    rows, cols, _ = _index(cu_seqlens.long())
    return x[rows, cols]


def _padded(op: str, token_ids, cu_seqlens, per_token: dict[str, torch.Tensor | None]):
    token_ids = check_tensor(op, "token_ids", token_ids, ndim=1)
    cu = check_cu_seqlens(op, cu_seqlens, token_ids.numel(), token_ids.device)
    for name, x in per_token.items():
        if x is not None:
            check_tensor(op, name, x, shape=(token_ids.numel(),), device=token_ids.device)
    mask = unpack_tokens(torch.ones_like(token_ids, dtype=torch.bool), cu, False)
    padded = {name: None if x is None else unpack_tokens(x, cu) for name, x in per_token.items()}
    return cu, unpack_tokens(token_ids, cu), mask, padded


@torch.no_grad()
def fused_reward_gae_packed(token_ids: torch.Tensor, cu_seqlens: torch.Tensor, values: torch.Tensor,
                            outcome: torch.Tensor, *, logprobs: torch.Tensor | None = None,
                            ref_logprobs: torch.Tensor | None = None, **options) -> RewardGAE:
    """`fused_reward_gae` on packed rows: token_ids, values, logprobs, ref_logprobs [N];
    cu_seqlens [B + 1]; outcome [B]; options (separator_ids, step_scores [B, K], shaping, eta,
    prm_coef, kl_coef, gamma, lam, backend) as `fused_reward_gae`.
    Returns RewardGAE with rewards / advantages / returns [N] float32, num_steps / process_return [B].
    Raises ValueError naming the argument (as `fused_reward_gae`, and for a bad cu_seqlens)."""
    op = "fused_reward_gae_packed"
    cu, ids, mask, padded = _padded(op, token_ids, cu_seqlens,
                                    dict(values=values, logprobs=logprobs, ref_logprobs=ref_logprobs))
    out = fused_reward_gae(ids, mask, padded["values"], outcome, logprobs=padded["logprobs"],
                           ref_logprobs=padded["ref_logprobs"], **options)
    return RewardGAE(pack_tokens(out.rewards, cu), pack_tokens(out.advantages, cu), pack_tokens(out.returns, cu),
                     out.num_steps, out.process_return)


@torch.no_grad()
def fused_reward_advantages_packed(token_ids: torch.Tensor, cu_seqlens: torch.Tensor, outcome: torch.Tensor, *,
                                   logprobs: torch.Tensor | None = None, ref_logprobs: torch.Tensor | None = None,
                                   **options) -> RewardAdvantages:
    """`fused_reward_advantages` on packed rows: token_ids, logprobs, ref_logprobs [N];
    cu_seqlens [B + 1]; outcome [B]; options (estimator, group_size, separator_ids, step_scores,
    shaping, ..., backend) as `fused_reward_advantages`.
    Returns RewardAdvantages with rewards / advantages / returns [N] float32, num_steps / process_return [B]."""
    op = "fused_reward_advantages_packed"
    cu, ids, mask, padded = _padded(op, token_ids, cu_seqlens, dict(logprobs=logprobs, ref_logprobs=ref_logprobs))
    out = fused_reward_advantages(ids, mask, outcome, logprobs=padded["logprobs"],
                                  ref_logprobs=padded["ref_logprobs"], **options)
    return RewardAdvantages(pack_tokens(out.rewards, cu), pack_tokens(out.advantages, cu),
                            pack_tokens(out.returns, cu), out.num_steps, out.process_return)
