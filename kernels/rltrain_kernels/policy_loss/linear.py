"""PPO policy loss and log-probs from hidden states and the lm_head weight, in token chunks.

For each chunk of valid tokens: logits = hidden_chunk @ weight^T (torch matmul), the fused
loss+gradient step of the chosen backend overwrites that buffer with d loss / d logits,
then d hidden_chunk = dlogits @ weight and d weight += dlogits^T @ hidden_chunk. Only one
chunk of logits exists at a time. The gradients are computed in the forward (for a
gradient of 1 on the loss) and scaled by the incoming gradient in the backward.
An API module without backends of its own: each chunk goes through the policy-loss backends
(policy_loss/torch_backend.py, policy_loss/triton_backend.py; interface: policy_loss/terms.py).
"""
from __future__ import annotations

from types import ModuleType

import torch

from rltrain_kernels.checks import FLOAT_DTYPES, check_tensor
from rltrain_kernels.dispatch import backend_module
from rltrain_kernels.policy_loss.checks import (TokenInputs, check_policy_results, check_policy_token_inputs,
                                   check_ppo_options)
from rltrain_kernels.policy_loss.loss import PolicyLoss
from rltrain_kernels.policy_loss.terms import PPOOptions

_OP = "linear_ppo_policy_loss"
_OP_LOGPROBS = "linear_logprobs"
_LOGITS_NAME = "the logits `hidden` @ `weight`^T"
CHUNK_BUDGET_BYTES = {"cuda": 1 << 30, "cpu": 64 << 20}


def default_chunk_size(vocab: int, dtype: torch.dtype, device: torch.device) -> int:
    """Tokens per chunk so that the chunk's logits fit CHUNK_BUDGET_BYTES (both backends
    keep their float32 temporaries to small row blocks); a multiple of 256 when that large."""
    row_bytes = vocab * torch.empty((), dtype=dtype).element_size()
    rows = max(1, CHUNK_BUDGET_BYTES.get(device.type, CHUNK_BUDGET_BYTES["cuda"]) // row_bytes)
    return rows - rows % 256 if rows >= 256 else rows


def _check_linear(op: str, hidden, weight, chunk_size) -> tuple[torch.Tensor, int]:
    check_tensor(op, "hidden", hidden, dtypes=FLOAT_DTYPES)
    if hidden.dim() < 1:
        raise ValueError(f"{op}: `hidden` must have shape [..., H], got {tuple(hidden.shape)}")
    check_tensor(op, "weight", weight, ndim=2, dtypes=(hidden.dtype,), device=hidden.device)
    if weight.shape[1] != hidden.shape[-1] or weight.shape[0] == 0:
        raise ValueError(f"{op}: `weight` must have shape [V, {hidden.shape[-1]}] with V >= 1, "
                         f"got {tuple(weight.shape)}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                   or chunk_size < 1):
        raise ValueError(f"{op}: `chunk_size` must be a positive int or None, got {chunk_size!r}")
    return hidden.reshape(-1, hidden.shape[-1]), weight.shape[0]


def _chunks(valid: torch.Tensor, chunk: int) -> list[slice | torch.Tensor]:
    """The valid rows in chunks of at most `chunk`: slices when every row is valid, else
    index tensors (one host sync)."""
    rows = valid.nonzero().squeeze(1)
    if rows.numel() == valid.numel():
        return [slice(start, start + chunk) for start in range(0, rows.numel(), chunk)]
    return list(rows.split(chunk))


def _take(x: torch.Tensor, rows: slice | torch.Tensor) -> torch.Tensor:
    return x[rows] if isinstance(rows, slice) else x.index_select(0, rows)


class _LinearPolicyLossFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, inputs: TokenInputs, opts: PPOOptions, impl: ModuleType, chunk: int,
                grad_enabled: bool):
        N = hidden.shape[0]
        need_h, need_w = (grad_enabled and ctx.needs_input_grad[i] for i in (0, 1))
        f32 = dict(dtype=torch.float32, device=hidden.device)
        loss_sum = torch.zeros((), **f32)
        logp, entropy = torch.zeros(N, **f32), torch.zeros(N, **f32)
        clipped = torch.zeros(N, dtype=torch.bool, device=hidden.device)
        grad_h = torch.zeros_like(hidden) if need_h else None
        grad_w = torch.zeros_like(weight) if need_w else None
        scale = (1.0 / inputs.normalizer).contiguous() if need_h or need_w else None
        for rows in _chunks(inputs.valid, chunk):
            h = _take(hidden, rows)
            logits = h @ weight.T
            ref = None if inputs.ref_logprobs is None else inputs.ref_logprobs[rows]
            terms = impl.ppo_terms(logits, inputs.targets[rows], inputs.old_logprobs[rows],
                                   inputs.advantages[rows], None, ref, opts, grad_scale=scale)
            loss_sum += terms.loss.sum()
            logp[rows], entropy[rows], clipped[rows] = terms.logprobs, terms.entropy, terms.clipped
            if need_h and isinstance(rows, slice):
                torch.matmul(logits, weight, out=grad_h[rows])
            elif need_h:
                grad_h.index_copy_(0, rows, logits @ weight)
            if need_w:
                grad_w.addmm_(logits.T, h)
        ctx.save_for_backward(grad_h, grad_w)
        ctx.mark_non_differentiable(logp, entropy, clipped)
        return loss_sum / inputs.normalizer, logp, entropy, clipped

    @staticmethod
    def backward(ctx, grad_loss, *unused):
        grad_h, grad_w = ctx.saved_tensors
        if not torch.equal(grad_loss, torch.ones_like(grad_loss)):
            grad_h = None if grad_h is None else grad_h * grad_loss.to(grad_h.dtype)
            grad_w = None if grad_w is None else grad_w * grad_loss.to(grad_w.dtype)
        return grad_h, grad_w, None, None, None, None, None


def linear_ppo_policy_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
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
    chunk_size: int | None = None,
    backend: str = "auto",
) -> PolicyLoss:
    """`ppo_policy_loss` of logits = hidden @ weight^T, never materialising all logits.

    hidden [..., H] and weight [V, H] (the lm_head) share a float dtype; targets,
    old_logprobs, advantages, mask, ref_logprobs [...] and the keywords as in
    `rltrain_kernels.ppo_policy_loss`; chunk_size: tokens per chunk (default: from a memory
    budget, `default_chunk_size`). Gradients flow to hidden and weight; d weight is
    accumulated over chunks in weight.dtype. Masked tokens cost nothing. Logits of -inf
    (e.g. a float16 matmul overflowing) have probability 0 and gradient 0; at a valid
    token the target's logit must be finite and no logit +inf or NaN, else ValueError,
    as in `ppo_policy_loss`.
    """
    flat, vocab = _check_linear(_OP, hidden, weight, chunk_size)
    opts = check_ppo_options(_OP, clip_low, clip_high, dual_clip, entropy_coef, kl_loss_coef, temperature,
                             ref_logprobs is not None)
    impl = backend_module("policy_loss", backend, hidden.device, _OP)
    lead = hidden.shape[:-1]
    inputs = check_policy_token_inputs(_OP, lead, vocab, hidden.device, targets, old_logprobs, advantages,
                                       mask, ref_logprobs, normalizer)
    chunk = chunk_size or default_chunk_size(vocab, hidden.dtype, hidden.device)
    loss, logp, entropy, clipped = _LinearPolicyLossFn.apply(flat, weight, inputs, opts, impl, chunk,
                                                             torch.is_grad_enabled())
    check_policy_results(_OP, inputs, vocab, logp, _LOGITS_NAME)
    return PolicyLoss(loss, logp.view(lead), entropy.view(lead), clipped.view(lead))


@torch.no_grad()
def linear_logprobs(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, *,
                    temperature: float = 1.0, mask: torch.Tensor | None = None, chunk_size: int | None = None,
                    backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """No-grad log-probs and entropies of `targets` under softmax(hidden @ weight^T / temperature).

    hidden [..., H], weight [V, H], targets [...] int, mask [...] optional (nonzero = valid;
    masked tokens are skipped and get 0). Returns (logprobs, entropy), [...] float32 each.
    Logits are accepted as in `linear_ppo_policy_loss` (a -inf target logit: ValueError).
    """
    flat, vocab = _check_linear(_OP_LOGPROBS, hidden, weight, chunk_size)
    opts = check_ppo_options(_OP_LOGPROBS, 0.2, 0.2, None, 0.0, 0.0, temperature, False)
    impl = backend_module("policy_loss", backend, hidden.device, _OP_LOGPROBS)
    lead = hidden.shape[:-1]
    if mask is None:
        mask = torch.ones(lead, dtype=torch.bool, device=hidden.device)
    unused = torch.zeros(lead, dtype=torch.float32, device=hidden.device)
    inputs = check_policy_token_inputs(_OP_LOGPROBS, lead, vocab, hidden.device, targets, unused, unused,
                                       mask, None, None)
    chunk = chunk_size or default_chunk_size(vocab, hidden.dtype, hidden.device)
    logp, entropy = (torch.zeros(flat.shape[0], dtype=torch.float32, device=hidden.device) for _ in range(2))
    for rows in _chunks(inputs.valid, chunk):
        logits = _take(flat, rows) @ weight.T
        logp[rows], entropy[rows] = impl.token_logprobs(logits, inputs.targets[rows], None, opts.temperature)
    check_policy_results(_OP_LOGPROBS, inputs, vocab, logp, _LOGITS_NAME)
    return logp.view(lead), entropy.view(lead)
