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

import rltrain_kernels
from conftest import backend_params
from test_reward_gae_properties import SEP, high_scoring_trial, response

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
        steps, best, score_of = high_scoring_trial(trial, gen)
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
    out = rltrain_kernels.fused_reward_advantages(tokens, mask, outcomes, separator_ids=[SEP], step_scores=scores,
                                          shaping=shaping, eta=ETA, backend=backend, **kw)
    assert int(out.num_steps[0]) == len(steps) + times
    return out.advantages[0, :3 * (best + 1)]


@pytest.mark.slow
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


@pytest.mark.slow
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


def token_whitened(trial, times, shaping):
    """REINFORCE++ as verl / OpenRLHF write it: the return-to-go whitened over the batch's TOKENS
    (masked mean and std), response 0's tokens up to the end of its best step."""
    steps, best, score_of, others, outcomes = trial
    tokens, mask, scores = group_batch(steps, best, times, score_of, others)
    out = rltrain_kernels.fused_reward_advantages(tokens, mask, outcomes, separator_ids=[SEP], step_scores=scores,
                                          shaping=shaping, eta=ETA, estimator="reinforce_pp", backend="torch")
    m = mask.float()
    mean = (out.returns * m).sum() / m.sum()
    std = (((out.returns - mean) ** 2 * m).sum() / m.sum()).sqrt()
    return ((out.returns - mean) / std)[0, :3 * (best + 1)]


@pytest.mark.parametrize("shaping", BOUNDED)
def test_token_level_whitening_makes_it_length_dependent(shaping):
    """Whitening over tokens weighs a longer response more in the mean and std, so the repeat
    moves every earlier advantage, upwards in some trials (hence full returns, one per response)."""
    rises = []
    for trial in make_trials(8, 5):
        rises.append(float((token_whitened(trial, 2, shaping) - token_whitened(trial, 0, shaping)).max()))
    assert max(rises) > 0.005, rises


def repeat_worst(trial, times, shaping, backend, **kw):
    """Response 0 with its LOWEST-scoring step repeated: its advantages up to the end of that step."""
    steps, best, score_of, others, outcomes = trial
    worst = min(range(len(steps)), key=lambda i: score_of[steps[i]])
    return earlier_advantages((steps, worst, score_of, others, outcomes), times, shaping, backend, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("shaping", ["delta", "clip_delta", "min_form", "clip_min_form"])
def test_under_delta_and_min_form_no_repeated_step_changes_an_earlier_advantage(backend, estimator, shaping):
    """The return-to-go from step k is c_k (Delta) or min_{j >= k} c_j (min-form): a copy of any
    step inserted after k changes neither it nor the full return, so nothing before it moves."""
    for trial in make_trials(4, 3):
        before = repeat_worst(trial, 0, shaping, backend, **ESTIMATORS[estimator])
        after = repeat_worst(trial, 2, shaping, backend, **ESTIMATORS[estimator])
        torch.testing.assert_close(after, before, rtol=0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("estimator", ["grpo_mean_only", "rloo"])
def test_without_std_scaling_a_lower_return_never_raises_an_earlier_advantage(backend, estimator):
    """Under Clip a repeated low-scoring step lowers the return-to-go of every earlier token and the
    full return by the same amount d: A drops by d (RLOO) or d (1 - 1/n) (mean-only GRPO)."""
    for trial in make_trials(8, 13):
        before = repeat_worst(trial, 0, "clip", backend, **ESTIMATORS[estimator])
        for times in (1, 3):
            after = repeat_worst(trial, times, "clip", backend, **ESTIMATORS[estimator])
            assert bool((after <= before + 1e-5).all()), (before.tolist(), after.tolist())


@pytest.mark.parametrize("backend", backend_params())
def test_std_scaling_can_pay_for_a_lower_return(backend):
    """The caveat of dividing by the group's std (docs/estimators.md): a response's own return is in
    it. Clip, eta 0.5; response 0 succeeds with steps scored 0.1, 0.9, 0.3 (c = -0.4, 0, -0.2), the
    three others fail without penalty (G = 0). Repeating the 0.3 step lowers G_0 from 0.4 to 0.2 and
    the group std from 0.2 to 0.1, so the second step's tokens (return-to-go 0.8 -> 0.6) go from
    (0.8 - 0.1) / 0.2 = 3.5 to (0.6 - 0.05) / 0.1 = 5.5. Mean-only GRPO and RLOO lower them."""
    score_of = {10: 0.1, 12: 0.9, 14: 0.3}
    others = [([40 + 10 * j], [0.9]) for j in range(3)]
    outcomes = torch.tensor([1.0, 0.0, 0.0, 0.0])
    second_step = slice(3, 6)
    got = {}
    for name in ("grpo", "grpo_mean_only", "rloo"):
        kw = ESTIMATORS[name]
        adv = [earlier_advantages(([10, 12, 14], 2, score_of, others, outcomes), times, "clip", backend,
                                  **kw)[second_step] for times in (0, 1)]
        got[name] = [float(a.mean()) for a in adv]
    assert got["grpo"] == pytest.approx([3.5, 5.5], abs=1e-5)
    assert got["grpo_mean_only"] == pytest.approx([0.8 - 0.1, 0.6 - 0.05], abs=1e-5)
    assert got["rloo"] == pytest.approx([0.8, 0.6], abs=1e-5)
