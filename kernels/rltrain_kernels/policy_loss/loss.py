"""`ppo_policy_loss`: the fused PPO policy loss from logits (checks, dispatch, result type).

Semantics: ../shared/DESIGN.md "PPO policy loss"; the formula is spelled out in
policy_loss/torch_backend.py, the Triton backend is policy_loss/triton_backend.py (their
interface: policy_loss/terms.py). Gradients flow to `logits` only (the other inputs are data).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import torch

from rltrain_kernels.checks import FLOAT_DTYPES, check_tensor
from rltrain_kernels.dispatch import backend_module
from rltrain_kernels.policy_loss.checks import (TokenInputs, check_policy_results, check_policy_token_inputs,
                                   check_ppo_options)
from rltrain_kernels.policy_loss.terms import PPOOptions

_OP = "ppo_policy_loss"


@dataclass(frozen=True)
class PolicyLoss:
    """loss: 0-d float32 (differentiable; 0 when the mask is empty);
    logprobs, entropy: [...] float32; clipped: [...] bool (the clip or dual clip cut the
    policy gradient). The last three are detached and 0 / False at masked tokens."""

    loss: torch.Tensor
    logprobs: torch.Tensor
    entropy: torch.Tensor
    clipped: torch.Tensor


class _PolicyLossFn(torch.autograd.Function):
    """loss = sum_t loss_t / normalizer over logits [N, V]; saves per-token stats only."""

    @staticmethod
    def forward(ctx, logits, inputs: TokenInputs, opts: PPOOptions, impl: ModuleType, inplace: bool):
        terms = impl.ppo_terms(logits, inputs.targets, inputs.old_logprobs, inputs.advantages, inputs.valid,
                               inputs.ref_logprobs, opts)
        ctx.save_for_backward(logits)
        ctx.terms, ctx.targets, ctx.opts, ctx.impl = terms, inputs.targets, opts, impl
        ctx.normalizer, ctx.inplace = inputs.normalizer, inplace
        ctx.mark_non_differentiable(terms.logprobs, terms.entropy, terms.clipped)
        return terms.loss.sum() / inputs.normalizer, terms.logprobs, terms.entropy, terms.clipped

    @staticmethod
    def backward(ctx, grad_loss, *unused):
        (logits,) = ctx.saved_tensors
        scale = (grad_loss.float() / ctx.normalizer).contiguous()
        out = logits if ctx.inplace else None
        grad = ctx.impl.logits_grad(logits, ctx.targets, ctx.terms, scale, ctx.opts.temperature, out=out)
        if ctx.inplace:
            torch.autograd.graph.increment_version(logits)  # a later use of the old values fails loudly
        return grad, None, None, None, None


def ppo_policy_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    ref_logprobs: torch.Tensor | None = None,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    dual_clip: float | None = None,
    entropy_coef: float = 0.0,
    kl_loss_coef: float = 0.0,
    temperature: float = 1.0,
    normalizer: float | torch.Tensor | None = None,
    inplace_backward: bool = False,
    backend: str = "auto",
) -> PolicyLoss:
    """Clipped PPO policy loss (+ entropy bonus, + k3 KL to a reference) from logits.

    logits [..., V] float (bf16/fp16/fp32/fp64; math in float32). -inf logits are a masked
    vocabulary (padding rows, banned or top-k-filtered tokens): probability 0, gradient 0.
    At a valid token the target's logit must be finite and no logit +inf or NaN, else
    ValueError (an all -inf row is such a case); masked tokens' logits may hold anything.
    targets [...] int, the sampled token ids (only read where mask != 0); old_logprobs,
    advantages, ref_logprobs [...] float; mask [...] (nonzero = valid). normalizer: number
    or 1-element tensor, finite and > 0, else ValueError (default: the number of valid
    tokens, 1 if there are none), e.g. the global token count when accumulating gradients
    over micro-batches; a tensor is checked in the one host sync the call makes anyway,
    after the computation, so a bad one raises before any loss is returned.
    inplace_backward=True writes d logits into the logits buffer (saves one [..., V]
    tensor; logits must not be used after the backward).
    Returns PolicyLoss(loss 0-d, logprobs / entropy / clipped [...]).
    """
    check_tensor(_OP, "logits", logits, dtypes=FLOAT_DTYPES)
    if logits.dim() < 1 or logits.shape[-1] == 0:
        raise ValueError(f"{_OP}: `logits` must have shape [..., V] with V >= 1, got {tuple(logits.shape)}")
    lead, vocab = logits.shape[:-1], logits.shape[-1]
    opts = check_ppo_options(_OP, clip_low, clip_high, dual_clip, entropy_coef, kl_loss_coef, temperature,
                             ref_logprobs is not None)
    impl = backend_module("policy_loss", backend, logits.device, _OP)
    inputs = check_policy_token_inputs(_OP, lead, vocab, logits.device, targets, old_logprobs, advantages,
                                       mask, ref_logprobs, normalizer)
    rows = logits.reshape(-1, vocab)
    if rows.stride(-1) != 1:
        rows = rows.contiguous()
    loss, logp, entropy, clipped = _PolicyLossFn.apply(rows, inputs, opts, impl, bool(inplace_backward))
    check_policy_results(_OP, inputs, vocab, logp, "`logits`")
    return PolicyLoss(loss, logp.view(lead), entropy.view(lead), clipped.view(lead))
