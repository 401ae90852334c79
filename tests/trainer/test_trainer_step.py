"""One PPO iteration in process: the typed phases agree on rows, and the engine hooks run in order."""
from __future__ import annotations

from typing import Iterable, Sequence

import pytest
import torch

from rltrain.config import load_config
from rltrain.rollout.types import RolloutEngine, RolloutOutput, SamplingParams
from rltrain.rollout.weight_sync import sync_weights
from trainer_runs import TINY


class Recording(RolloutEngine):
    """Another engine's generate / update_weights, recording every call the trainer makes."""

    def __init__(self, inner: RolloutEngine):
        self.inner, self.calls = inner, []

    def generate(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[list[RolloutOutput]]:
        self.calls.append("generate")
        return self.inner.generate(prompts, params)

    def update_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        self.calls.append("update_weights")
        self.inner.update_weights(named_tensors)

    def sleep(self) -> None:
        self.calls.append("sleep")

    def wake_up(self) -> None:
        self.calls.append("wake_up")

    def reset_prefix_cache(self) -> None:
        self.calls.append("reset_prefix_cache")

    def shutdown(self) -> None:
        self.calls.append("shutdown")


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    from rltrain.distributed.setup import init_distributed, shutdown_distributed
    from rltrain.ppo.trainer import PPOTrainer

    out = tmp_path_factory.mktemp("step")
    cfg = load_config(None, [*TINY, f"run.out_dir={out}", "reward.prm=rule"])
    t = PPOTrainer(cfg, init_distributed(), out)
    t.engine = Recording(t.engine)
    yield t
    t.close()
    assert t.engine.calls[-1] == "shutdown"
    shutdown_distributed()


def test_phases_share_one_set_of_rows(trainer):
    rollout = trainer._rollout()
    n, prompts = trainer.cfg.rollout.n, len(rollout.problems)
    assert rollout.experience.size == prompts * n == len(rollout.row_prompts())
    scores = trainer._score(rollout)
    assert list(scores.scoring.prompts) == rollout.row_prompts()
    assert torch.equal(scores.scoring.response_ids, rollout.experience.response_ids)
    assert scores.step_scores is not None and scores.step_scores.shape[0] == prompts * n
    est = trainer._estimate(rollout, scores)
    assert est.batch.old_logprobs.shape == est.batch.response_ids.shape == est.batch.advantages.shape
    assert est.process_return.shape == (prompts * n,)


def test_step_calls_the_engine_hooks_in_order(trainer):
    trainer.engine.calls.clear()
    before = trainer.iteration
    metrics = trainer.step()
    calls = trainer.engine.calls
    assert calls[:3] == ["generate", "sleep", "wake_up"] and calls[-1] == "reset_prefix_cache"
    assert set(calls[3:-1]) == {"update_weights"}
    assert trainer.iteration == before + 1 and metrics["samples"] == trainer.cfg.rollout.prompts * trainer.cfg.rollout.n


def test_a_minimal_engine_needs_no_weight_sync_hooks():
    from rltrain.models.tiny import build_tiny

    class Minimal(RolloutEngine):
        def __init__(self):
            self.loaded: dict[str, torch.Tensor] = {}

        def generate(self, prompts, params):
            return [[] for _ in prompts]

        def update_weights(self, named_tensors):
            self.loaded.update(named_tensors)

    model, _ = build_tiny(seed=0)
    engine = Minimal()
    stats = sync_weights(engine, model, bucket_bytes=30_000)
    assert stats.buckets > 1
    assert set(engine.loaded) == set(model.state_dict())
    assert all(torch.equal(engine.loaded[k], v) for k, v in model.state_dict().items())
