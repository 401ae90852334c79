"""Reward-model formats are rows of `rltrain.config.reward_formats.REWARD_FORMATS`: the config's
choices, the folder detection and the loaders read the row (its module imported only when used)."""
from __future__ import annotations

import importlib
import json
import sys
import typing
from types import MappingProxyType, SimpleNamespace

import pytest

from rltrain.config.reward_formats import ORM_FORMATS, PRM_FORMATS, REWARD_FORMATS, RewardFormat, formats_for
from rltrain.config.schema import RewardConfig

NEW = RewardFormat(("prm",), "format_stub_module:parts", "a test layout", marker_file="stub_head.bin")


def test_the_config_offers_exactly_the_registered_formats():
    assert typing.get_args(RewardConfig.model_fields["prm_format"].annotation) == ("auto",) + PRM_FORMATS
    assert typing.get_args(RewardConfig.model_fields["orm_format"].annotation) == ("auto",) + ORM_FORMATS
    assert PRM_FORMATS == formats_for("prm") and "value-head" in set(PRM_FORMATS) & set(ORM_FORMATS)
    with pytest.raises(ValueError, match="roles"):
        RewardFormat(("critic",), "m:f", "x")


@pytest.mark.parametrize("name", list(REWARD_FORMATS))
def test_every_loader_resolves(name):
    module, _, function = REWARD_FORMATS[name].loader.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_the_value_head_marker_is_the_checkpoint_file_name():
    from rltrain.rewards.value_head import HEAD_WEIGHTS

    assert REWARD_FORMATS["value-head"].marker_file == HEAD_WEIGHTS


def test_a_new_row_is_detected_and_loaded_from_its_spec(monkeypatch, tmp_path):
    import rltrain.rewards.formats as formats
    import rltrain.rewards.loading as loading

    table = MappingProxyType({"stub": NEW, **REWARD_FORMATS})
    monkeypatch.setattr(formats, "REWARD_FORMATS", table)
    monkeypatch.setattr(loading, "REWARD_FORMATS", table)
    (tmp_path / "stub_head.bin").write_bytes(b"")
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    assert formats.detect_format(tmp_path, "prm") == "stub"  # its marker file, before any architecture
    with pytest.raises(formats.UnknownRewardModelError):
        formats.detect_format(tmp_path, "orm")  # a PRM-only row is no ORM candidate
    with pytest.raises(formats.UnknownRewardModelError, match="stub_head.bin"):
        formats.detect_format(tmp_path / "missing", "prm")  # the message lists the new rule

    seen = {}
    stub = SimpleNamespace(parts=lambda folder, tok, role, options: seen.update(args=(folder, tok, role, options))
                           or loading.ScorerParts("model"))
    monkeypatch.setitem(sys.modules, "format_stub_module", stub)
    options = loading.LoadOptions(scalar_head="raw")
    assert loading.load_parts("stub", tmp_path, "tok", "prm", options).model == "model"
    assert seen["args"] == (tmp_path, "tok", "prm", options)
