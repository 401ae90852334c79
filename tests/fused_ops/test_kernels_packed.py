"""The packed (padding-free, cu_seqlens) layout of the reward ops and the policy loss: the same
numbers as the padded [B, T] layout and as the float64 loops, on fresh random rows with empty
rows, T = 1, rows without and with only separators."""
import numpy as np
import pytest
import torch

import rltrain_kernels
from conftest import backend_params
from rltrain_kernels.rewards.packed import pack_tokens, unpack_tokens
from random_rows import SEPARATORS, random_batch
from reference_loops import loop_critic_free, loop_reward_gae


def packed_inputs(B, T, seed):
    gen = torch.Generator().manual_seed(seed)
    batch = random_batch(B, T, gen)
    cu = torch.zeros(B + 1, dtype=torch.long)
    cu[1:] = batch.lengths.cumsum(0)
    values = torch.randn(B, T, generator=gen) * batch.mask
    logp = -torch.rand(B, T, generator=gen) * 3 * batch.mask
    ref = -torch.rand(B, T, generator=gen) * 3 * batch.mask
    outcome = torch.randint(0, 2, (B,), generator=gen).float()
    scores = torch.rand(B, T + 1, generator=gen)
    return batch, cu, values, logp, ref, outcome, scores


def flat(x, mask):
    return x[mask]


@pytest.mark.parametrize("B,T,seed", [(6, 9, 0), (5, 1, 1), (8, 16, 2), (1, 4, 3)])
def test_pack_unpack_round_trip(B, T, seed):
    batch, cu, values, *_ = packed_inputs(B, T, seed)
    packed = flat(values, batch.mask)
    assert torch.equal(pack_tokens(values, cu), packed)
    back = unpack_tokens(packed, cu)
    width = max(1, int(batch.lengths.max()))
    assert torch.equal(back, values[:, :width])


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("B,T,seed", [(6, 9, 10), (5, 1, 11), (7, 12, 12)])
@pytest.mark.parametrize("shaping", ["clip_delta", "none", "min_form"])
def test_reward_gae_packed_equals_padded_and_float64(backend, B, T, seed, shaping, device):
    batch, cu, values, logp, ref, outcome, scores = packed_inputs(B, T, seed)
    kw = dict(separator_ids=list(SEPARATORS), step_scores=scores.to(device), shaping=shaping, eta=0.3, kl_coef=0.05,
              gamma=0.99, lam=0.95, backend=backend)
    m = batch.mask
    out = rltrain_kernels.fused_reward_gae_packed(flat(batch.tokens, m).to(device), cu.to(device), flat(values, m).to(device),
                                          outcome.to(device), logprobs=flat(logp, m).to(device),
                                          ref_logprobs=flat(ref, m).to(device), **kw)
    padded = rltrain_kernels.fused_reward_gae(batch.tokens.to(device), m.to(device), values.to(device), outcome.to(device),
                                      logprobs=logp.to(device), ref_logprobs=ref.to(device), **kw)
    exp_r, exp_a, exp_ret, exp_k = loop_reward_gae(
        batch.tokens.numpy(), batch.lengths.numpy(), values.double().numpy(), outcome.double().numpy(), SEPARATORS,
        scores.double().numpy(), logp.double().numpy(), ref.double().numpy(), shaping=shaping, eta=0.3,
        kl_coef=0.05, gamma=0.99, lam=0.95)
    for got, pad, exp in ((out.rewards, padded.rewards, exp_r), (out.advantages, padded.advantages, exp_a),
                          (out.returns, padded.returns, exp_ret)):
        assert got.shape == (int(cu[-1]),) and got.dtype == torch.float32
        assert torch.equal(got.cpu(), flat(pad.cpu(), m))
        np.testing.assert_allclose(got.cpu().double().numpy(), exp[m.numpy()], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(out.num_steps.cpu().numpy(), exp_k)
    assert torch.equal(out.process_return.cpu(), padded.process_return.cpu())


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("estimator,group", [("grpo", 2), ("rloo", 3), ("reinforce_pp", None)])
def test_reward_advantages_packed_equals_float64(backend, estimator, group, device):
    batch, cu, _, logp, ref, outcome, scores = packed_inputs(6, 8, 20)
    m = batch.mask
    kw = dict(estimator=estimator, group_size=group, separator_ids=list(SEPARATORS), step_scores=scores.to(device),
              shaping="clip", eta=0.5, kl_coef=0.02, backend=backend)
    out = rltrain_kernels.fused_reward_advantages_packed(flat(batch.tokens, m).to(device), cu.to(device), outcome.to(device),
                                                 logprobs=flat(logp, m).to(device),
                                                 ref_logprobs=flat(ref, m).to(device), **kw)
    _, exp_a, exp_ret, exp_k = loop_critic_free(
        batch.tokens.numpy(), batch.lengths.numpy(), outcome.double().numpy(), SEPARATORS, scores.double().numpy(),
        logp.double().numpy(), ref.double().numpy(), shaping="clip", eta=0.5, kl_coef=0.02, estimator=estimator,
        group_size=group)
    np.testing.assert_allclose(out.advantages.cpu().double().numpy(), exp_a[m.numpy()], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.returns.cpu().double().numpy(), exp_ret[m.numpy()], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(out.num_steps.cpu().numpy(), exp_k)


@pytest.mark.parametrize("cu,message", [
    (torch.tensor([1, 3, 5]), "start at 0"),
    (torch.tensor([0, 3, 2, 5]), "never decrease"),
    (torch.tensor([0, 3, 4]), "end at the 5"),
    (torch.tensor([0.0, 5.0]), "dtype"),
    (torch.tensor([[0, 5]]), "dimension"),
])
def test_bad_cu_seqlens_is_named(cu, message):
    ids = torch.zeros(5, dtype=torch.long)
    with pytest.raises(ValueError, match=rf"fused_reward_gae_packed: `cu_seqlens`.*{message}"):
        rltrain_kernels.fused_reward_gae_packed(ids, cu, torch.zeros(5), torch.zeros(cu.numel() - 1 if cu.dim() == 1 else 1))


def test_wrong_token_tensor_length_is_named():
    with pytest.raises(ValueError, match=r"`values` must have shape \(5,\)"):
        rltrain_kernels.fused_reward_gae_packed(torch.zeros(5, dtype=torch.long), torch.tensor([0, 2, 5]), torch.zeros(4),
                                        torch.zeros(2))


def test_linear_policy_loss_packed_equals_padded():
    """The per-token policy loss on packed rows ([N, H], no mask) = on padded rows ([B, T, H] + mask):
    loss, log-probs and gradients (to hidden and to the lm_head weight)."""
    gen = torch.Generator().manual_seed(5)
    batch = random_batch(5, 7, gen)
    m = batch.mask
    H, V = 8, 11
    hidden = torch.randn(5, 7, H, generator=gen, dtype=torch.float64)
    weight = torch.randn(V, H, generator=gen, dtype=torch.float64)
    targets = torch.randint(0, V, (5, 7), generator=gen)
    old = -torch.rand(5, 7, generator=gen, dtype=torch.float64) * 2
    adv = torch.randn(5, 7, generator=gen, dtype=torch.float64)
    results = []
    for packed in (False, True):
        h = hidden.clone().requires_grad_(True)
        w = weight.clone().requires_grad_(True)
        if packed:
            out = rltrain_kernels.linear_ppo_policy_loss(h[m], w, targets[m], old[m], adv[m], torch.ones(int(m.sum())),
                                                 entropy_coef=0.01)
            logp = out.logprobs
        else:
            out = rltrain_kernels.linear_ppo_policy_loss(h, w, targets, old, adv, m, entropy_coef=0.01)
            logp = out.logprobs[m]
        out.loss.backward()
        results.append((out.loss.detach(), logp, h.grad, w.grad))
    (l0, p0, gh0, gw0), (l1, p1, gh1, gw1) = results
    torch.testing.assert_close(l1, l0, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(p1, p0, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gh1, gh0, rtol=1e-12, atol=1e-12)  # h[m] routes the packed gradient back
    assert torch.count_nonzero(gh0[~m]) == 0 and torch.count_nonzero(gh0[m]) > 0
    torch.testing.assert_close(gw1, gw0, rtol=1e-12, atol=1e-12)
