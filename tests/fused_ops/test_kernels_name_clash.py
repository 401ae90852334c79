"""`rltrain_kernels` and Hugging Face's `kernels` (a transformers dependency) in one environment.

The repository's `kernels/` folder holds the library's source but is no importable package, so
from the repository root (on sys.path in tests, subprocesses and for anyone running Python
there) `import kernels` finds Hugging Face's package, and transformers, which imports it when
building models, gets the real one.
"""
import importlib.metadata
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def hub_kernels_version() -> str | None:
    try:
        return importlib.metadata.version("kernels")
    except importlib.metadata.PackageNotFoundError:
        return None


SCRIPT = textwrap.dedent("""
    import importlib.metadata, os, sys
    root = sys.argv[1]
    import torch
    import rltrain_kernels as K
    from rltrain_kernels import fused_reward_gae
    assert os.path.realpath(K.__file__).startswith(os.path.join(root, "kernels", "rltrain_kernels")), K.__file__
    mask = torch.ones(2, 5, dtype=torch.bool)
    out = fused_reward_gae(torch.zeros(2, 5, dtype=torch.long), mask, torch.zeros(2, 5), torch.ones(2))
    assert out.returns[:, 0].tolist() == [1.0, 1.0]
    try:
        importlib.metadata.version("kernels")
        hub = True
    except importlib.metadata.PackageNotFoundError:
        hub = False
    if hub:
        import kernels
        where = os.path.realpath(getattr(kernels, "__file__", None) or "")
        assert not where.startswith(root), where
        assert not hasattr(kernels, "fused_reward_gae"), where
        from transformers.utils.import_utils import is_kernels_available
        assert is_kernels_available(), "transformers does not see Hugging Face's kernels package"
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
    for config_cls, model_cls in ((Qwen2Config, Qwen2ForCausalLM), (LlamaConfig, LlamaForCausalLM)):
        cfg = config_cls(vocab_size=64, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1)
        model = model_cls(cfg).eval()
        with torch.no_grad():
            logits = model(torch.randint(0, 64, (2, 7))).logits
        assert logits.shape == (2, 7, 64) and torch.isfinite(logits).all()
    print("ok", "hub" if hub else "no-hub")
""")


@pytest.mark.slow
@pytest.mark.parametrize("where", ["repo_root", "elsewhere"])
def test_fused_ops_and_transformers_models_side_by_side(where, tmp_path):
    cwd = ROOT if where == "repo_root" else tmp_path
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], cwd=cwd, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[:2] == ["ok", "hub" if hub_kernels_version() else "no-hub"], result.stdout


def test_import_kernels_at_the_repo_root_is_hugging_faces_or_nothing():
    script = ("import importlib.util, os; spec = importlib.util.find_spec('kernels'); "
              "print(spec.origin if spec else 'none', list(spec.submodule_search_locations or []) if spec else [])")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    origin = result.stdout.split()[0]
    if hub_kernels_version():
        assert origin.endswith("__init__.py") and not origin.startswith(str(ROOT)), result.stdout
    else:  # only the folder itself, as an empty namespace portion: none of the library's names
        assert origin in ("none", "None"), result.stdout
    assert not (ROOT / "kernels" / "__init__.py").exists()
    assert not list((ROOT / "kernels").glob("*.py"))
