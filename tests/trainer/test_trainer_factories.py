"""Learned scorers and the vLLM engine are imported lazily, with clear errors when missing."""
from __future__ import annotations

import sys

import pytest
import torch

from rltrain.config import load_config
from rltrain.rewards.factory import ScorerUnavailable, build_orm, build_prm


def test_missing_scorer_module_is_a_clear_error():
    cfg = load_config(None, ["reward.prm=/models/prm", "reward.scorer_module=no_such_scorers"]).reward
    with pytest.raises(ScorerUnavailable, match="rltrain.rewards.no_such_scorers"):
        build_prm(cfg, torch.device("cpu"))
    cfg = load_config(None, ["reward.orm=/models/orm", "reward.scorer_module=no_such_scorers"]).reward
    with pytest.raises(ScorerUnavailable, match="reward.orm"):
        build_orm(cfg, torch.device("cpu"))


def test_learned_scorer_goes_through_the_contract(monkeypatch):
    import types

    fake = types.ModuleType("rltrain.rewards.fake_scorers")

    class PRM:
        def score_steps(self, batch):
            return torch.zeros(batch.size, 1)

    fake.load_prm = lambda path, policy_tokenizer=None, device=None: PRM()
    fake.load_orm = lambda path, policy_tokenizer=None, device=None: object()  # breaks the contract
    monkeypatch.setitem(sys.modules, "rltrain.rewards.fake_scorers", fake)
    cfg = load_config(None, ["reward.prm=/m", "reward.orm=/m", "reward.scorer_module=fake_scorers"]).reward
    assert isinstance(build_prm(cfg, torch.device("cpu")), PRM)
    with pytest.raises(ScorerUnavailable, match="no OutcomeRewardModel"):
        build_orm(cfg, torch.device("cpu"))


def test_vllm_engine_missing_is_a_clear_error(monkeypatch):
    from rltrain.rollout.factory import build_engine

    monkeypatch.setitem(sys.modules, "rltrain.rollout.vllm_engine", None)  # import fails
    monkeypatch.setitem(sys.modules, "rltrain.config.vllm", None)
    cfg = load_config(None, ["rollout.engine=vllm"])
    with pytest.raises(RuntimeError, match="rollout.engine=vllm"):
        build_engine(cfg, None, None)
