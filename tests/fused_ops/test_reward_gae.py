import numpy as np
import pytest
import torch

import rltrain_kernels
from conftest import backend_params, triton_skip_reason
from random_rows import SEPARATORS, random_batch
from reference_loops import loop_reward_gae

MODES = ["none", "clip", "delta", "clip_delta", "min_form", "clip_min_form"]
DISCOUNTS = [(1.0, 1.0), (0.99, 0.95), (0.9, 0.0), (0.0, 0.7)]


def poison_outputs(monkeypatch):
    import rltrain_kernels.rewards.triton_backend as mod

    def poisoned(shape, dtype, device):
        fill = float("nan") if dtype.is_floating_point else -77
        return torch.full(shape, fill, dtype=dtype, device=device)

    monkeypatch.setattr(mod, "new_output", poisoned)


def random_inputs(B, T, seed, with_kl, value_dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    batch = random_batch(B, T, gen)
    values = torch.randn(B, T, generator=gen).to(value_dtype)
    outcome = torch.randint(0, 2, (B,), generator=gen).float() + 0.1 * torch.randn(B, generator=gen)
    K = T + 2
    scores = torch.rand(B, K, generator=gen)
    steps = [len(range(int(L))) for L in batch.lengths]
    for b, L in enumerate(steps):  # columns past any possible step count are never read
        scores[b, L + 1:] = float("nan")
    logp = -torch.rand(B, T, generator=gen) * 3 if with_kl else None
    ref = -torch.rand(B, T, generator=gen) * 3 if with_kl else None
    return batch, values, outcome, scores, logp, ref


def run_and_compare(backend, device, batch, values, outcome, scores, logp, ref, atol, **kw):
    to = lambda x: None if x is None else x.to(device)  # noqa: E731
    out = rltrain_kernels.fused_reward_gae(batch.tokens.to(device), batch.mask.to(device), values.to(device),
                                   outcome.to(device), separator_ids=list(SEPARATORS), step_scores=to(scores),
                                   logprobs=to(logp), ref_logprobs=to(ref), backend=backend, **kw)
    f64 = lambda x: None if x is None else x.double().numpy()  # noqa: E731
    exp_r, exp_a, exp_ret, exp_k = loop_reward_gae(
        batch.tokens.numpy(), batch.lengths.numpy(), f64(values), f64(outcome), SEPARATORS, f64(scores),
        f64(logp), f64(ref), **kw)
    for got, exp in ((out.rewards, exp_r), (out.advantages, exp_a), (out.returns, exp_ret)):
        assert got.dtype == torch.float32 and got.shape == batch.shape
        np.testing.assert_allclose(got.cpu().double().numpy(), exp, rtol=1e-5, atol=atol)
    np.testing.assert_array_equal(out.num_steps.cpu().numpy(), exp_k)
    return out


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("shaping", MODES)
@pytest.mark.parametrize("with_kl", [False, True])
@pytest.mark.parametrize("gamma,lam", DISCOUNTS)
def test_matches_float64_loop(backend, shaping, with_kl, gamma, lam, monkeypatch, device):
    if backend == "triton":
        poison_outputs(monkeypatch)
    seed = hash((shaping, with_kl, gamma, lam)) % 10_000
    inputs = random_inputs(9, 41, seed, with_kl)
    run_and_compare(backend, device, *inputs, atol=2e-5, shaping=shaping, eta=0.4, prm_coef=0.7,
                    kl_coef=0.05 if with_kl else 0.0, gamma=gamma, lam=lam)


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("block", [16, 32])
def test_blocks_carry_state_across_block_edges(backend, block, monkeypatch, device):
    """Rows longer than one block: the advantage, step counter and next-step score must carry."""
    if backend == "triton":
        import rltrain_kernels.rewards.triton_backend as mod

        poison_outputs(monkeypatch)
        monkeypatch.setattr(mod, "block_size", lambda T: block)
    inputs = random_inputs(7, 100, 3 + block, True)
    run_and_compare(backend, device, *inputs, atol=5e-5, shaping="clip_delta", eta=0.3, kl_coef=0.1,
                    gamma=0.97, lam=0.9)


@pytest.mark.parametrize("backend", backend_params())
def test_long_rows_and_half_precision_inputs(backend, device):
    """T = 1000 at gamma = lam = 1 (sums of ~1000 terms), with bf16 values and fp16 log-probs."""
    batch, values, outcome, scores, logp, ref = random_inputs(3, 1000, 11, True, torch.bfloat16)
    run_and_compare(backend, device, batch, values, outcome, scores, logp.half(), ref.half(), atol=5e-4,
                    shaping="delta", kl_coef=0.02)


@pytest.mark.parametrize("backend", backend_params())
def test_without_process_reward(backend, device):
    batch, values, outcome, _, _, _ = random_inputs(6, 20, 5, False)
    run_and_compare(backend, device, batch, values, outcome, None, None, None, atol=2e-5, gamma=0.95, lam=0.9)


@pytest.mark.parametrize("backend", backend_params())
def test_no_separators_means_one_step(backend, device):
    tokens = torch.tensor([[3, 1, 4, 1, 5], [9, 2, 6, 0, 0]], device=device)
    mask = tokens.new_tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]).bool()
    scores = torch.tensor([[0.8], [0.3]], device=device)
    out = rltrain_kernels.fused_reward_gae(tokens, mask, torch.zeros(2, 5, device=device), torch.tensor([1.0, 0.0], device=device),
                                   step_scores=scores, shaping="none", backend=backend)
    assert out.num_steps.cpu().tolist() == [1, 1]
    torch.testing.assert_close(out.rewards.cpu(), torch.tensor([[0, 0, 0, 0, 1.8], [0, 0, 0.3, 0, 0]]))


@pytest.mark.parametrize("backend", backend_params())
def test_empty_batches(backend, device):
    for B, T in ((0, 4), (3, 0)):
        out = rltrain_kernels.fused_reward_gae(torch.zeros((B, T), dtype=torch.int64, device=device),
                                       torch.zeros((B, T), dtype=torch.bool, device=device),
                                       torch.zeros((B, T), device=device), torch.zeros(B, device=device),
                                       separator_ids=[1], step_scores=torch.zeros((B, 0), device=device),
                                       backend=backend)
        assert out.advantages.shape == (B, T) and out.num_steps.shape == (B,)


@pytest.mark.parametrize("backend", backend_params())
def test_outputs_carry_no_gradient(backend, device):
    batch, values, outcome, scores, _, _ = random_inputs(3, 9, 1, False)
    values = values.to(device).requires_grad_()
    out = rltrain_kernels.fused_reward_gae(batch.tokens.to(device), batch.mask.to(device), values, outcome.to(device),
                                   separator_ids=SEPARATORS, step_scores=scores.to(device), backend=backend)
    assert not out.advantages.requires_grad and not out.returns.requires_grad


@pytest.mark.skipif(triton_skip_reason() is not None, reason=str(triton_skip_reason()))
def test_auto_uses_triton_where_it_can(monkeypatch, device):
    import rltrain_kernels.rewards.triton_backend as mod

    calls = []
    original = mod.reward_gae
    monkeypatch.setattr(mod, "reward_gae", lambda *a: calls.append(1) or original(*a))
    batch, values, outcome, _, _, _ = random_inputs(2, 5, 2, False)
    rltrain_kernels.fused_reward_gae(batch.tokens.to(device), batch.mask.to(device), values.to(device),
                             outcome.to(device))
    assert calls == [1]
