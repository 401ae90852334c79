"""Checks shared by the policy-loss front ends (policy_loss/loss.py,
policy_loss/linear.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rltrain_kernels.checks import FLOAT_DTYPES, INT_DTYPES, MASK_DTYPES, check_finite_scalar, check_tensor
from rltrain_kernels.policy_loss.terms import PPOOptions


@dataclass(frozen=True)
class TokenInputs:
    """Validated per-token inputs flattened to N rows: targets [N] int64 (0 at masked
    rows and where out of range), old_logprobs / advantages / ref_logprobs [N] float32,
    valid [N] bool, normalizer 0-d float32 (> 0; a tensor passed in is checked by
    `check_policy_results`),
    bad_targets [N] bool (valid rows whose target was outside [0, V); see
    `check_policy_results`)."""

    targets: torch.Tensor
    old_logprobs: torch.Tensor
    advantages: torch.Tensor
    ref_logprobs: torch.Tensor | None
    valid: torch.Tensor
    normalizer: torch.Tensor
    bad_targets: torch.Tensor


def check_ppo_options(op: str, clip_low, clip_high, dual_clip, entropy_coef, kl_loss_coef, temperature,
                      has_ref: bool) -> PPOOptions:
    clip_low = check_finite_scalar(op, "clip_low", clip_low, low=0.0, high=1.0)
    clip_high = check_finite_scalar(op, "clip_high", clip_high, low=0.0)
    if dual_clip is not None:
        dual_clip = check_finite_scalar(op, "dual_clip", dual_clip)
        if dual_clip <= 1.0:
            raise ValueError(f"{op}: `dual_clip` must be > 1 (or None), got {dual_clip}")
    entropy_coef = check_finite_scalar(op, "entropy_coef", entropy_coef)
    kl_loss_coef = check_finite_scalar(op, "kl_loss_coef", kl_loss_coef)
    temperature = check_finite_scalar(op, "temperature", temperature)
    if temperature <= 0.0:
        raise ValueError(f"{op}: `temperature` must be > 0, got {temperature}")
    if kl_loss_coef != 0.0 and not has_ref:
        raise ValueError(f"{op}: `kl_loss_coef` = {kl_loss_coef} needs `ref_logprobs`")
    return PPOOptions(clip_low, clip_high, dual_clip, entropy_coef, kl_loss_coef, temperature)


def _normalizer(op: str, normalizer, valid: torch.Tensor) -> torch.Tensor:
    if normalizer is None:
        count = valid.sum(dtype=torch.float32)
        return torch.where(count > 0, count, torch.ones_like(count))
    if isinstance(normalizer, torch.Tensor):
        if normalizer.numel() != 1 or normalizer.dtype not in FLOAT_DTYPES + INT_DTYPES:
            raise ValueError(f"{op}: a tensor `normalizer` must hold one real number, got "
                             f"shape {tuple(normalizer.shape)} dtype {normalizer.dtype}")
        if normalizer.device != valid.device:
            raise ValueError(f"{op}: `normalizer` is on {normalizer.device} but the other inputs are on "
                             f"{valid.device}")
        return normalizer.detach().reshape(()).to(torch.float32)
    value = check_finite_scalar(op, "normalizer", normalizer)
    if value <= 0.0:
        raise ValueError(f"{op}: `normalizer` must be > 0, got {value}")
    return torch.tensor(value, dtype=torch.float32, device=valid.device)


def check_policy_token_inputs(op: str, lead: torch.Size, vocab: int, device: torch.device, targets,
                              old_logprobs, advantages, mask, ref_logprobs, normalizer) -> TokenInputs:
    """Validate the per-token tensors (shape `lead`) and flatten them, without a host
    sync: targets outside [0, vocab) at valid tokens are read as 0 by the kernels and
    reported by `check_policy_results` after them."""
    check_tensor(op, "targets", targets, shape=lead, dtypes=INT_DTYPES, device=device)
    check_tensor(op, "mask", mask, shape=lead, dtypes=MASK_DTYPES, device=device)
    named = {"old_logprobs": old_logprobs, "advantages": advantages, "ref_logprobs": ref_logprobs}
    flat = {}
    for name, x in named.items():
        if x is not None:
            check_tensor(op, name, x, shape=lead, dtypes=FLOAT_DTYPES, device=device)
            flat[name] = x.detach().reshape(-1).to(torch.float32).contiguous()
    valid = (mask != 0).reshape(-1)
    tgt = targets.reshape(-1).to(torch.int64)
    bad_targets = ((tgt < 0) | (tgt >= vocab)).logical_and_(valid)
    tgt = tgt.masked_fill(~valid | bad_targets, 0).contiguous()
    return TokenInputs(tgt, flat["old_logprobs"], flat["advantages"], flat.get("ref_logprobs"), valid,
                       _normalizer(op, normalizer, valid), bad_targets)


def check_policy_results(op: str, inputs: TokenInputs, vocab: int, logprobs: torch.Tensor,
                         logits_name: str) -> None:
    """Raise ValueError for the bad inputs the computation reveals (one host sync):
    a tensor `normalizer` that is not a finite number > 0 (it would flip the loss's sign or
    blow it up; a Python number was checked before the computation), targets outside
    [0, vocab), then valid rows whose target log-prob logprobs [N] is not finite: a -inf
    target logit, an all -inf row, or a +inf / NaN logit (after dividing by the
    temperature). -inf at other entries is a masked vocabulary, which is fine."""
    normalizer, bad_targets, bad_rows = torch.stack([
        inputs.normalizer.double(), inputs.bad_targets.sum().double(),
        (inputs.valid & ~torch.isfinite(logprobs)).sum().double()]).tolist()
    bad_targets, bad_rows = int(bad_targets), int(bad_rows)  # counts below 2**53: exact in float64
    if not (math.isfinite(normalizer) and normalizer > 0):
        raise ValueError(f"{op}: `normalizer` must be a finite number > 0, got {normalizer} (a tensor)")
    if bad_targets:
        raise ValueError(f"{op}: `targets` must lie in [0, {vocab}) at valid (mask != 0) positions")
    if bad_rows:
        raise ValueError(f"{op}: {logits_name} give a non-finite log-prob of the target at {bad_rows} valid "
                         "(mask != 0) position(s): a valid row needs a finite target logit and no +inf or NaN "
                         "logit (-inf elsewhere is allowed, probability 0)")
