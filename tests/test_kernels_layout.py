"""The kernels package layout (kernels/__init__.py): <op>.py / <op>_torch.py / <op>_triton.py,
backends that import only shared modules, and a lazy top level."""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import kernels

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kernels"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
BACKEND_SUFFIXES = ("_torch", "_triton")
OPS = sorted({m.rsplit("_", 1)[0] for m in MODULES if m.endswith(BACKEND_SUFFIXES)})
API_WITHOUT_BACKENDS = ["linear_policy_loss", "packed_rewards"]  # run other ops' backends / ops
PUBLIC = ["BACKENDS", "ESTIMATORS", "PolicyLoss", "SHAPING_MODES", "RewardAdvantages", "RewardGAE", "StepDelimiter",
          "StepSegments", "fused_reward_advantages", "fused_reward_advantages_packed", "fused_reward_gae",
          "fused_reward_gae_packed", "linear_logprobs", "linear_ppo_policy_loss",
          "ppo_policy_loss", "resolve_backend", "segment_steps"]


def kernel_imports(module: str) -> set[str]:
    """The kernels submodules `module` imports (at the top or inside functions)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "kernels":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kernels."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("kernels."))
    return found & set(MODULES)


def test_every_op_has_api_torch_and_triton_modules():
    assert OPS == ["policy_loss", "reward_advantages", "reward_gae", "segmentation"]
    for op in OPS:
        assert {op, f"{op}_torch", f"{op}_triton"} <= set(MODULES), op


def test_backends_import_only_shared_modules():
    api = set(OPS) | set(API_WITHOUT_BACKENDS)
    for op in OPS:
        for backend in (f"{op}_torch", f"{op}_triton"):
            bad = {m for m in kernel_imports(backend) if m in api or m.endswith(BACKEND_SUFFIXES)}
            assert not bad, f"kernels/{backend}.py imports {sorted(bad)}"


def test_shared_modules_import_no_api_module():
    api = set(OPS) | set(API_WITHOUT_BACKENDS)
    backends = {m for m in MODULES if m.endswith(BACKEND_SUFFIXES)}
    for module in set(MODULES) - api - backends:
        assert not kernel_imports(module) & api, module


def test_public_names_unchanged_and_listed():
    assert kernels.__all__ == PUBLIC
    assert set(PUBLIC) <= set(dir(kernels))
    for name in PUBLIC:
        assert getattr(kernels, name) is not None


def test_top_level_is_lazy():
    script = textwrap.dedent("""
        import sys
        import kernels
        assert "torch" not in sys.modules and "kernels.reward_gae" not in sys.modules
        from kernels import fused_reward_gae, policy_loss_torch
        assert fused_reward_gae is kernels.fused_reward_gae is sys.modules["kernels.reward_gae"].fused_reward_gae
        assert policy_loss_torch is sys.modules["kernels.policy_loss_torch"]
        try:
            kernels.not_a_name
        except AttributeError as err:
            assert "not_a_name" in str(err)
        else:
            raise AssertionError("kernels.not_a_name resolved")
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
