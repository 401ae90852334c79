"""process_return: the PRM part of each row's return, as the reward kernel shaped it."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

import kernels
from rltrain.rewards.process_return import process_return

IDS = torch.tensor([[3, 9, 4, 9, 5], [3, 9, 5, 0, 0]])  # 9 ends a step: 3 steps, then 2 steps
MASK = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
SCORES = torch.tensor([[0.2, 0.9, 0.6], [0.7, 0.1, 0.0]])
ETA, COEF = 0.5, 2.0
# sum of prm_coef * shaped step rewards: none / clip sum c_k; delta / clip_delta telescope to c_0
EXPECTED = {
    "none": [COEF * 1.7, COEF * 0.8],
    "clip": [COEF * -0.3, COEF * -0.4],
    "delta": [COEF * 0.2, COEF * 0.7],
    "clip_delta": [COEF * -0.3, 0.0],
}


def _gae(step_scores, shaping: str):
    values = torch.full(IDS.shape, 0.5) * MASK
    logp = torch.full(IDS.shape, -1.0) * MASK
    return kernels.fused_reward_gae(IDS, MASK, values, torch.tensor([1.0, 3.0]), separator_ids=[9],
                                    step_scores=step_scores, logprobs=logp, ref_logprobs=logp - 0.5 * MASK,
                                    kl_coef=0.1, shaping=shaping, eta=ETA, prm_coef=COEF, lam=0.9)


@pytest.mark.parametrize("shaping", sorted(EXPECTED))
def test_only_the_shaped_step_rewards_count(shaping):
    gae = _gae(SCORES, shaping)
    got = process_return(gae, IDS, MASK, SCORES, separator_ids=[9], shaping=shaping, eta=ETA, prm_coef=COEF)
    assert got.shape == (2,) and got.dtype == torch.float32
    assert got.tolist() == pytest.approx(EXPECTED[shaping], abs=1e-6)


def test_no_step_scores_give_zero():
    got = process_return(_gae(None, "clip_delta"), IDS, MASK, None, separator_ids=[9], shaping="clip_delta",
                         eta=ETA, prm_coef=COEF)
    assert got.tolist() == [0.0, 0.0]


def test_the_kernels_own_output_is_used_when_present():
    given = torch.tensor([7.0, -7.0])
    got = process_return(SimpleNamespace(process_return=given), IDS, MASK, SCORES, separator_ids=[9],
                         shaping="none", eta=ETA, prm_coef=COEF)
    assert got is given
