"""rltrain_kernels.linear_ppo_policy_loss / linear_logprobs: both backends against float64 autograd."""
from __future__ import annotations

import pytest
import torch

from rltrain_kernels import linear_logprobs, linear_ppo_policy_loss
from rltrain_kernels.policy_loss import torch_backend as policy_loss_torch
from policy_loss_reference import (BACKENDS, FULL, assert_close_scaled, assert_hits_every_branch,
                                   assert_matches_reference, make_tokens, poisoned_empty,  # noqa: F401 (fixture)
                                   reference_loss)

SHAPE, HIDDEN, VOCAB = (3, 11), 16, 333


def _case(seed: int, dtype=torch.float32, empty: bool = False):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(*SHAPE, HIDDEN, generator=g).to(dtype)
    weight = (torch.randn(VOCAB, HIDDEN, generator=g) * 0.6).to(dtype)
    tokens = make_tokens(SHAPE, VOCAB, lambda: hidden.double() @ weight.double().T,
                         temperature=FULL["temperature"], seed=seed, empty=empty)
    return hidden, weight, tokens


def _banned_case(seed: int):
    """Features 0 and 1 of every hidden state are 1, and a random 2/3 of the tokens that
    are no valid target get logits far below the rest: weight -3e38 in both features
    overflows to -inf in the float32 matmul (returned: those ids), -1e30 and -1e4 in
    feature 0 give finite logits of probability 0."""
    hidden, weight, tokens = _case(seed)
    hidden[..., :2] = 1.0
    free = torch.ones(VOCAB, dtype=torch.bool)
    free[tokens["targets"][tokens["mask"]]] = False
    ids = free.nonzero().squeeze(1)
    ids = ids[torch.randperm(ids.numel(), generator=torch.Generator().manual_seed(seed))]
    overflow, tiny, small = ids[: ids.numel() * 2 // 3].tensor_split(3)
    weight[overflow, :2] = -3e38
    weight[tiny, 0], weight[small, 0] = -1e30, -1e4
    tokens = make_tokens(SHAPE, VOCAB, lambda: hidden.double() @ weight.double().T,
                         temperature=FULL["temperature"], seed=seed)  # the same targets and mask
    return hidden, weight, tokens, overflow


def _run(hidden, weight, tokens, backend, grad_scale=1.5, **extra):
    h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    out = linear_ppo_policy_loss(h, w, **tokens, **FULL, backend=backend, **extra)
    (out.loss * grad_scale).backward()
    return out, h.grad, w.grad


def _reference(hidden, weight, tokens, grad_scale=1.5, **extra):
    h, w = hidden.double().requires_grad_(), weight.double().requires_grad_()
    loss, logp, entropy, clipped = reference_loss(h @ w.T, **tokens, **FULL, **extra)
    (loss * grad_scale).backward()
    return loss.detach(), logp, entropy, clipped, h.grad, w.grad


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("chunk_size", [None, 7])
def test_matches_float64(backend, chunk_size, poisoned_empty, monkeypatch):
    monkeypatch.setattr(policy_loss_torch, "_BLOCK_ELEMENTS", 1000)  # several row blocks
    hidden, weight, tokens = _case(seed=11)
    out, grad_h, grad_w = _run(hidden, weight, tokens, backend, chunk_size=chunk_size)
    loss, logp, entropy, clipped, ref_h, ref_w = _reference(hidden, weight, tokens)
    assert_hits_every_branch(tokens, logp, FULL)
    assert out.logprobs.shape == out.entropy.shape == out.clipped.shape == SHAPE
    assert_matches_reference(out, loss, logp, entropy, clipped)
    assert_close_scaled(grad_h, ref_h, 1e-5)
    assert_close_scaled(grad_w, ref_w, 1e-5)
    assert torch.all(grad_h[~tokens["mask"]] == 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_neg_inf_and_huge_negative_logits_match_float64(backend, poisoned_empty, monkeypatch):
    monkeypatch.setattr(policy_loss_torch, "_BLOCK_ELEMENTS", 1000)
    hidden, weight, tokens, overflow = _banned_case(seed=20)
    assert torch.all((hidden @ weight.T)[..., overflow] == float("-inf"))
    out, grad_h, grad_w = _run(hidden, weight, tokens, backend, chunk_size=7)
    loss, logp, entropy, clipped, ref_h, ref_w = _reference(hidden, weight, tokens)
    for x in (out.loss, out.logprobs, out.entropy, grad_h, grad_w, loss, logp, entropy, ref_h, ref_w):
        assert torch.isfinite(x).all()
    assert_hits_every_branch(tokens, logp, FULL)
    assert_matches_reference(out, loss, logp, entropy, clipped)
    assert_close_scaled(grad_h, ref_h, 1e-5)
    assert_close_scaled(grad_w, ref_w, 1e-5)
    assert torch.all(grad_w[overflow] == 0)
    scored = linear_logprobs(hidden, weight, tokens["targets"], temperature=FULL["temperature"],
                             mask=tokens["mask"], chunk_size=5, backend=backend)
    torch.testing.assert_close(scored[0].double(), logp, rtol=1e-5, atol=2e-5)
    torch.testing.assert_close(scored[1].double(), entropy, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value", [-3e38, 3e38], ids=["target -inf", "+inf"])
def test_non_finite_target_logprob_raises(backend, value):
    hidden, weight, tokens = _case(seed=21)
    hidden[..., :2] = 1.0
    target = int(tokens["targets"][0, 0])  # position 0 is always valid
    weight[target if value < 0 else (target + 1) % VOCAB, :2] = value
    message = r"the logits `hidden` @ `weight`\^T give a non-finite log-prob of the target"
    with pytest.raises(ValueError, match=message):
        linear_ppo_policy_loss(hidden, weight, **tokens, **FULL, backend=backend)
    with pytest.raises(ValueError, match=message):
        linear_logprobs(hidden, weight, tokens["targets"], mask=tokens["mask"], backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_tokens_valid(backend, poisoned_empty):
    hidden, weight, tokens = _case(seed=19)
    tokens["mask"] = torch.ones(SHAPE, dtype=torch.int64)
    tokens["targets"] = tokens["targets"].clamp(min=0)
    out, grad_h, grad_w = _run(hidden, weight, tokens, backend, chunk_size=8)
    loss, logp, _, _, ref_h, ref_w = _reference(hidden, weight, tokens)
    torch.testing.assert_close(out.loss.double(), loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.logprobs.double(), logp, rtol=1e-5, atol=2e-5)
    assert_close_scaled(grad_h, ref_h, 1e-5)
    assert_close_scaled(grad_w, ref_w, 1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_mask_gives_zero_not_nan(backend, poisoned_empty):
    hidden, weight, tokens = _case(seed=12, empty=True)
    out, grad_h, grad_w = _run(hidden, weight, tokens, backend)
    assert out.loss.item() == 0.0
    assert torch.all(grad_h == 0) and torch.all(grad_w == 0)
    assert torch.all(out.logprobs == 0) and torch.all(out.entropy == 0) and not out.clipped.any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_normalizer_over_micro_batches_equals_one_batch(backend):
    hidden, weight, tokens = _case(seed=13)
    whole, whole_h, whole_w = _run(hidden, weight, tokens, backend, grad_scale=1.0)
    count = int(tokens["mask"].sum())
    w = weight.clone().requires_grad_()
    loss_sum, grads_h = 0.0, []
    for rows in (slice(0, 2), slice(2, 3)):
        h = hidden[rows].clone().requires_grad_()
        part = {k: v[rows] for k, v in tokens.items()}
        out = linear_ppo_policy_loss(h, w, **part, **FULL, normalizer=count, chunk_size=5, backend=backend)
        out.loss.backward()  # accumulates into w.grad
        loss_sum = loss_sum + out.loss
        grads_h.append(h.grad)
    torch.testing.assert_close(loss_sum, whole.loss, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(torch.cat(grads_h), whole_h, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(w.grad, whole_w, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bf16_inputs(backend):
    hidden, weight, tokens = _case(seed=14, dtype=torch.bfloat16)
    out, grad_h, grad_w = _run(hidden, weight, tokens, backend, chunk_size=8)
    loss, logp, entropy, _, ref_h, ref_w = _reference(hidden, weight, tokens)
    assert grad_h.dtype == grad_w.dtype == torch.bfloat16
    # the chunk logits are a bf16 matmul output: bf16 rounding of logits (~0.4% of |logit|)
    torch.testing.assert_close(out.loss.double(), loss, rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(out.logprobs.double(), logp, rtol=2e-2, atol=5e-2)
    torch.testing.assert_close(out.entropy.double(), entropy, rtol=2e-2, atol=5e-2)
    assert_close_scaled(grad_h, ref_h, 3e-2)
    assert_close_scaled(grad_w, ref_w, 3e-2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_to_hidden_only_and_no_grad_mode(backend):
    hidden, weight, tokens = _case(seed=15)
    h = hidden.clone().requires_grad_()
    out = linear_ppo_policy_loss(h, weight, **tokens, **FULL, chunk_size=9, backend=backend)
    out.loss.backward()
    _, _, _, _, ref_h, _ = _reference(hidden, weight, tokens, grad_scale=1.0)
    assert_close_scaled(h.grad, ref_h, 1e-5)
    with torch.no_grad():
        out = linear_ppo_policy_loss(h, weight, **tokens, **FULL, backend=backend)
    assert not out.loss.requires_grad


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("masked", [False, True])
def test_linear_logprobs(backend, masked, poisoned_empty):
    hidden, weight, tokens = _case(seed=16)
    mask = tokens["mask"] if masked else torch.ones(SHAPE, dtype=torch.bool)
    targets = tokens["targets"] if masked else tokens["targets"].clamp(min=0)
    h = hidden.clone().requires_grad_()
    logp, entropy = linear_logprobs(h, weight, targets, temperature=0.7, mask=tokens["mask"] if masked else None,
                                    chunk_size=5, backend=backend)
    assert logp.shape == entropy.shape == SHAPE and not logp.requires_grad
    _, ref_logp, ref_entropy, _ = reference_loss(hidden.double() @ weight.double().T, targets,
                                                 torch.zeros(SHAPE), torch.zeros(SHAPE), mask, temperature=0.7)
    torch.testing.assert_close(logp.double(), ref_logp, rtol=1e-5, atol=2e-5)
    torch.testing.assert_close(entropy.double(), ref_entropy, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("change, message", [
    (lambda h, w, t, o: (h, w.double(), t, o), "`weight` must have dtype"),
    (lambda h, w, t, o: (h, w[:, :-1], t, o), "`weight` must have shape"),
    (lambda h, w, t, o: (h.long(), w, t, o), "`hidden` must have dtype"),
    (lambda h, w, t, o: (h, w.to("meta"), t, o), "`weight` is on meta"),
    (lambda h, w, t, o: (h[:, :-1], w, t, o), "`targets` must have shape"),
    (lambda h, w, t, o: (h, w, {**t, "targets": t["targets"].clamp(min=0) + VOCAB}, o), "`targets` must lie in"),
    (lambda h, w, t, o: (h, w, t, {**o, "chunk_size": 0}), "`chunk_size` must be a positive int"),
    (lambda h, w, t, o: (h, w, t, {**o, "temperature": 0.0}), "`temperature` must be > 0"),
    (lambda h, w, t, o: (h, w, t, {**o, "dual_clip": 0.5}), "`dual_clip` must be > 1"),
])
def test_clear_errors(change, message):
    hidden, weight, tokens, opts = change(*_case(seed=17), {**FULL, "backend": "torch"})
    with pytest.raises(ValueError, match=message):
        linear_ppo_policy_loss(hidden, weight, **tokens, **opts)


def test_linear_logprobs_clear_errors():
    hidden, weight, tokens = _case(seed=18)
    with pytest.raises(ValueError, match="`targets` must lie in"):
        linear_logprobs(hidden, weight, tokens["targets"], backend="torch")  # -100 at padding, no mask
    with pytest.raises(ValueError, match="`temperature` must be > 0"):
        linear_logprobs(hidden, weight, tokens["targets"], temperature=-1.0, mask=tokens["mask"])
