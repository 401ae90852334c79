"""`fused_reward_advantages` against float64 loops written from docs/estimators.md, on both backends."""
import numpy as np
import pytest
import torch

import rltrain_kernels
from conftest import backend_params, triton_skip_reason
from random_rows import SEPARATORS
from reference_loops import loop_critic_free
from test_reward_gae import random_inputs

VARIANTS = {  # name -> estimator keywords
    "grpo": dict(estimator="grpo"),
    "grpo_mean_only": dict(estimator="grpo", scale_std=False),
    "grpo_rewards": dict(estimator="grpo", normalize="rewards"),
    "grpo_rewards_mean_only": dict(estimator="grpo", normalize="rewards", scale_std=False),
    "rloo": dict(estimator="rloo"),
    "reinforce_pp": dict(estimator="reinforce_pp"),
}
MODES = list(rltrain_kernels.SHAPING_MODES)


def poison_outputs(monkeypatch):
    import rltrain_kernels.rewards.triton_backend as mod

    def poisoned(shape, dtype, device):
        fill = float("nan") if dtype.is_floating_point else -77
        return torch.full(shape, fill, dtype=dtype, device=device)

    monkeypatch.setattr(mod, "new_output", poisoned)


def run_and_compare(backend, device, batch, outcome, scores, logp, ref, atol, **kw):
    kw = dict(kw)
    if kw.get("estimator") == "reinforce_pp":
        kw.pop("group_size", None)
    to = lambda x: None if x is None else x.to(device)  # noqa: E731
    out = rltrain_kernels.fused_reward_advantages(batch.tokens.to(device), batch.mask.to(device), outcome.to(device),
                                          separator_ids=list(SEPARATORS), step_scores=to(scores), logprobs=to(logp),
                                          ref_logprobs=to(ref), backend=backend, **kw)
    f64 = lambda x: None if x is None else x.double().numpy()  # noqa: E731
    exp_r, exp_a, exp_ret, exp_k = loop_critic_free(
        batch.tokens.numpy(), batch.lengths.numpy(), f64(outcome), SEPARATORS, f64(scores), f64(logp), f64(ref), **kw)
    for name, got, exp in (("rewards", out.rewards, exp_r), ("advantages", out.advantages, exp_a),
                           ("returns", out.returns, exp_ret)):
        assert got.dtype == torch.float32 and got.shape == batch.shape, name
        np.testing.assert_allclose(got.cpu().double().numpy(), exp, rtol=1e-5, atol=atol, err_msg=name)
    np.testing.assert_array_equal(out.num_steps.cpu().numpy(), exp_k)
    return out


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shaping", MODES)
def test_matches_float64_loop(backend, variant, shaping, monkeypatch, device):
    """12 rows in groups of 4: the first group holds an empty row, a one-token row, a row without
    separators and a row of separators only (random_rows); KL on every other mode."""
    if backend == "triton":
        poison_outputs(monkeypatch)
    seed = MODES.index(shaping) * 10 + list(VARIANTS).index(variant)
    with_kl = seed % 2 == 0
    gamma = (1.0, 0.97)[seed % 3 == 0]
    batch, _, outcome, scores, logp, ref = random_inputs(12, 41, seed, with_kl)
    out = run_and_compare(backend, device, batch, outcome, scores, logp, ref, atol=5e-5, shaping=shaping, eta=0.4,
                          prm_coef=0.7, kl_coef=0.05 if with_kl else 0.0, gamma=gamma, group_size=4,
                          **VARIANTS[variant])
    assert out.advantages.abs().max() > 0.05  # the comparison is not between zeros


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("variant", ["grpo", "grpo_rewards", "rloo"])
@pytest.mark.parametrize("group_size", [1, 3, 12])
def test_groups_of_one_and_of_n(backend, variant, group_size, monkeypatch, device):
    """Groups of one sample, of 3, and the whole batch. A group of one full return has no baseline
    (A = the return-to-go); per-reward normalisation still has the sample's several rewards."""
    if backend == "triton":
        poison_outputs(monkeypatch)
    batch, _, outcome, scores, logp, ref = random_inputs(12, 23, 40 + group_size, True)
    out = run_and_compare(backend, device, batch, outcome, scores, logp, ref, atol=5e-5, shaping="clip_delta",
                          eta=0.5, prm_coef=1.3, kl_coef=0.1, group_size=group_size, **VARIANTS[variant])
    if group_size == 1 and variant != "grpo_rewards":
        torch.testing.assert_close(out.advantages, out.returns, rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_blocks_and_group_reduction_carry_across_edges(backend, variant, monkeypatch, device):
    """Rows over several Triton blocks (suffix sums, min-form minima and reward statistics carry)
    and a group reduction over several blocks of rows (16 rows per block, groups of 40)."""
    if backend == "triton":
        import rltrain_kernels.rewards.triton_backend as mod

        poison_outputs(monkeypatch)
        monkeypatch.setattr(mod, "block_size", lambda T: 16)
        monkeypatch.setattr(mod, "score_block_size", lambda K: 16)
        monkeypatch.setattr(mod, "group_block", lambda n: 16)
    batch, _, outcome, scores, logp, ref = random_inputs(40, 70, 5, True)
    run_and_compare(backend, device, batch, outcome, scores, logp, ref, atol=1e-4, shaping="clip_min_form", eta=0.3,
                    kl_coef=0.1, gamma=0.99, group_size=40, **VARIANTS[variant])


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("normalize", ["returns", "rewards"])
def test_without_process_reward_it_is_outcome_grpo(backend, normalize, device):
    """No step scores, no KL: every token of response i gets (R_i - mean) / std of its group."""
    gen = torch.Generator().manual_seed(3)
    B, T, n = 8, 9, 4
    tokens = torch.randint(3, 7, (B, T), generator=gen)
    lengths = torch.tensor([9, 1, 5, 9, 2, 9, 7, 3])
    mask = torch.arange(T)[None, :] < lengths[:, None]
    outcome = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.3, -1.2, 2.5, 0.7])
    out = rltrain_kernels.fused_reward_advantages(tokens.to(device), mask.to(device), outcome.to(device), estimator="grpo",
                                          group_size=n, separator_ids=[1], normalize=normalize, backend=backend)
    groups = outcome.view(-1, n)
    want = ((groups - groups.mean(1, keepdim=True)) / groups.std(1, keepdim=True)).flatten()
    torch.testing.assert_close(out.advantages.cpu(), want[:, None] * mask, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.returns.cpu(), outcome[:, None] * mask)


@pytest.mark.parametrize("backend", backend_params())
def test_rloo_and_reinforce_pp_by_hand(backend, device):
    """Three one-token responses, outcomes 1, 0, 0.5: RLOO baselines 0.25, 0.75, 0.5; REINFORCE++
    whitens by the batch mean 0.5 and std 0.5."""
    tokens, mask = torch.ones(3, 1, dtype=torch.int64, device=device), torch.ones(3, 1, dtype=torch.bool, device=device)
    outcome = torch.tensor([1.0, 0.0, 0.5], device=device)
    rloo = rltrain_kernels.fused_reward_advantages(tokens, mask, outcome, estimator="rloo", group_size=3, backend=backend)
    torch.testing.assert_close(rloo.advantages.cpu().flatten(), torch.tensor([0.75, -0.75, 0.0]))
    rpp = rltrain_kernels.fused_reward_advantages(tokens, mask, outcome, estimator="reinforce_pp", backend=backend)
    torch.testing.assert_close(rpp.advantages.cpu().flatten(), torch.tensor([1.0, -1.0, 0.0]))


@pytest.mark.parametrize("backend", backend_params())
def test_a_flat_group_scales_process_credit_by_the_floor(backend, device):
    """All full returns equal (std 0): the mean is subtracted and the within-response credit is
    divided by std_floor, not by ~0. Two responses of two steps, Clip-Delta, eta 0.5: scores
    (0.9, 0.1) and (0.9, 0.9); both full returns are 1 + c_0 = 1; the first response's second
    step has return-to-go 1 - 0.4."""
    tokens = torch.tensor([[5, 1, 6], [5, 1, 6]], device=device)
    mask = torch.ones(2, 3, dtype=torch.bool, device=device)
    out = rltrain_kernels.fused_reward_advantages(tokens, mask, torch.ones(2, device=device), estimator="grpo", group_size=2,
                                          separator_ids=[1], step_scores=torch.tensor([[0.9, 0.1], [0.9, 0.9]],
                                                                                      device=device),
                                          shaping="clip_delta", eta=0.5, std_floor=0.25, backend=backend)
    torch.testing.assert_close(out.returns.cpu(), torch.tensor([[1.0, 1.0, 0.6], [1.0, 1.0, 1.0]]))
    torch.testing.assert_close(out.advantages.cpu(), torch.tensor([[0.0, 0.0, -1.6], [0.0, 0.0, 0.0]]))


@pytest.mark.parametrize("backend", backend_params())
def test_empty_batches(backend, device):
    for B, T, K in ((0, 4, 0), (4, 0, 2), (4, 3, 0)):
        for variant in VARIANTS.values():
            kw = dict(variant, group_size=2) if variant["estimator"] != "reinforce_pp" else variant
            out = rltrain_kernels.fused_reward_advantages(
                torch.ones((B, T), dtype=torch.int64, device=device),
                torch.zeros((B, T), dtype=torch.bool, device=device),
                torch.ones(B, device=device), separator_ids=[1], step_scores=torch.ones((B, K), device=device),
                backend=backend, **kw)
            assert out.advantages.shape == out.returns.shape == (B, T) and out.num_steps.shape == (B,)
            assert out.advantages.abs().sum() == 0


@pytest.mark.parametrize("backend", backend_params())
def test_outputs_carry_no_gradient(backend, device):
    batch, _, outcome, scores, _, _ = random_inputs(4, 9, 1, False)
    outcome = outcome.to(device).requires_grad_()
    out = rltrain_kernels.fused_reward_advantages(batch.tokens.to(device), batch.mask.to(device), outcome, group_size=2,
                                          separator_ids=SEPARATORS, step_scores=scores.to(device), backend=backend)
    assert not out.advantages.requires_grad and not out.returns.requires_grad


def test_token_rewards_equal_fused_reward_gae():
    """Both reward ops build the same token rewards, step counts and process returns."""
    batch, values, outcome, scores, logp, ref = random_inputs(8, 30, 21, True)
    kw = dict(separator_ids=SEPARATORS, step_scores=scores, logprobs=logp, ref_logprobs=ref, shaping="min_form",
              eta=0.3, prm_coef=0.8, kl_coef=0.1, backend="torch")
    gae = rltrain_kernels.fused_reward_gae(batch.tokens, batch.mask, values, outcome, **kw)
    crit = rltrain_kernels.fused_reward_advantages(batch.tokens, batch.mask, outcome, group_size=2, **kw)
    for name in ("rewards", "num_steps", "process_return"):
        torch.testing.assert_close(getattr(crit, name), getattr(gae, name), rtol=0, atol=0)


@pytest.mark.skipif(triton_skip_reason() is not None, reason=str(triton_skip_reason()))
def test_auto_uses_triton_where_it_can(monkeypatch, device):
    import rltrain_kernels.rewards.triton_backend as mod

    calls = []
    original = mod.reward_advantages
    monkeypatch.setattr(mod, "reward_advantages", lambda *a: calls.append(1) or original(*a))
    batch, _, outcome, _, _, _ = random_inputs(2, 5, 2, False)
    rltrain_kernels.fused_reward_advantages(batch.tokens.to(device), batch.mask.to(device), outcome.to(device), group_size=2)
    assert calls == [1]
