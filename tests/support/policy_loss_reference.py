"""Test helpers for the policy-loss ops: an independent float64 autograd computation of
DESIGN.md's formula, random inputs that hit every branch, and output-buffer poisoning."""
from __future__ import annotations

import math

import pytest
import torch

from rltrain_kernels.dispatch import triton_installed, triton_interpreting

needs_triton = pytest.mark.skipif(
    not (triton_installed() and triton_interpreting()),
    reason="Triton backend on CPU tensors needs the triton package and TRITON_INTERPRET=1 (no GPU in tests)",
)
BACKENDS = ["torch", pytest.param("triton", marks=needs_triton)]
FULL = dict(clip_low=0.2, clip_high=0.28, dual_clip=1.6, entropy_coef=0.03, kl_loss_coef=0.2, temperature=0.7)
PLAIN: dict = {}


def reference_loss(logits, targets, old_logprobs, advantages, mask, *, ref_logprobs=None, clip_low=0.2,
                   clip_high=0.2, dual_clip=None, entropy_coef=0.0, kl_loss_coef=0.0, temperature=1.0,
                   normalizer=None):
    """float64 DESIGN.md loss; logits [..., V] (autograd flows to it, upcast inside).

    Masked tokens are dropped before any arithmetic (their logits and per-token values may
    hold -inf / NaN); -inf logits elsewhere have p = 0 and p log p = 0.
    Returns (loss, logprobs, entropy, clipped); the last three detached, 0 / False at masked tokens.
    """
    valid = mask != 0
    z = torch.where(valid[..., None], logits.double(), 0.0) / temperature
    logp_all = torch.log_softmax(z, dim=-1)
    logp = logp_all.gather(-1, torch.where(valid, targets, 0).long()[..., None]).squeeze(-1)
    p = logp_all.exp()
    entropy = -(p * torch.where(p > 0, logp_all, 0.0)).sum(-1)
    adv = torch.where(valid, advantages.double(), 0.0)
    old_logprobs = torch.where(valid, old_logprobs.double(), 0.0)
    if ref_logprobs is not None:
        ref_logprobs = torch.where(valid, ref_logprobs.double(), 0.0)
    ratio = torch.exp(logp - old_logprobs)
    surrogate, surrogate_clipped = -adv * ratio, -adv * torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    pg = torch.maximum(surrogate, surrogate_clipped)
    clipped = surrogate_clipped > surrogate
    if dual_clip is not None:
        dual = (adv < 0) & (pg > -dual_clip * adv)
        pg = torch.where(adv < 0, torch.minimum(pg, -dual_clip * adv), pg)
        clipped = clipped | dual
    per_token = pg - entropy_coef * entropy
    if ref_logprobs is not None:
        diff = ref_logprobs.double() - logp
        per_token = per_token + kl_loss_coef * (torch.exp(diff) - diff - 1)
    total = torch.where(valid, per_token, torch.zeros_like(per_token)).sum()
    norm = float(valid.sum()) if normalizer is None else float(normalizer)
    loss = total / norm if norm > 0 else total * 0.0
    zero = torch.zeros_like(logp)
    return (loss, torch.where(valid, logp, zero).detach(), torch.where(valid, entropy, zero).detach(),
            clipped & valid)


def make_tokens(shape, vocab: int, logits_fn, *, temperature: float, seed: int, empty: bool = False):
    """Per-token inputs for logits = logits_fn() [..., V]: old log-probs at ratios in
    [exp(-0.8), exp(0.8)] (both clip sides and the dual clip), mixed-sign advantages,
    right-padded mask (targets -100 at padding, out of range on purpose)."""
    g = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, vocab, shape, generator=g)
    with torch.no_grad():
        logp = torch.log_softmax(logits_fn().double() / temperature, -1).gather(-1, targets[..., None])[..., 0]
    old = (logp - (torch.rand(shape, generator=g, dtype=torch.float64) * 1.6 - 0.8)).float()
    adv = torch.randn(shape, generator=g) * 1.5
    ref = (logp + 0.3 * torch.randn(shape, generator=g, dtype=torch.float64)).float()
    flat_len = math.prod(shape[:-1]) if len(shape) > 1 else 1
    lengths = torch.randint(shape[-1] // 2, shape[-1] + 1, (flat_len,), generator=g)
    mask = (torch.arange(shape[-1])[None, :] < lengths[:, None]).reshape(shape)
    if empty:
        mask = torch.zeros_like(mask)
    targets = torch.where(mask, targets, torch.full_like(targets, -100))
    return dict(targets=targets, old_logprobs=old, advantages=adv, mask=mask, ref_logprobs=ref)


def ban_vocab(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, seed: int) -> torch.Tensor:
    """A copy of logits [..., V] as a masked vocabulary gives them. Valid tokens: a random
    ~40% of the entries are -inf, in every third valid token all of them; never the
    target. Masked tokens: all -inf, and every other one also holds +inf and NaN."""
    g = torch.Generator().manual_seed(seed)
    vocab = logits.shape[-1]
    valid = mask.reshape(-1) != 0
    target = torch.nn.functional.one_hot(targets.reshape(-1).clamp(min=0), vocab).bool()
    only_target = valid & (valid.cumsum(0) % 3 == 0)
    banned = (torch.rand(valid.numel(), vocab, generator=g) < 0.4) | only_target[:, None]
    banned = (banned & ~target) | ~valid[:, None]
    out = logits.reshape(-1, vocab).masked_fill(banned, float("-inf"))
    garbage = ~valid & ((~valid).cumsum(0) % 2 == 0)
    out[garbage, 0], out[garbage, 1] = float("inf"), float("nan")
    return out.reshape(logits.shape)


def assert_hits_every_branch(tokens, logp, opts) -> None:
    """The case must clip on both sides and trigger the dual clip at valid tokens."""
    valid = tokens["mask"]
    ratio = torch.exp(logp.double() - tokens["old_logprobs"].double())
    adv = tokens["advantages"]
    high = valid & (adv > 0) & (ratio > 1 + opts.get("clip_high", 0.2))
    low = valid & (adv < 0) & (ratio < 1 - opts.get("clip_low", 0.2))
    assert high.any() and low.any()
    if opts.get("dual_clip"):
        assert (valid & (adv < 0) & (ratio > opts["dual_clip"])).any()


def assert_matches_reference(out, loss, logprobs, entropy, clipped) -> None:
    """A float32 PolicyLoss `out` against reference_loss's float64 results."""
    torch.testing.assert_close(out.loss.double(), loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.logprobs.double(), logprobs, rtol=1e-5, atol=2e-5)
    torch.testing.assert_close(out.entropy.double(), entropy, rtol=1e-5, atol=2e-5)
    assert torch.equal(out.clipped, clipped)


def assert_close_scaled(actual: torch.Tensor, expected: torch.Tensor, rel: float) -> None:
    """|actual - expected| <= rel * max|expected| elementwise (gradients, bf16 outputs)."""
    scale = float(expected.abs().max()) or 1.0
    err = float((actual.double() - expected.double()).abs().max())
    assert err <= rel * scale, f"max error {err:.3g} > {rel} * {scale:.3g}"


@pytest.fixture
def poisoned_empty(monkeypatch):
    """torch.empty / empty_like return NaN / nonzero-filled memory, so unwritten outputs show."""
    real_empty, real_like = torch.empty, torch.empty_like

    def poison(t: torch.Tensor) -> torch.Tensor:
        if t.numel():
            t.fill_(float("nan") if t.is_floating_point() else (True if t.dtype == torch.bool else 7))
        return t

    monkeypatch.setattr(torch, "empty", lambda *a, **k: poison(real_empty(*a, **k)))
    monkeypatch.setattr(torch, "empty_like", lambda *a, **k: poison(real_like(*a, **k)))
