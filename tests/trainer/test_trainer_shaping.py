"""Every PRM shaping mode (and no PRM, and an ORM-free outcome) runs through a PPO iteration."""
from __future__ import annotations

import math

import pytest
import torch

from rltrain_kernels.options import SHAPING_MODES as MODES
from rltrain.config import load_config, with_overrides
from trainer_runs import TINY


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    from rltrain.distributed.setup import init_distributed, shutdown_distributed
    from rltrain.ppo.trainer import PPOTrainer

    out = tmp_path_factory.mktemp("shaping")
    cfg = load_config(None, [*TINY, f"run.out_dir={out}", "reward.prm=rule", "reward.eta=0.5"])
    info = init_distributed()
    t = PPOTrainer(cfg, info, out)
    yield t
    t.close()
    shutdown_distributed()


@pytest.mark.parametrize("mode", MODES)
def test_shaping_mode_runs(trainer, mode):
    trainer.cfg = with_overrides(trainer.cfg, [f"reward.shaping={mode}"])
    m = trainer.step()
    for key in ("success_rate", "prm_return_raw", "prm_return_shaped", "value_loss", "entropy"):
        assert math.isfinite(m[key]), key
    if mode == "none":
        assert m["prm_return_shaped"] == pytest.approx(m["prm_return_raw"], abs=1e-5)
    if mode.startswith("clip"):
        assert m["prm_return_shaped"] <= 1e-6  # min(s - eta, 0) never pays


def test_no_prm(trainer):
    trainer.prm = None
    m = trainer.step()
    assert m["prm_return_raw"] == 0.0 and m["prm_return_shaped"] == 0.0


def test_step_checker_scores():
    from rltrain.rewards.step_checker import ArithmeticStepChecker

    c = ArithmeticStepChecker()
    # without a question: steps judged on their own
    assert c.score_text_steps(["3 + 4 = 7\n\n", "7 * 2 = 15\n\n", "hello\n\n", "\\boxed{15}<|im_end|>"]) == \
        [0.9, 0.1, 0.1, 0.9]
    assert c.score_text_steps(["3 + 4 = 7\n\n", "3 + 4 = 7\n\n", "\\boxed{8}"]) == [0.9, 0.9, 0.1]
    assert c.score_text_steps(["\\boxed{8}"]) == [0.1]


def test_step_checker_follows_the_question():
    from rltrain.rewards.step_checker import ArithmeticStepChecker, reference_chain
    from rltrain.tasks.arithmetic import ArithmeticConfig, make_problems

    chain = reference_chain("<|im_start|>user\nStart with 3. Add 4, then multiply by 2. What is the result?"
                            "\nSolve step by step.<|im_end|>\n<|im_start|>assistant\n")
    assert chain == (3, 7, 14)
    assert reference_chain("What is 2 + 2?") is None
    assert reference_chain("Start with 3. Divide by 2. What is the result?") is None
    for p in make_problems(50, 1, ArithmeticConfig(min_ops=1, max_ops=3)):
        assert reference_chain(p.question)[-1] == p.answer

    c = ArithmeticStepChecker()
    good = ["3 + 4 = 7\n\n", "7 * 2 = 14\n\n", "\\boxed{14}"]
    assert c.score_text_steps(good, chain) == [0.9, 0.9, 0.9]
    # restating a step keeps the solution on track: still scored high (the hack raw PRM invites)
    assert c.score_text_steps(good[:1] + good, chain) == [0.9, 0.9, 0.9, 0.9]
    # a right equation off the question's path, and its result boxed: both bad
    assert c.score_text_steps(["3 * 2 = 6\n\n", "\\boxed{6}"], chain) == [0.1, 0.1]
    # stopping after one of two operations: the boxed value is not the answer
    assert c.score_text_steps(["3 + 4 = 7\n\n", "\\boxed{7}"], chain) == [0.9, 0.1]
    # a wrong equation whose result happens to be on the path is still wrong
    assert c.score_text_steps(["3 + 4 = 14\n\n", "\\boxed{14}"], chain) == [0.1, 0.9]
    assert c.score_text_steps(["hello\n\n"], chain) == [0.1]


def test_step_checker_reads_each_prompt():
    from rltrain_kernels import segment_steps
    from rltrain.rewards.base import ScoringBatch
    from rltrain.rewards.step_checker import ArithmeticStepChecker

    steps = [["3 * 2 = 6\n\n", "\\boxed{6}"], ["3 * 2 = 6\n\n", "\\boxed{6}"]]
    ids = torch.ones(2, 4, dtype=torch.int64)
    mask = torch.ones(2, 4, dtype=torch.bool)
    prompts = ["Start with 3. Multiply by 2. What is the result?", "Start with 3. Add 4. What is the result?"]
    batch = ScoringBatch(prompts, ids, mask, segment_steps(ids, mask, []), steps)
    assert ArithmeticStepChecker().score_steps(batch).tolist() == [[pytest.approx(0.9)] * 2, [pytest.approx(0.1)] * 2]
    assert ArithmeticStepChecker(question_aware=False).score_steps(batch).tolist() == [[pytest.approx(0.9)] * 2] * 2


def test_repeated_steps_and_groups():
    from rltrain.metrics.response_stats import repeated_steps
    from rltrain.batching import even_groups

    assert repeated_steps([["1 + 1 = 2\n\n", "1 + 1 = 2\n\n", " 1 + 1 = 2", "\\boxed{2}"], ["x"]]) == (2, 5)
    groups = even_groups([5, 1, 3, 9, 2], 2)
    assert sorted(sum(groups, [])) == [0, 1, 2, 3, 4] and len(groups) == 2


def test_kl_controller():
    from rltrain.ppo.kl_controller import KLController

    kl = KLController(0.1, adaptive=True, target=1.0, horizon=100)
    kl.update(2.0, 10)
    assert kl.coef == pytest.approx(0.1 * 1.02)
    fixed = KLController(0.1)
    fixed.update(5.0, 100)
    assert fixed.coef == 0.1


def test_value_loss_clipping():
    from rltrain.ppo.losses import clipped_value_loss

    v, old, ret = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    loss, clipped = clipped_value_loss(v, old, ret, torch.tensor([[True, True]]), 0.2, 2.0)
    # token 0: max((1-0)^2, (0.2-0)^2) = 1; token 1: max(1, 1) = 1 -> 0.5 * 2 / 2
    assert float(loss) == pytest.approx(0.5) and float(clipped) == 0.0
