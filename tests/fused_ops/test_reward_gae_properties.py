"""The paper's point: Clip and Delta bound the return, so repeating a step cannot farm reward."""
import pytest
import torch

import rltrain_kernels
from conftest import backend_params

SEP = 1


def response(step_tokens, repeat_step, times):
    """Steps of 2 content tokens + a separator; step `repeat_step` is repeated `times` extra times."""
    steps = list(step_tokens)
    steps[repeat_step + 1:repeat_step + 1] = [steps[repeat_step]] * times
    return [tok for s in steps for tok in (s, s + 1, SEP)], steps


def high_scoring_trial(trial: int, gen: torch.Generator):
    """2-5 steps with random scores, the best of them set to 0.95: (step tokens, best step, score of each)."""
    K = 2 + trial % 4
    step_tokens = [10 + 2 * i for i in range(K)]
    score_of = {s: float(torch.rand((), generator=gen)) for s in step_tokens}
    best = max(range(K), key=lambda i: score_of[step_tokens[i]])
    score_of[step_tokens[best]] = 0.95
    return step_tokens, best, score_of


def return_at_start(steps_scores_by_token, tokens, shaping, eta, backend):
    T = len(tokens)
    out = rltrain_kernels.fused_reward_gae(
        torch.tensor([tokens]), torch.ones(1, T, dtype=torch.bool), torch.zeros(1, T), torch.tensor([1.0]),
        separator_ids=[SEP], step_scores=torch.tensor([steps_scores_by_token]), shaping=shaping, eta=eta,
        backend=backend)
    assert int(out.num_steps[0]) == len(steps_scores_by_token)
    return float(out.returns[0, 0])


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("shaping", rltrain_kernels.SHAPING_MODES)
def test_repeating_a_high_scoring_step(backend, shaping):
    gen = torch.Generator().manual_seed(7)
    for trial in range(6):
        step_tokens, best, score_of = high_scoring_trial(trial, gen)
        returns = []
        for times in range(4):
            tokens, steps = response(step_tokens, best, times)
            returns.append(return_at_start([score_of[s] for s in steps], tokens, shaping, 0.5, backend))
        if shaping == "none":
            assert all(b > a + 0.9 for a, b in zip(returns, returns[1:])), returns
        else:
            assert all(b <= returns[0] + 1e-6 for b in returns[1:]), returns


@pytest.mark.parametrize("backend", backend_params())
def test_delta_and_min_form_returns_telescope(backend):
    """Delta: the return is the first step's (clipped) score; min-form: the lowest one."""
    scores = [0.2, 0.9, 0.4, 0.7, 0.1]
    tokens = [t for i in range(5) for t in (20 + i, SEP)]
    for shaping, first in (("delta", 0.2), ("clip_delta", min(0.2 - 0.5, 0.0)), ("min_form", 0.1),
                           ("clip_min_form", 0.1 - 0.5)):
        total = return_at_start(scores, tokens, shaping, 0.5, backend)
        assert total == pytest.approx(1.0 + first, abs=1e-6)


@pytest.mark.parametrize("backend", backend_params())
def test_min_form_return_to_go_is_the_suffix_minimum(backend):
    """The return-to-go at the first token of step k is min(c_k, ..., c_{K-1}) + outcome."""
    scores = [0.6, 0.9, 0.3, 0.8, 0.5]
    tokens = [t for i in range(5) for t in (20 + i, SEP)]
    out = rltrain_kernels.fused_reward_gae(
        torch.tensor([tokens]), torch.ones(1, 10, dtype=torch.bool), torch.zeros(1, 10), torch.tensor([1.0]),
        separator_ids=[SEP], step_scores=torch.tensor([scores]), shaping="min_form", backend=backend)
    starts = out.returns[0, ::2].tolist()
    assert starts == pytest.approx([1 + min(scores[k:]) for k in range(5)], abs=1e-6)
