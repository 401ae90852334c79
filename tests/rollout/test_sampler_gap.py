"""The sampler_logprob_gap warning: once above the threshold, never below, naming value, threshold and
likely causes; the threshold's config key and its validation."""
from __future__ import annotations

import logging
import math

import pytest

from rltrain.config import ConfigError, load_config
from rltrain.metrics.sampler_gap import SamplerGapWarning, default_threshold, likely_causes
from rltrain.rollout.engine_dtype import EngineDtype

MATCHED = EngineDtype("float32", "float32", "test")
LOGGER = "rltrain.metrics.sampler_gap"


def test_warns_once_with_value_threshold_and_causes(caplog):
    causes = likely_causes(EngineDtype("bfloat16", "float32", "test"), top_p=1.0)
    warning = SamplerGapWarning(0.01, causes)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert warning.check(0.005, 1) is None
        message = warning.check(0.0312, 2)
        assert warning.check(0.5, 3) is None and warning.check(0.02, 4) is None
    assert [r.getMessage() for r in caplog.records] == [message]
    assert "sampler_logprob_gap 0.0312 > rollout.sampler_logprob_gap_warn 0.01 at iteration 2" in message
    assert "engine dtype bfloat16 vs trainer float32" in message and "stale weight sync" in message
    assert "top_p" in message and "not the dtype" not in message


def test_no_warning_at_or_below_the_threshold_or_when_disabled(caplog):
    below, off = SamplerGapWarning(0.01, likely_causes(MATCHED, 1.0)), SamplerGapWarning(0.0, [], enabled=False)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for gap in (0.0, 2.5e-7, 9.7e-6, 0.01):
            assert below.check(gap, 1) is None
        assert off.check(1.0, 1) is None
    assert caplog.records == [] and not below.warned and not off.warned


def test_a_nan_gap_warns():
    assert SamplerGapWarning(0.01, []).check(math.nan, 1) is not None


def test_causes_follow_the_configuration():
    plain = likely_causes(MATCHED, top_p=1.0)
    assert "stale weight sync" in plain[0] and not any("vs trainer" in c for c in plain)
    assert plain[-1] == "not the dtype: engine and trainer both compute in float32"
    mismatched = likely_causes(EngineDtype("auto", "float32", "test"), top_p=0.9)
    assert mismatched[0].startswith("engine dtype auto") and "rollout.top_p=0.9 < 1" in mismatched[1]
    assert "rollout.vllm.dtype=trainer" in mismatched[0]
    builtin = likely_causes(EngineDtype("float32", "bfloat16", "test"), top_p=1.0, engine="builtin")
    assert builtin[0].startswith("engine dtype float32 vs trainer bfloat16") and "rollout.engine=vllm" in builtin[0]


def test_default_threshold_depends_on_the_trainers_precision():
    assert default_threshold("float32") == 0.01 and default_threshold("bfloat16") == 0.05
    assert load_config(None, []).rollout.sampler_logprob_gap_warn is None
    assert load_config(None, ["rollout.sampler_logprob_gap_warn=0.2"]).rollout.sampler_logprob_gap_warn == 0.2
    assert load_config(None, ["rollout.sampler_logprob_gap_warn=0"]).rollout.sampler_logprob_gap_warn == 0.0


@pytest.mark.parametrize("value", ["-0.1", ".nan", ".inf", "nan"])
def test_bad_thresholds_name_the_key(value):
    with pytest.raises(ConfigError, match="config key `rollout.sampler_logprob_gap_warn`: must be a finite number"):
        load_config(None, [f"rollout.sampler_logprob_gap_warn={value}"])


def test_a_bad_threshold_exits_2_in_one_line(tmp_path):
    import subprocess
    import sys

    from trainer_runs import MAIN, REPO, env

    out = subprocess.run([sys.executable, str(MAIN), "rollout.sampler_logprob_gap_warn=-1",
                          f"run.out_dir={tmp_path / 'run'}"], cwd=REPO, env=env(), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == ["rltrain: config key `rollout.sampler_logprob_gap_warn`: must be a "
                                               "finite number >= 0 (or null for the default), got -1.0"]
