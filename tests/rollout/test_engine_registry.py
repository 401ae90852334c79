"""Rollout engines are rows of `rltrain.config.engines.ROLLOUT_ENGINES`: the config's choices, the
preflight check, the model builder, the dtype rule and the factory read the row, never the name."""
from __future__ import annotations

import importlib
import typing
from types import MappingProxyType

import pytest

from rltrain.config import ConfigError, load_config
from rltrain.config.engines import ENGINES, ROLLOUT_ENGINES, EngineSpec
from rltrain.config.schema import RolloutConfig

STUB = EngineSpec(builder="engine_stub_module:build", rollout_copy=False, description="a test engine",
                  requires=("no_such_package_here",), dtype_key="rollout.vllm.dtype", dtype_fix="set it")


def test_the_config_offers_exactly_the_registered_engines():
    assert typing.get_args(RolloutConfig.model_fields["engine"].annotation) == ENGINES == tuple(ROLLOUT_ENGINES)
    with pytest.raises(ConfigError, match="rollout.engine"):
        load_config(None, ["rollout.engine=sglang"])


@pytest.mark.parametrize("name", ENGINES)
def test_every_builder_resolves_without_importing_its_package(name):
    module, _, function = ROLLOUT_ENGINES[name].builder.partition(":")
    assert callable(getattr(importlib.import_module(module), function))  # vllm_engine imports no vllm


def _with_stub(monkeypatch, *modules):
    table = MappingProxyType({**ROLLOUT_ENGINES, "stub": STUB})
    for module in modules:
        monkeypatch.setattr(module, "ROLLOUT_ENGINES", table)
    cfg = load_config(None)  # a config naming the new engine (the schema's choices are fixed at import)
    return cfg.model_copy(update={"rollout": cfg.rollout.model_copy(update={"engine": "stub"})})


def test_a_new_row_is_checked_built_and_logged_from_its_spec(monkeypatch, tmp_path):
    import rltrain.preflight as preflight
    import rltrain.rollout.engine_dtype as engine_dtype
    import rltrain.rollout.factory as factory

    cfg = _with_stub(monkeypatch, preflight, factory, engine_dtype)
    with pytest.raises(ConfigError, match="rollout.engine`: stub needs `no_such_package_here` and "
                                          "`engine_stub_module`, which cannot be imported"):
        preflight.check_environment(cfg)

    built = {}
    stub = type("engine_stub_module", (), {"build": staticmethod(lambda *a: built.setdefault("args", a) and "engine")})
    monkeypatch.setitem(__import__("sys").modules, "engine_stub_module", stub)
    lines: list[str] = []
    assert factory.build_engine(cfg, "lm", "tok", tmp_path, device_type="cpu", log=lines.append) == "engine"
    assert built["args"] == (cfg, "lm", "tok", tmp_path, "cpu")
    assert lines == ["rollout engine dtype float32: rollout.vllm.dtype=trainer: the trainer computes in float32 "
                     "(parameters are float32 on cpu)"]  # its dtype_key decides, as for vLLM


def test_a_missing_engine_module_is_one_clear_error(monkeypatch):
    import rltrain.rollout.factory as factory

    cfg = _with_stub(monkeypatch, factory)
    with pytest.raises(RuntimeError, match="rollout.engine=stub needs engine_stub_module and no_such_package_here"):
        factory.build_engine(cfg, None, None, device_type="cpu")


def test_the_rollout_copy_and_the_gap_hint_come_from_the_row(monkeypatch):
    import rltrain.metrics.sampler_gap as sampler_gap
    from rltrain.rollout.engine_dtype import EngineDtype

    monkeypatch.setattr(sampler_gap, "ROLLOUT_ENGINES", MappingProxyType({**ROLLOUT_ENGINES, "stub": STUB}))
    causes = sampler_gap.likely_causes(EngineDtype("bfloat16", "float32", "test"), 1.0, "stub")
    assert causes[0].endswith("(set it)")
    assert ROLLOUT_ENGINES["builtin"].rollout_copy and not ROLLOUT_ENGINES["vllm"].rollout_copy
