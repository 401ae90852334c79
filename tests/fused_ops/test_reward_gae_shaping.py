"""The shaping-mode registry (kernels/rltrain_kernels/options.py): torch-free, the single source of the modes."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import rltrain_kernels
from conftest import backend_params
from rltrain_kernels.options import SHAPING_MODES, SHAPING_SPECS, ShapingSpec, shaping_spec
from reference_loops import loop_shaped
from test_reward_gae import poison_outputs, random_inputs

ROOT = Path(__file__).resolve().parents[2]


def run_python(script: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_reading_the_modes_does_not_import_torch():
    out = run_python("""
        import sys
        from rltrain_kernels.options import SHAPING_MODES
        assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith(("torch", "kernels")))
        import rltrain_kernels
        assert rltrain_kernels.SHAPING_MODES is SHAPING_MODES
        assert "torch" not in sys.modules
        print(",".join(SHAPING_MODES))
    """)
    assert out.strip() == ",".join(SHAPING_MODES)


def test_public_name_is_the_registry():
    assert rltrain_kernels.SHAPING_MODES is SHAPING_MODES
    assert SHAPING_MODES == tuple(SHAPING_SPECS)
    assert "SHAPING_MODES" in rltrain_kernels.__all__


def test_specs_follow_the_design():
    """DESIGN.md: clip modes clip at eta, delta modes telescope, min-form modes telescope the
    suffix minima (PURE)."""
    assert dict(SHAPING_SPECS) == {
        "none": ShapingSpec(clip=False, delta=False),
        "clip": ShapingSpec(clip=True, delta=False),
        "delta": ShapingSpec(clip=False, delta=True),
        "clip_delta": ShapingSpec(clip=True, delta=True),
        "min_form": ShapingSpec(clip=False, delta=True, min_form=True),
        "clip_min_form": ShapingSpec(clip=True, delta=True, min_form=True),
    }
    with pytest.raises(ValueError, match="delta"):
        ShapingSpec(clip=False, delta=False, min_form=True)  # a sum of suffix minima is not bounded
    with pytest.raises(TypeError):
        SHAPING_SPECS["new"] = ShapingSpec(clip=False, delta=False)  # type: ignore[index]


@pytest.mark.parametrize("bad", ["min", "", None, ["clip"], 1])
def test_unknown_modes_are_rejected_with_the_list(bad):
    with pytest.raises(ValueError, match="shaping") as err:
        shaping_spec("op", bad)
    assert all(mode in str(err.value) for mode in SHAPING_MODES)


def test_every_mode_has_a_reference_definition():
    for mode in SHAPING_MODES:
        assert len(loop_shaped([0.3, 0.9], 2, mode, 0.5)) == 2


@pytest.mark.parametrize("backend", backend_params())
def test_both_backends_take_a_mode_from_the_registry(backend, monkeypatch, device):
    """A mode that exists only in the registry reaches the torch reference and the Triton launch."""
    if backend == "triton":
        poison_outputs(monkeypatch)
    import rltrain_kernels.options as shaping

    monkeypatch.setattr(shaping, "SHAPING_SPECS", {**SHAPING_SPECS, "clip_then_delta": ShapingSpec(True, True),
                                                   "raw": ShapingSpec(False, False)})
    batch, values, outcome, scores, _, _ = random_inputs(6, 25, 4, False)
    args = (batch.tokens.to(device), batch.mask.to(device), values.to(device), outcome.to(device))
    kw = dict(separator_ids=[1, 2], step_scores=scores.to(device), eta=0.4, prm_coef=0.9, backend=backend)
    for new, old, other in (("clip_then_delta", "clip_delta", "none"), ("raw", "none", "clip_delta")):
        got = rltrain_kernels.fused_reward_gae(*args, shaping=new, **kw)
        want = rltrain_kernels.fused_reward_gae(*args, shaping=old, **kw)
        differs = rltrain_kernels.fused_reward_gae(*args, shaping=other, **kw)
        for name in ("rewards", "advantages", "returns", "process_return"):
            torch.testing.assert_close(getattr(got, name), getattr(want, name), rtol=0, atol=0)
        assert not torch.equal(got.process_return, differs.process_return)
