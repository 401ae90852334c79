"""RewardGAE.process_return: per row, the sum over steps of prm_coef * shaped_k, from the same pass."""
import numpy as np
import pytest
import torch

import rltrain_kernels
from conftest import backend_params
from rltrain_kernels.options import SHAPING_SPECS
from random_rows import SEPARATORS
from reference_loops import loop_process_return
from test_reward_gae import poison_outputs, random_inputs, run_and_compare


def check_process_return(out, batch, scores, **kw):
    expected = loop_process_return(batch.tokens.numpy(), batch.lengths.numpy(), SEPARATORS,
                                   None if scores is None else scores.double().numpy(), **kw)
    got = out.process_return
    assert got.dtype == torch.float32 and got.shape == (batch.shape[0],)
    np.testing.assert_allclose(got.cpu().double().numpy(), expected, rtol=1e-5, atol=2e-5)
    return expected


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("shaping", rltrain_kernels.SHAPING_MODES)
@pytest.mark.parametrize("prm_coef,block", [(1.0, None), (-2.5, 16)])
def test_matches_float64_loop(backend, shaping, prm_coef, block, monkeypatch, device):
    """Random rows with the edge cases of random_rows (empty, single-token, no separator); with
    block = 16 a row spans up to 3 Triton blocks, so the sum must carry from block to block."""
    if backend == "triton":
        import rltrain_kernels.rewards.triton_backend as mod

        poison_outputs(monkeypatch)
        if block is not None:
            monkeypatch.setattr(mod, "block_size", lambda T: block)
    batch, values, outcome, scores, logp, ref = random_inputs(9, 41, 17 + len(shaping), True)
    kw = dict(shaping=shaping, eta=0.4, prm_coef=prm_coef)
    out = run_and_compare(backend, device, batch, values, outcome, scores, logp, ref, atol=5e-5, kl_coef=0.05,
                          gamma=0.9, lam=0.8, **kw)
    expected = check_process_return(out, batch, scores, **kw)
    empty = batch.lengths.numpy() == 0
    assert empty.any() and (expected[empty] == 0).all()
    assert np.abs(expected).max() > 0.1  # the rows do carry process reward


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("shaping,expected", [("none", 3.4), ("clip", -0.6), ("delta", 1.8), ("clip_delta", 0.0),
                                              ("min_form", 0.4), ("clip_min_form", -0.6)])
def test_hand_computed_row(backend, shaping, expected, monkeypatch, device):
    """Scores 0.9, 0.2, 0.6, eta 0.5, prm_coef 2: clipped c = 0, -0.3, 0; Delta telescopes to c_0,
    min-form to min_k c_k."""
    if backend == "triton":
        poison_outputs(monkeypatch)
    tokens = torch.tensor([[5, 1, 6, 1, 7, 0], [5, 6, 0, 0, 0, 0]], device=device)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0]], dtype=torch.bool, device=device)
    scores = torch.tensor([[0.9, 0.2, 0.6], [0.5, 0.5, 0.5]], device=device)
    out = rltrain_kernels.fused_reward_gae(tokens, mask, torch.zeros(2, 6, device=device), torch.tensor([1.0, 1.0], device=device),
                                   separator_ids=[1], step_scores=scores, shaping=shaping, eta=0.5, prm_coef=2.0,
                                   backend=backend)
    assert out.num_steps.cpu().tolist() == [3, 0]
    torch.testing.assert_close(out.process_return.cpu(), torch.tensor([expected, 0.0]))
    torch.testing.assert_close(out.rewards.sum(1).cpu(), torch.tensor([expected + 1.0, 0.0]))  # + outcome


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("shaping", rltrain_kernels.SHAPING_MODES)
def test_single_token_rows(backend, shaping, monkeypatch, device):
    """T = 1: each non-empty row is one step, whose shaped reward is c_0 in every mode."""
    if backend == "triton":
        poison_outputs(monkeypatch)
    tokens = torch.tensor([[1], [4], [2]], device=device)
    mask = torch.tensor([[True], [False], [True]], device=device)
    scores = torch.tensor([[0.8, 9.0], [0.5, 9.0], [-0.4, 9.0]], device=device)
    out = rltrain_kernels.fused_reward_gae(tokens, mask, torch.zeros(3, 1, device=device), torch.zeros(3, device=device),
                                   separator_ids=SEPARATORS, step_scores=scores, shaping=shaping, eta=0.5,
                                   prm_coef=1.5, backend=backend)
    clip = SHAPING_SPECS[shaping].clip
    c0 = [min(s - 0.5, 0.0) if clip else s for s in (0.8, -0.4)]
    torch.testing.assert_close(out.process_return.cpu(), torch.tensor([1.5 * c0[0], 0.0, 1.5 * c0[1]]))


@pytest.mark.parametrize("backend", backend_params())
def test_zero_without_step_scores(backend, monkeypatch, device):
    if backend == "triton":
        poison_outputs(monkeypatch)
    batch, values, outcome, scores, logp, ref = random_inputs(7, 23, 3, True)
    common = dict(separator_ids=SEPARATORS, logprobs=logp.to(device), ref_logprobs=ref.to(device), kl_coef=0.1,
                  prm_coef=3.0, backend=backend)
    args = (batch.tokens.to(device), batch.mask.to(device), values.to(device), outcome.to(device))
    out = rltrain_kernels.fused_reward_gae(*args, **common)
    assert out.process_return.dtype == torch.float32
    assert out.process_return.cpu().tolist() == [0.0] * 7


@pytest.mark.parametrize("backend", backend_params())
def test_empty_batches_and_rows(backend, monkeypatch, device):
    if backend == "triton":
        poison_outputs(monkeypatch)
    for B, T, K in ((0, 4, 0), (3, 0, 2), (3, 4, 2), (3, 4, 0)):
        out = rltrain_kernels.fused_reward_gae(torch.ones((B, T), dtype=torch.int64, device=device),
                                       torch.zeros((B, T), dtype=torch.bool, device=device),
                                       torch.zeros((B, T), device=device), torch.ones(B, device=device),
                                       separator_ids=[1], step_scores=torch.ones((B, K), device=device),
                                       backend=backend)
        assert out.process_return.shape == (B,) and out.process_return.dtype == torch.float32
        assert out.process_return.cpu().tolist() == [0.0] * B


@pytest.mark.parametrize("backend", backend_params())
def test_equals_the_rewards_of_a_process_only_launch(backend, device):
    """What a caller would otherwise get from a second launch with zero values, outcome and KL."""
    batch, values, outcome, scores, logp, ref = random_inputs(8, 30, 9, True)
    common = dict(separator_ids=SEPARATORS, step_scores=scores.to(device), shaping="clip_delta", eta=0.2,
                  prm_coef=0.6, backend=backend)
    tokens, mask = batch.tokens.to(device), batch.mask.to(device)
    full = rltrain_kernels.fused_reward_gae(tokens, mask, values.to(device), outcome.to(device), logprobs=logp.to(device),
                                    ref_logprobs=ref.to(device), kl_coef=0.2, gamma=0.9, lam=0.7, **common)
    process_only = rltrain_kernels.fused_reward_gae(tokens, mask, torch.zeros_like(values, device=device),
                                            torch.zeros_like(outcome, device=device), **common)
    torch.testing.assert_close(full.process_return, process_only.rewards.sum(1), rtol=1e-5, atol=1e-5)
