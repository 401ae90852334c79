"""The interface between the policy-loss front ends and their backends.

A backend (policy_loss/torch_backend.py, policy_loss/triton_backend.py) provides, over rows
of logits [N, V]:

    ppo_terms(logits, targets, old_logprobs, advantages, valid, ref_logprobs, opts,
              grad_scale=None) -> TokenTerms      (with grad_scale: logits <- d loss / d logits)
    logits_grad(logits, targets, terms, grad_scale, temperature, out=None) -> d loss / d logits
    token_logprobs(logits, targets, valid, temperature) -> (logp, entropy)

The front ends (policy_loss/loss.py from logits, policy_loss/linear.py from hidden
states in chunks) validate the inputs and call these.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

NEG_LOGIT = -1.0e30  # finite "minus infinity" for z and log p: exp gives 0, 0 * NEG_LOGIT is 0


@dataclass(frozen=True)
class PPOOptions:
    """Scalar options of the policy loss (`rltrain_kernels.ppo_policy_loss`'s keyword arguments and
    the temperature); the op validates them."""

    clip_low: float = 0.2
    clip_high: float = 0.2
    dual_clip: float | None = None
    entropy_coef: float = 0.0
    kl_loss_coef: float = 0.0
    temperature: float = 1.0


@dataclass(frozen=True)
class TokenTerms:
    """Per-token results for N rows, all [N] float32 (0 at masked rows) but `clipped` [N] bool.

    loss: loss_t; logprobs, entropy: logp and H; clipped: pg gradient cut by a clip;
    lse: logsumexp(z); coef_logp, coef_entropy: d loss_t / d logp and d loss_t / d H.
    """

    loss: torch.Tensor
    logprobs: torch.Tensor
    entropy: torch.Tensor
    clipped: torch.Tensor
    lse: torch.Tensor
    coef_logp: torch.Tensor
    coef_entropy: torch.Tensor
