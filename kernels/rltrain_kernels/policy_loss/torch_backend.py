"""Torch reference of the PPO policy loss: the readable definition and the CPU fallback.

Rows are tokens: logits [N, V], every other per-token tensor [N]. All math is float32.
With z = logits / temperature, p = softmax(z), lse = logsumexp(z):

    logp  = z[target] - lse                    H = lse - sum_k p_k z_k
    ratio = exp(logp - old_logp)
    pg    = max(-A ratio, -A clip(ratio, 1 - clip_low, 1 + clip_high))
            (dual clip c: pg = min(pg, -c A) where A < 0)
    k3    = exp(ref - logp) - (ref - logp) - 1
    loss_t = pg - entropy_coef H + kl_loss_coef k3        (0 at masked tokens)

The backward is written out instead of taped, so no [N, V] graph is kept; per token,
with c_logp = d loss_t / d logp and c_ent = d loss_t / d H:

    d loss_t / d z_k = c_logp (onehot_k - p_k) - c_ent p_k (log p_k + H)
    d loss_t / d logits = (d loss_t / d z) / temperature

-inf logits (a masked vocabulary) have p_k = 0: z and log p are raised to NEG_LOGIT
before use, so p_k log p_k and the gradient above are exactly 0 there instead of 0 * inf.
A row that is all -inf, has a +inf or NaN entry, or a -inf target logit gets a
non-finite logp; the public ops reject such valid rows, and rows with zero coefficients
(masked tokens) get a zero gradient whatever their logits hold.
"""
from __future__ import annotations

import torch

from rltrain_kernels.policy_loss.terms import NEG_LOGIT, PPOOptions, TokenTerms

_BLOCK_ELEMENTS = 1 << 17


def _row_blocks(n: int, vocab: int) -> list[slice]:
    """Row slices of about _BLOCK_ELEMENTS logits: each pass over a block stays in cache,
    which makes this ~2x faster on CPU than whole-tensor passes (at least one slice)."""
    rows = max(1, _BLOCK_ELEMENTS // max(vocab, 1))
    return [slice(start, start + rows) for start in range(0, max(n, 1), rows)]


def softmax_stats(logits: torch.Tensor, targets: torch.Tensor,
                  temperature: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """logits [N, V], targets [N] int64 -> (logp, entropy, lse), each [N] float32."""
    blocks = [_softmax_stats_block(logits[rows], targets[rows], temperature)
              for rows in _row_blocks(*logits.shape)]
    return tuple(torch.cat(parts) for parts in zip(*blocks))  # type: ignore[return-value]


def _softmax_stats_block(logits, targets, temperature):
    z = logits.float()
    if temperature != 1.0:
        z = z / temperature
    z_target = z.gather(-1, targets[:, None]).squeeze(-1)  # -inf stays: logp = -inf flags the row
    z = z.clamp(min=NEG_LOGIT) if z is logits else z.clamp_(min=NEG_LOGIT)  # never the caller's; NaN stays
    zmax = z.amax(dim=-1, keepdim=True)
    shifted = z - zmax
    e = torch.exp(shifted)
    total = e.sum(dim=-1)
    log_total = torch.log(total)
    entropy = log_total - torch.linalg.vecdot(e, shifted) / total
    lse = zmax.squeeze(-1) + log_total
    return z_target - lse, entropy, lse


def ppo_token_terms(logp: torch.Tensor, entropy: torch.Tensor, old_logprobs: torch.Tensor,
                    advantages: torch.Tensor, ref_logprobs: torch.Tensor | None,
                    valid: torch.Tensor | None, opts: PPOOptions) -> dict[str, torch.Tensor]:
    """The per-token PPO formula on [N] float32 inputs (valid: [N] bool or None = all).

    Returns loss, clipped, coef_logp, coef_entropy (masked), as in `TokenTerms`.
    """
    adv = advantages
    ratio = torch.exp(logp - old_logprobs)
    pg_unclipped = -adv * ratio
    pg_clipped = -adv * ratio.clamp(1.0 - opts.clip_low, 1.0 + opts.clip_high)
    clipped = pg_clipped > pg_unclipped
    pg = torch.where(clipped, pg_clipped, pg_unclipped)
    zero = torch.zeros_like(pg)
    coef_logp = torch.where(clipped, zero, pg_unclipped)
    if opts.dual_clip is not None:
        cap = -opts.dual_clip * adv
        dual = (adv < 0) & (pg > cap)
        pg = torch.where(dual, cap, pg)
        coef_logp = torch.where(dual, zero, coef_logp)
        clipped = clipped | dual
    loss = pg - opts.entropy_coef * entropy
    if ref_logprobs is not None:
        diff = ref_logprobs - logp
        ediff = torch.exp(diff)
        loss = loss + opts.kl_loss_coef * (ediff - diff - 1.0)
        coef_logp = coef_logp + opts.kl_loss_coef * (1.0 - ediff)
    coef_entropy = torch.full_like(pg, -opts.entropy_coef)
    if valid is not None:
        loss, coef_logp, coef_entropy = (torch.where(valid, x, zero) for x in (loss, coef_logp, coef_entropy))
        clipped = clipped & valid
    return {"loss": loss, "clipped": clipped, "coef_logp": coef_logp, "coef_entropy": coef_entropy}


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor | None,
                   temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [N, V] -> (logp, entropy), [N] float32 each, 0 at masked rows."""
    logp, entropy, _ = softmax_stats(logits, targets, temperature)
    if valid is not None:
        logp, entropy = logp.masked_fill(~valid, 0.0), entropy.masked_fill(~valid, 0.0)
    return logp, entropy


def ppo_terms(logits: torch.Tensor, targets: torch.Tensor, old_logprobs: torch.Tensor,
              advantages: torch.Tensor, valid: torch.Tensor | None, ref_logprobs: torch.Tensor | None,
              opts: PPOOptions, grad_scale: torch.Tensor | None = None) -> TokenTerms:
    """Forward of the loss over N rows; with `grad_scale` (0-d float32), also overwrite
    `logits` with grad_scale * d(sum_t loss_t) / d logits (the fused loss+grad step)."""
    logp, entropy, lse = softmax_stats(logits, targets, opts.temperature)
    terms = ppo_token_terms(logp, entropy, old_logprobs, advantages, ref_logprobs, valid, opts)
    if valid is not None:
        logp, entropy = logp.masked_fill(~valid, 0.0), entropy.masked_fill(~valid, 0.0)
    out = TokenTerms(logprobs=logp, entropy=entropy, lse=lse, **terms)
    if grad_scale is not None:
        logits_grad(logits, targets, out, grad_scale, opts.temperature, out=logits)
    return out


def logits_grad(logits: torch.Tensor, targets: torch.Tensor, terms: TokenTerms, grad_scale: torch.Tensor,
                temperature: float, out: torch.Tensor | None = None) -> torch.Tensor:
    """grad_scale * d(sum_t loss_t) / d logits, [N, V] in logits.dtype (into `out` if given).

    Rows whose two coefficients are 0 (masked tokens) get 0 without their logits, lse or
    entropy being used; other rows need the true lse and a finite entropy.
    """
    out = torch.empty_like(logits) if out is None else out
    active = (terms.coef_logp != 0) | (terms.coef_entropy != 0)
    lse, entropy = terms.lse.where(active, 0.0), terms.entropy.where(active, 0.0)
    for rows in _row_blocks(*logits.shape):
        g = torch.where(active[rows, None], logits[rows], 0.0).to(torch.float32)
        if temperature != 1.0:
            g.div_(temperature)
        g.sub_(lse[rows, None]).clamp_(min=NEG_LOGIT)  # log p
        p = torch.exp(g)
        g.add_(entropy[rows, None]).mul_(terms.coef_entropy[rows, None]).add_(terms.coef_logp[rows, None])
        g.mul_(p).neg_()
        g.scatter_add_(1, targets[rows, None], terms.coef_logp[rows, None])
        out[rows] = g.mul_(grad_scale / temperature)
    return out
