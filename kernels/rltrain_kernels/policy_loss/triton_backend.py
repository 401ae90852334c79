"""Triton backend of the PPO policy loss: the functions of policy_loss/terms.py.

Forward: each program takes BLOCK_N rows and streams their vocabulary once in BLOCK_V
columns, keeping per row the running max m, s = sum exp(z - m) and
t = sum exp(z - m) (z - m), so lse = m + log s and H = log s - t / s; the target logit is
one extra load. The PPO terms then run on per-row scalars and only per-token statistics
are written. The gradient pass reads the row again, recomputes p = exp(z - lse) and writes
d logits once; it runs in the backward kernel, or right after the statistics in the same
program when the caller wants loss and gradient together (the linear loss, in place).
Loads may be bf16 / fp16 / fp32 / fp64; accumulation is float32. As in the torch
backend, z and log p are raised to NEG_LOGIT before use, so -inf logits have p = 0 and
contribute exactly 0 to H and to the gradient; the target logit is used as loaded, so a
-inf target gives logp = -inf, which the public ops reject at valid rows.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from rltrain_kernels.policy_loss.terms import NEG_LOGIT, PPOOptions, TokenTerms

_NEG = tl.constexpr(NEG_LOGIT)


@triton.jit
def _grad_pass(logits_row, grad_row, in_rows, ok, tgt, lse, ent, c_logp, c_ent, mult, V, inv_temp,
               BLOCK_V: tl.constexpr):
    """grad = mult * d loss / d logits for BLOCK_N rows; rows in range but not ok get zeros."""
    for start in range(0, V, BLOCK_V):
        cols = start + tl.arange(0, BLOCK_V)
        in_cols = cols < V
        x = tl.load(logits_row[:, None] + cols[None, :], mask=ok[:, None] & in_cols[None, :], other=0.0)
        logp = tl.maximum(x.to(tl.float32) * inv_temp - lse[:, None], _NEG)
        p = tl.exp(logp)
        g = -p * (c_logp[:, None] + c_ent[:, None] * (logp + ent[:, None]))
        g = tl.where(cols[None, :] == tgt[:, None], g + c_logp[:, None], g)
        g = tl.where(ok[:, None], g * mult, 0.0)
        tl.store(grad_row[:, None] + cols[None, :], g.to(grad_row.dtype.element_ty),
                 mask=in_rows[:, None] & in_cols[None, :])


@triton.jit
def _fwd_kernel(logits_ptr, grad_ptr, targets_ptr, valid_ptr, old_ptr, adv_ptr, ref_ptr, scale_ptr,
                loss_ptr, logp_ptr, ent_ptr, lse_ptr, clipped_ptr, clogp_ptr, cent_ptr,
                N, V, stride_l, stride_g, inv_temp, clip_low, clip_high, dual_clip, entropy_coef, kl_coef,
                HAS_VALID: tl.constexpr, PPO: tl.constexpr, HAS_REF: tl.constexpr, HAS_DUAL: tl.constexpr,
                WRITE_GRAD: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_V: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    in_rows = rows < N
    ok = in_rows
    if HAS_VALID:
        ok = in_rows & (tl.load(valid_ptr + rows, mask=in_rows, other=0) != 0)
    logits_row = logits_ptr + rows.to(tl.int64) * stride_l
    tgt = tl.load(targets_ptr + rows, mask=ok, other=0)

    m = tl.full([BLOCK_N], _NEG, tl.float32)
    s = tl.zeros([BLOCK_N], tl.float32)
    t = tl.zeros([BLOCK_N], tl.float32)
    for start in range(0, V, BLOCK_V):
        cols = start + tl.arange(0, BLOCK_V)
        lmask = ok[:, None] & (cols < V)[None, :]
        x = tl.load(logits_row[:, None] + cols[None, :], mask=lmask, other=0.0)
        z = tl.maximum(x.to(tl.float32) * inv_temp, _NEG, propagate_nan=tl.PropagateNan.ALL)
        z = tl.where(lmask, z, _NEG)
        m_new = tl.maximum(m, tl.max(z, axis=1))
        alpha = tl.exp(m - m_new)
        zs = z - m_new[:, None]
        e = tl.exp(zs)
        t = alpha * (t + (m - m_new) * s) + tl.sum(e * zs, axis=1)
        s = alpha * s + tl.sum(e, axis=1)
        m = m_new
    log_s = tl.log(s)
    lse = tl.where(ok, m + log_s, 0.0)
    ent = tl.where(ok, log_s - t / s, 0.0)
    z_tgt = tl.load(logits_row + tgt, mask=ok, other=0.0).to(tl.float32) * inv_temp
    logp = tl.where(ok, z_tgt - lse, 0.0)
    tl.store(logp_ptr + rows, logp, mask=in_rows)
    tl.store(ent_ptr + rows, ent, mask=in_rows)
    tl.store(lse_ptr + rows, lse, mask=in_rows)

    if PPO:
        old = tl.load(old_ptr + rows, mask=ok, other=0.0)
        adv = tl.load(adv_ptr + rows, mask=ok, other=0.0)
        ratio = tl.exp(logp - old)
        pg_unclipped = -adv * ratio
        pg_clipped = -adv * tl.minimum(tl.maximum(ratio, 1.0 - clip_low), 1.0 + clip_high)
        clipped = pg_clipped > pg_unclipped
        pg = tl.where(clipped, pg_clipped, pg_unclipped)
        c_logp = tl.where(clipped, 0.0, pg_unclipped)
        if HAS_DUAL:
            cap = -dual_clip * adv
            dual = (adv < 0) & (pg > cap)
            pg = tl.where(dual, cap, pg)
            c_logp = tl.where(dual, 0.0, c_logp)
            clipped = clipped | dual
        loss = pg - entropy_coef * ent
        if HAS_REF:
            ref = tl.load(ref_ptr + rows, mask=ok, other=0.0)
            diff = ref - logp
            ediff = tl.exp(diff)
            loss += kl_coef * (ediff - diff - 1.0)
            c_logp += kl_coef * (1.0 - ediff)
        c_logp = tl.where(ok, c_logp, 0.0)
        c_ent = tl.where(ok, -entropy_coef, 0.0)
        tl.store(loss_ptr + rows, tl.where(ok, loss, 0.0), mask=in_rows)
        tl.store(clipped_ptr + rows, (ok & clipped).to(tl.int8), mask=in_rows)
        tl.store(clogp_ptr + rows, c_logp, mask=in_rows)
        tl.store(cent_ptr + rows, c_ent, mask=in_rows)
        if WRITE_GRAD:
            grad_row = grad_ptr + rows.to(tl.int64) * stride_g
            _grad_pass(logits_row, grad_row, in_rows, ok, tgt, lse, ent, c_logp, c_ent,
                       tl.load(scale_ptr) * inv_temp, V, inv_temp, BLOCK_V)


@triton.jit
def _bwd_kernel(logits_ptr, grad_ptr, targets_ptr, lse_ptr, ent_ptr, clogp_ptr, cent_ptr, scale_ptr,
                N, V, stride_l, stride_g, inv_temp, BLOCK_N: tl.constexpr, BLOCK_V: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    in_rows = rows < N
    c_logp = tl.load(clogp_ptr + rows, mask=in_rows, other=0.0)
    c_ent = tl.load(cent_ptr + rows, mask=in_rows, other=0.0)
    ok = in_rows & ((c_logp != 0.0) | (c_ent != 0.0))
    tgt = tl.load(targets_ptr + rows, mask=ok, other=0)
    lse = tl.load(lse_ptr + rows, mask=ok, other=0.0)
    ent = tl.load(ent_ptr + rows, mask=ok, other=0.0)
    _grad_pass(logits_ptr + rows.to(tl.int64) * stride_l, grad_ptr + rows.to(tl.int64) * stride_g, in_rows, ok,
               tgt, lse, ent, c_logp, c_ent, tl.load(scale_ptr) * inv_temp, V, inv_temp, BLOCK_V)


def _blocks(n: int, v: int, device: torch.device) -> tuple[int, int, int]:
    """(BLOCK_N, BLOCK_V, num_warps): one row a program on GPUs, small 2-D tiles in the
    interpreter (whose cost is per operation, not per element)."""
    if device.type == "cuda":
        return 1, min(4096, triton.next_power_of_2(v)), 8
    return min(16, triton.next_power_of_2(max(n, 1))), min(256, triton.next_power_of_2(v)), 1


def _row_major(x: torch.Tensor) -> torch.Tensor:
    return x if x.stride(-1) == 1 else x.contiguous()


def ppo_terms(logits: torch.Tensor, targets: torch.Tensor, old_logprobs: torch.Tensor,
              advantages: torch.Tensor, valid: torch.Tensor | None, ref_logprobs: torch.Tensor | None,
              opts: PPOOptions, grad_scale: torch.Tensor | None = None) -> TokenTerms:
    """As policy_loss_torch.ppo_terms: logits [N, V], per-token tensors [N] (float32,
    targets int64, valid bool or None); with grad_scale, logits is overwritten in place."""
    return _launch_fwd(logits, targets, valid, opts, (old_logprobs, advantages, ref_logprobs), grad_scale)


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor | None,
                   temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [N, V] -> (logp, entropy), [N] float32 each, 0 at masked rows."""
    terms = _launch_fwd(logits, targets, valid, PPOOptions(temperature=temperature), None, None)
    return terms.logprobs, terms.entropy


def _launch_fwd(logits, targets, valid, opts: PPOOptions, ppo_inputs, grad_scale) -> TokenTerms:
    logits = _row_major(logits)
    N, V = logits.shape
    dev = logits.device
    f32 = dict(dtype=torch.float32, device=dev)
    logp, ent, lse = (torch.empty(N, **f32) for _ in range(3))
    ppo = ppo_inputs is not None
    if ppo:
        old, adv, ref = ppo_inputs
        loss, c_logp, c_ent = (torch.empty(N, **f32) for _ in range(3))
        clipped = torch.empty(N, dtype=torch.int8, device=dev)
    else:
        old = adv = ref = loss = c_logp = c_ent = clipped = logp
    valid_arg = logp if valid is None else valid.view(torch.int8)
    scale = logp if grad_scale is None else grad_scale
    if N > 0:
        block_n, block_v, warps = _blocks(N, V, dev)
        _fwd_kernel[(triton.cdiv(N, block_n),)](
            logits, logits, targets, valid_arg, old, adv, logp if ref is None else ref, scale,
            loss, logp, ent, lse, clipped, c_logp, c_ent,
            N, V, logits.stride(0), logits.stride(0), 1.0 / opts.temperature, opts.clip_low, opts.clip_high,
            opts.dual_clip or 0.0, opts.entropy_coef, opts.kl_loss_coef,
            HAS_VALID=valid is not None, PPO=ppo, HAS_REF=ref is not None, HAS_DUAL=opts.dual_clip is not None,
            WRITE_GRAD=grad_scale is not None, BLOCK_N=block_n, BLOCK_V=block_v, num_warps=warps)
    if not ppo:
        return TokenTerms(None, logp, ent, None, lse, None, None)  # type: ignore[arg-type]
    return TokenTerms(loss, logp, ent, clipped.view(torch.bool), lse, c_logp, c_ent)


def logits_grad(logits: torch.Tensor, targets: torch.Tensor, terms: TokenTerms, grad_scale: torch.Tensor,
                temperature: float, out: torch.Tensor | None = None) -> torch.Tensor:
    """grad_scale * d(sum_t loss_t) / d logits, [N, V] in logits.dtype (into `out` if given)."""
    logits = _row_major(logits)
    N, V = logits.shape
    grad = torch.empty_like(logits) if out is None else out
    if N > 0:
        block_n, block_v, warps = _blocks(N, V, logits.device)
        _bwd_kernel[(triton.cdiv(N, block_n),)](
            logits, grad, targets, terms.lse, terms.entropy, terms.coef_logp, terms.coef_entropy, grad_scale,
            N, V, logits.stride(0), grad.stride(0), 1.0 / temperature,
            BLOCK_N=block_n, BLOCK_V=block_v, num_warps=warps)
    return grad
