"""rltrain_kernels.ppo_policy_loss: both backends against a float64 autograd computation of DESIGN.md."""
from __future__ import annotations

import pytest
import torch

from rltrain_kernels import PolicyLoss, ppo_policy_loss
from rltrain_kernels.policy_loss import torch_backend as policy_loss_torch
from policy_loss_reference import (BACKENDS, FULL, PLAIN, assert_close_scaled, assert_hits_every_branch,
                                   assert_matches_reference, ban_vocab, make_tokens, reference_loss,
                                   poisoned_empty)  # noqa: F401 (fixture)

SHAPE, VOCAB = (3, 13), 333  # 333: not a multiple of any block size


def _case(opts: dict, seed: int, dtype=torch.float32, empty: bool = False, banned: bool = False):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(*SHAPE, VOCAB, generator=g) * 2.5).to(dtype)
    temperature = opts.get("temperature", 1.0)
    tokens = make_tokens(SHAPE, VOCAB, lambda: logits, temperature=temperature, seed=seed, empty=empty)
    if banned:  # the same seed draws the same targets and mask; log-probs from the banned logits
        logits = ban_vocab(logits, tokens["targets"], tokens["mask"], seed)
        tokens = make_tokens(SHAPE, VOCAB, lambda: logits, temperature=temperature, seed=seed, empty=empty)
    if "kl_loss_coef" not in opts:
        tokens.pop("ref_logprobs")
    return logits, tokens


def _run(logits, tokens, opts, backend, grad_scale=2.5, **extra):
    x = logits.clone().requires_grad_()
    out = ppo_policy_loss(x, **tokens, **opts, backend=backend, **extra)
    (out.loss * grad_scale).backward()
    torch.testing.assert_close(x.detach(), logits, rtol=0, atol=0, equal_nan=True)  # logits left as given
    return out, x.grad


def _reference(logits, tokens, opts, grad_scale=2.5, **extra):
    x = logits.double().requires_grad_()
    loss, logp, entropy, clipped = reference_loss(x, **tokens, **opts, **extra)
    (loss * grad_scale).backward()
    return loss.detach(), logp, entropy, clipped, x.grad


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("opts", [FULL, PLAIN], ids=["full", "plain"])
def test_matches_float64(backend, opts, poisoned_empty, monkeypatch):
    monkeypatch.setattr(policy_loss_torch, "_BLOCK_ELEMENTS", 1000)  # several row blocks
    logits, tokens = _case(opts, seed=1)
    out, grad = _run(logits, tokens, opts, backend)
    loss, logp, entropy, clipped, ref_grad = _reference(logits, tokens, opts)
    assert_hits_every_branch(tokens, logp, opts)
    assert isinstance(out, PolicyLoss) and out.loss.shape == () and out.loss.dtype == torch.float32
    assert out.logprobs.shape == out.entropy.shape == out.clipped.shape == SHAPE
    assert not (out.logprobs.requires_grad or out.entropy.requires_grad)
    assert_matches_reference(out, loss, logp, entropy, clipped)
    assert grad.dtype == torch.float32
    assert_close_scaled(grad, ref_grad, 1e-5)
    assert torch.all(grad[~tokens["mask"]] == 0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("opts", [FULL, PLAIN], ids=["full", "plain"])
def test_neg_inf_logits_match_float64(backend, opts, poisoned_empty, monkeypatch):
    monkeypatch.setattr(policy_loss_torch, "_BLOCK_ELEMENTS", 1000)
    logits, tokens = _case(opts, seed=8, banned=True)
    valid = tokens["mask"]
    only_target = valid & ((logits == float("-inf")).sum(-1) == VOCAB - 1)
    assert only_target.any() and (~valid).any() and logits[~valid].isnan().any()
    out, grad = _run(logits, tokens, opts, backend)
    loss, logp, entropy, clipped, ref_grad = _reference(logits, tokens, opts)
    for x in (out.loss, out.logprobs, out.entropy, grad, loss, logp, entropy, ref_grad):
        assert torch.isfinite(x).all()
    assert_hits_every_branch(tokens, logp, opts)
    assert_matches_reference(out, loss, logp, entropy, clipped)
    assert_close_scaled(grad, ref_grad, 1e-5)
    assert torch.all(out.entropy[only_target] == 0) and torch.all(out.logprobs[only_target] == 0)
    assert torch.all(grad[logits == float("-inf")] == 0) and torch.all(grad[~valid] == 0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("corrupt", ["target -inf", "row -inf", "+inf", "nan", "overflow / temperature"])
def test_invalid_logits_at_a_valid_token_raise(backend, corrupt):
    logits, tokens = _case(FULL, seed=9)
    row, target = logits[1, 0], int(tokens["targets"][1, 0])  # position 0 is always valid
    other = (target + 1) % VOCAB
    if corrupt == "target -inf":
        row[target] = float("-inf")
    elif corrupt == "row -inf":
        row[:] = float("-inf")
    else:
        row[other] = {"+inf": float("inf"), "nan": float("nan"), "overflow / temperature": 3e38}[corrupt]
    with pytest.raises(ValueError, match=r"`logits` give a non-finite log-prob of the target at 1 valid"):
        ppo_policy_loss(logits, **tokens, **FULL, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_mask_gives_zero_not_nan(backend, poisoned_empty):
    logits, tokens = _case(FULL, seed=2, empty=True)
    out, grad = _run(logits, tokens, FULL, backend)
    assert out.loss.item() == 0.0
    assert torch.all(grad == 0) and torch.all(out.logprobs == 0) and torch.all(out.entropy == 0)
    assert not out.clipped.any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_normalizer_over_micro_batches_equals_one_batch(backend):
    logits, tokens = _case(FULL, seed=3)
    whole, whole_grad = _run(logits, tokens, FULL, backend, grad_scale=1.0)
    count = int(tokens["mask"].sum())
    halves = [(slice(0, 1), float(count)), (slice(1, 3), torch.tensor(count))]
    losses, grads = [], []
    for rows, normalizer in halves:
        part = {k: v[rows] for k, v in tokens.items()}
        out, grad = _run(logits[rows], part, FULL, backend, grad_scale=1.0, normalizer=normalizer)
        losses.append(out.loss)
        grads.append(grad)
    torch.testing.assert_close(losses[0] + losses[1], whole.loss, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(torch.cat(grads), whole_grad, rtol=1e-6, atol=1e-9)
    _, *_, ref_grad = _reference(logits, tokens, FULL, grad_scale=1.0, normalizer=2 * count)
    out, grad = _run(logits, tokens, FULL, backend, grad_scale=1.0, normalizer=2 * count)
    torch.testing.assert_close(out.loss, whole.loss / 2)
    assert_close_scaled(grad, ref_grad, 1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_inputs(backend, dtype):
    logits, tokens = _case(FULL, seed=4, dtype=dtype)
    out, grad = _run(logits, tokens, FULL, backend)
    loss, logp, entropy, clipped, ref_grad = _reference(logits, tokens, FULL)  # exact upcast of the same inputs
    assert grad.dtype == dtype
    torch.testing.assert_close(out.loss.double(), loss, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.logprobs.double(), logp, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.entropy.double(), entropy, rtol=1e-4, atol=1e-4)
    assert_close_scaled(grad, ref_grad, 1e-2)


def _good_args():
    logits, tokens = _case(FULL, seed=6)
    return logits, tokens


@pytest.mark.parametrize("change, message", [
    (lambda a, t, o: (a.long(), t, o), "`logits` must have dtype"),
    (lambda a, t, o: (a[0], t, o), "`targets` must have shape"),
    (lambda a, t, o: (a, {**t, "targets": t["targets"].float()}, o), "`targets` must have dtype"),
    (lambda a, t, o: (a, {**t, "advantages": t["advantages"][:, :-1]}, o), "`advantages` must have shape"),
    (lambda a, t, o: (a, {**t, "old_logprobs": t["old_logprobs"].long()}, o), "`old_logprobs` must have dtype"),
    (lambda a, t, o: (a, {**t, "mask": t["mask"].to("meta")}, o), "`mask` is on meta"),
    (lambda a, t, o: (a, {**t, "targets": t["targets"].clamp(min=0) + 333}, o), "`targets` must lie in"),
    (lambda a, t, o: (a, t, {**o, "temperature": 0.0}), "`temperature` must be > 0"),
    (lambda a, t, o: (a, t, {**o, "temperature": -1.0}), "`temperature` must be > 0"),
    (lambda a, t, o: (a, t, {**o, "dual_clip": 1.0}), "`dual_clip` must be > 1"),
    (lambda a, t, o: (a, t, {**o, "entropy_coef": float("nan")}), "`entropy_coef` must be finite"),
    (lambda a, t, o: (a, t, {**o, "kl_loss_coef": float("nan")}), "`kl_loss_coef` must be finite"),
    (lambda a, t, o: (a, t, {**o, "clip_low": 1.5}), "`clip_low` must be <= 1"),
    (lambda a, t, o: (a, t, {**o, "normalizer": 0}), "`normalizer` must be > 0"),
    (lambda a, t, o: (a, t, {**o, "normalizer": torch.ones(2)}), "`normalizer` must hold one"),
    (lambda a, t, o: (a, {k: v for k, v in t.items() if k != "ref_logprobs"}, o), "needs `ref_logprobs`"),
    (lambda a, t, o: (a, t, {**o, "backend": "cuda"}), "backend must be one of"),
])
def test_clear_errors(change, message):
    logits, tokens, opts = change(*_good_args(), {**FULL, "backend": "torch"})
    with pytest.raises(ValueError, match=message):
        ppo_policy_loss(logits, **tokens, **opts)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inplace_backward_matches(backend):
    _, tokens = _case(FULL, seed=7)
    g = torch.Generator().manual_seed(7)
    hidden, weight = torch.randn(*SHAPE, 8, generator=g), torch.randn(VOCAB, 8, generator=g)
    grads = []
    for inplace in (False, True):
        h = hidden.clone().requires_grad_()
        logits = h @ weight.T
        ppo_policy_loss(logits, **tokens, **FULL, inplace_backward=inplace, backend=backend).loss.backward()
        grads.append(h.grad)
    torch.testing.assert_close(grads[1], grads[0], rtol=0, atol=0)
