"""The scoring forwards of one PPO iteration run only when something reads them: no reference
forward without a KL term, and the first mini-batch's old log-probs from its own training forward
(the same update, losses and metrics as with a separate scoring pass)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from rltrain.config import load_config, with_overrides
from rltrain.ppo.kl_controller import KLController
from rltrain.ppo.scoring_passes import scoring_passes
from trainer_runs import TINY


@pytest.mark.parametrize("coef, adaptive, loss_coef, reference, reuse", [
    (0.0, False, 0.0, False, True),
    (0.05, False, 0.0, True, False),
    (0.05, True, 0.0, True, False),
    (0.0, False, 0.1, True, True),  # the k3 loss term reads the reference, the rewards read no log-probs
])
def test_scoring_passes(coef, adaptive, loss_coef, reference, reuse):
    passes = scoring_passes(coef, adaptive, loss_coef)
    assert (passes.reference, passes.reuse_first_minibatch) == (reference, reuse)


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    from rltrain.distributed.setup import init_distributed, shutdown_distributed
    from rltrain.ppo.trainer import PPOTrainer

    out = tmp_path_factory.mktemp("passes")
    cfg = load_config(None, [*TINY, f"run.out_dir={out}", "reward.prm=rule", "ppo.epochs=2", "rollout.n=4",
                             "ppo.actor_lr=1e-3", "ppo.estimator.critic_lr=1e-3", "ppo.warmup_steps=0"])
    t = PPOTrainer(cfg, init_distributed(), out)
    yield t
    t.close()
    shutdown_distributed()


@pytest.fixture(scope="module")
def rollout_scores(trainer):
    """A rollout and its scores, with random outcomes: the barely warmed-up tiny policy fails every
    problem, and equal rewards would make every advantage, gradient and update 0."""
    rollout = trainer._rollout()
    scores = trainer._score(rollout)
    outcome = torch.randn(rollout.experience.size, generator=torch.Generator().manual_seed(0))
    return rollout, dataclasses.replace(scores, outcome=outcome)


def _count_rows(module: torch.nn.Module) -> tuple[list[int], torch.utils.hooks.RemovableHandle]:
    rows: list[int] = []
    return rows, module.register_forward_pre_hook(lambda _, args: rows.append(args[0].shape[0]))


@pytest.mark.parametrize("kl, loss_coef, called", [
    (KLController(0.0), 0.0, False),
    (KLController(0.05), 0.0, True),
    (KLController(0.05, adaptive=True, target=0.1, horizon=100), 0.0, True),
    (KLController(0.0), 0.1, True),
])
@pytest.mark.slow
def test_reference_forward_runs_only_when_a_kl_term_reads_it(trainer, rollout_scores, kl, loss_coef, called):
    rollout, scores = rollout_scores
    base_cfg, base_kl = trainer.cfg, trainer.kl
    trainer.cfg, trainer.kl = with_overrides(base_cfg, [f"kl.loss_coef={loss_coef}"]), kl
    rows, hook = _count_rows(trainer.reference)
    try:
        plan = trainer._minibatch_plan(rollout.experience.size)
        est = trainer._estimate(rollout, scores, first_minibatch=plan[0][0])
    finally:
        hook.remove()
        trainer.cfg, trainer.kl = base_cfg, base_kl
    assert (sum(rows) == rollout.experience.size) if called else rows == []
    assert est.reference == called
    assert torch.isnan(est.batch.ref_logprobs).all() != called


def _state(t) -> dict:
    return {name: {k: v.clone() for k, v in module.state_dict().items()}
            for name, module in (("actor", t.actor), ("critic", t.critic))}


def _restore(t, saved: dict, opt_states: list) -> None:
    t.actor.load_state_dict(saved["actor"])
    t.critic.load_state_dict(saved["critic"])
    for obj, state in zip((t.actor_opt, t.critic_opt, t.actor_sched, t.critic_sched), opt_states):
        obj.load_state_dict(state)


@pytest.mark.slow
def test_first_minibatch_reuse_gives_the_separate_pass_update(trainer, rollout_scores):
    """Two epochs of two mini-batches from the same start: with the first mini-batch's old log-probs
    taken from its training forward vs from a separate scoring pass. Only the float rounding of a
    forward over differently padded rows could separate the two (ratio exactly 1 vs 1 +- ~1e-7); on
    the 2-core CPU box where this was written the two came out bit-identical."""
    import copy

    rollout, scores = rollout_scores
    saved = _state(trainer)
    opt_states = [copy.deepcopy(o.state_dict())
                  for o in (trainer.actor_opt, trainer.critic_opt, trainer.actor_sched, trainer.critic_sched)]
    plan = trainer._minibatch_plan(rollout.experience.size)
    first = plan[0][0]
    results = {}
    for mode, rows in (("separate", None), ("reuse", first)):
        _restore(trainer, saved, opt_states)
        actor_rows, hook = _count_rows(trainer.actor)
        est = trainer._estimate(rollout, scores, first_minibatch=rows)
        hook.remove()
        if rows is not None:  # scored here: the other rows only; the first mini-batch's are still 0
            assert sum(actor_rows) == rollout.experience.size - len(first)
            assert est.on_policy_rows is not None and not est.batch.old_logprobs[first].any()
        stats = trainer._train(est, plan)
        results[mode] = (est, stats, _state(trainer))
    (sep, sep_stats, sep_w), (reu, reu_stats, reu_w) = results["separate"], results["reuse"]
    assert reu.on_policy_rows is not None and sep.on_policy_rows is None
    mask = sep.batch.response_mask
    # the filled old log-probs / entropy are the pre-update policy's, as the scoring pass computed them
    torch.testing.assert_close(reu.batch.old_logprobs * mask, sep.batch.old_logprobs * mask, rtol=0, atol=1e-5)
    torch.testing.assert_close(reu.entropy * mask, sep.entropy * mask, rtol=0, atol=1e-5)
    assert reu.batch.old_logprobs[first][mask[first]].ne(0).all()
    torch.testing.assert_close(reu.batch.advantages, sep.batch.advantages, rtol=0, atol=0)  # rewards read no log-prob
    assert reu_stats.optimizer_steps == sep_stats.optimizer_steps == 4
    assert reu_stats.policy_loss == pytest.approx(sep_stats.policy_loss, rel=1e-5, abs=1e-7)
    assert reu_stats.value_loss == pytest.approx(sep_stats.value_loss, rel=1e-5, abs=1e-7)
    assert reu_stats.clipped_sum == sep_stats.clipped_sum
    moved = 0.0
    for name in ("actor", "critic"):
        for key, w in sep_w[name].items():
            torch.testing.assert_close(reu_w[name][key], w, rtol=1e-4, atol=1e-6, msg=f"{name}.{key}")
            moved = max(moved, float((w - saved[name][key]).abs().max()))
    assert moved > 1e-4  # the steps did change the weights, far beyond the tolerance
