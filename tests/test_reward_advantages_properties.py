"""The paper's point survives the critic-free estimators: under Clip, Delta and min-form,
repeating a high-scoring step never raises the advantage of any token before it.

A group of four responses (the samples of one prompt); response 0 repeats its best step 0-3
extra times, the other three stay as they are. The advantages of response 0's tokens up to the
end of that step (the same positions in every variant) must not rise. With raw PRM rewards
(`none`) they do rise, and so they do under GRPO's literal per-reward normalisation (every
reward shifted by the group mean), which is why the estimators normalise full returns
(docs/estimators.md).
"""
import pytest
import torch

import kernels
from conftest import backend_params
from test_reward_gae_properties import SEP, response

BOUNDED = ["clip", "delta", "clip_delta", "min_form", "clip_min_form"]
ESTIMATORS = {
    "grpo": dict(estimator="grpo", group_size=4),
    "grpo_mean_only": dict(estimator="grpo", group_size=4, scale_std=False),
    "rloo": dict(estimator="rloo", group_size=4),
    "reinforce_pp": dict(estimator="reinforce_pp"),
}
LITERAL = dict(estimator="grpo", group_size=4, normalize="rewards")
ETA = 0.5


def make_trials(count: int, seed: int):
    """Per trial: response 0's steps, its best step, and three other responses (steps, scores), outcomes."""
    gen = torch.Generator().manual_seed(seed)
    trials = []
    for trial in range(count):
        K = 2 + trial % 4
        steps = [10 + 2 * i for i in range(K)]
        score_of = {s: float(torch.rand((), generator=gen)) for s in steps}
        best = max(range(K), key=lambda i: score_of[steps[i]])
        score_of[steps[best]] = 0.95
        others = []
        for j in range(3):
            k = int(torch.randint(1, 6, (), generator=gen))
            other_steps = [40 + 10 * j + 2 * i for i in range(k)]
            others.append((other_steps, [float(torch.rand((), generator=gen)) for _ in range(k)]))
        outcomes = (torch.rand(4, generator=gen) < 0.4).float()
        trials.append((steps, best, score_of, others, outcomes))
    return trials


def group_batch(steps, best, times, score_of, others):
    """(tokens [4, T], mask, step scores [4, K]) with response 0 repeating step `best` `times` times."""
    tokens0, steps0 = response(steps, best, times)
    rows = [(tokens0, [score_of[s] for s in steps0])]
    for other_steps, scores in others:
        rows.append((response(other_steps, 0, 0)[0], scores))
    T = max(len(t) for t, _ in rows)
    K = max(len(s) for _, s in rows)
    tokens = torch.zeros(4, T, dtype=torch.int64)
    mask = torch.zeros(4, T, dtype=torch.bool)
    scores = torch.zeros(4, K)
    for i, (toks, sc) in enumerate(rows):
        tokens[i, :len(toks)] = torch.tensor(toks)
        mask[i, :len(toks)] = True
        scores[i, :len(sc)] = torch.tensor(sc)
    return tokens, mask, scores


def earlier_advantages(trial, times, shaping, backend, **kw):
    """Response 0's advantages at the tokens up to the end of its best step (before any repeat)."""
    steps, best, score_of, others, outcomes = trial
    tokens, mask, scores = group_batch(steps, best, times, score_of, others)
    out = kernels.fused_reward_advantages(tokens, mask, outcomes, separator_ids=[SEP], step_scores=scores,
                                          shaping=shaping, eta=ETA, backend=backend, **kw)
    assert int(out.num_steps[0]) == len(steps) + times
    return out.advantages[0, :3 * (best + 1)]


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("shaping", BOUNDED)
def test_repeating_a_high_scoring_step_never_raises_an_earlier_advantage(backend, estimator, shaping):
    for trial in make_trials(6, 11):
        before = earlier_advantages(trial, 0, shaping, backend, **ESTIMATORS[estimator])
        for times in (1, 2, 3):
            after = earlier_advantages(trial, times, shaping, backend, **ESTIMATORS[estimator])
            assert bool((after <= before + 1e-5).all()), (times, before.tolist(), after.tolist())


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_raw_prm_rewards_do_raise_it(backend, estimator):
    """The same test fails without a bound: each repeat of a 0.95 step pays again."""
    for trial in make_trials(3, 11):
        before = earlier_advantages(trial, 0, "none", backend, **ESTIMATORS[estimator])
        after = earlier_advantages(trial, 1, "none", backend, **ESTIMATORS[estimator])
        assert bool((after > before + 1e-3).all()), (before.tolist(), after.tolist())


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("shaping", BOUNDED)
def test_per_reward_normalisation_makes_the_return_length_dependent(backend, shaping):
    """GRPO's literal per-reward normalisation (DeepSeekMath): one more reward shifts the sum of
    normalised rewards by -mean / std, so repeating a step changes the earlier advantages. Under
    Clip (step rewards <= 0, a negative mean when most outcomes are 0) it raises them, the hack
    Clip removes; under the telescoped modes the mean is mostly positive and each step costs a
    length penalty instead."""
    changes, rises = [], []
    for trial in make_trials(8, 5):
        before = earlier_advantages(trial, 0, shaping, backend, **LITERAL)
        after = earlier_advantages(trial, 2, shaping, backend, **LITERAL)
        changes.append(float((after - before).abs().max()))
        rises.append(float((after - before).max()))
    assert max(changes) > 0.05, changes
    if shaping in ("clip", "clip_min_form"):
        assert max(rises) > 0.05, rises
