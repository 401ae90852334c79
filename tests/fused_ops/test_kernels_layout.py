"""The fused-ops library's layout (kernels/rltrain_kernels/__init__.py): op families with an API,
a torch backend and a Triton backend of the same functions, one dispatch, backends that import
no API module, a torch-free options module, a lazy top level, and no import of `rltrain`."""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import rltrain_kernels

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "kernels" / "rltrain_kernels"
MODULES = sorted(".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in PACKAGE.rglob("*.py"))
FAMILIES = ["policy_loss", "rewards", "steps"]  # op families: public ops, a backend pair
BACKENDS = ("torch_backend", "triton_backend")
SHARED = {"checks", "dispatch", "options"}
PUBLIC = ["BACKENDS", "DEFAULT_STD_FLOOR", "ESTIMATORS", "ESTIMATOR_SPECS", "EstimatorSpec", "GROUPED",
          "MAX_STEP_DELIMITER_BYTES", "NORMALIZATIONS", "PPOOptions", "PolicyLoss", "RewardAdvantages", "RewardGAE", "SHAPING_MODES", "SHAPING_SPECS", "ShapingSpec",
          "StepDelimiter", "StepSegments", "delimiter_bytes", "fused_reward_advantages",
          "fused_reward_advantages_packed", "fused_reward_gae", "fused_reward_gae_packed", "linear_logprobs",
          "linear_ppo_policy_loss", "pack_tokens", "ppo_policy_loss", "resolve_backend", "segment_steps",
          "split_text", "unpack_tokens"]


def imports_of(module: str) -> set[str]:
    """Every module `module` imports (at the top or inside functions), as dotted names."""
    path = PACKAGE.joinpath(*module.split(".")).with_suffix(".py")
    if not path.exists():
        path = PACKAGE.joinpath(*module.split("."), "__init__.py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def library_imports(module: str) -> set[str]:
    """The library's own modules `module` imports, relative to the package (e.g. "steps.checks")."""
    prefix = "rltrain_kernels."
    return {name[len(prefix):] for name in imports_of(module) if name.startswith(prefix)} & set(MODULES)


def is_backend(module: str) -> bool:
    return module.rsplit(".", 1)[-1] in BACKENDS


def test_every_family_has_both_backends_with_the_same_functions():
    for family in FAMILIES + ["scans"]:
        pair = [f"{family}.{b}" for b in BACKENDS]
        assert set(pair) <= set(MODULES), family
    for family, functions in [("steps", {"segment"}), ("rewards", {"reward_gae", "reward_advantages"}),
                              ("policy_loss", {"ppo_terms", "logits_grad", "token_logprobs"})]:
        for backend in BACKENDS:
            tree = ast.parse((PACKAGE / family / f"{backend}.py").read_text())
            defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            assert functions <= defined, (family, backend, functions - defined)


def test_no_flat_per_op_modules_remain():
    top = {m for m in MODULES if "." not in m}
    assert top == {"__init__", "checks", "dispatch", "options"}, top
    assert not list((ROOT / "kernels").glob("*.py")), "kernels/ must hold no importable module"
    assert not (ROOT / "kernels" / "__init__.py").exists()


def test_one_dispatch():
    """Only dispatch.py chooses a backend; API modules never import a backend module directly."""
    for module in MODULES:
        if is_backend(module) or module == "dispatch":
            continue
        backends = {m for m in library_imports(module) if is_backend(m)}
        assert not backends, f"{module} imports {sorted(backends)} (use dispatch.backend_module)"
        source = imports_of(module)
        assert "rltrain_kernels.dispatch.resolve_backend" not in source or module == "__init__", module


def test_backends_import_no_api_module():
    api = {m for m in MODULES if m.split(".")[0] in FAMILIES and not is_backend(m)
           and m.rsplit(".", 1)[-1] not in {"checks", "terms", "delimiter", "__init__"}}
    assert {"steps.segment", "rewards.gae", "rewards.advantages", "rewards.packed", "policy_loss.loss",
            "policy_loss.linear"} == api
    for module in MODULES:
        if is_backend(module) or module in SHARED or module.endswith(("checks", "terms", "delimiter")):
            bad = library_imports(module) & api
            assert not bad, f"{module} imports the API module(s) {sorted(bad)}"


def test_torch_backends_never_import_triton():
    for module in MODULES:
        if module.endswith("torch_backend"):
            assert not {n for n in imports_of(module) if n.split(".")[0] == "triton"}, module
            bad = {m for m in library_imports(module) if m.endswith("triton_backend")}
            assert not bad, module


def test_library_never_imports_rltrain():
    for module in MODULES:
        bad = {n for n in imports_of(module) if n == "rltrain" or n.startswith("rltrain.")}
        assert not bad, f"{module} imports {sorted(bad)}"


def test_options_is_torch_free():
    assert library_imports("options") == set()
    assert not {n for n in imports_of("options") if n.split(".")[0] in {"torch", "triton", "numpy"}}


def test_public_names_listed():
    assert sorted(rltrain_kernels.__all__) == PUBLIC
    assert set(PUBLIC) <= set(dir(rltrain_kernels))
    for name in PUBLIC:
        assert getattr(rltrain_kernels, name) is not None


def test_config_limits_come_from_the_library():
    from rltrain.config import schema

    from rltrain_kernels.options import MAX_STATES
    from rltrain_kernels.steps.delimiter import StepDelimiter

    assert schema.MAX_STEP_DELIMITER_BYTES == rltrain_kernels.MAX_STEP_DELIMITER_BYTES == MAX_STATES - 1
    longest = "x" * rltrain_kernels.MAX_STEP_DELIMITER_BYTES
    StepDelimiter.from_token_texts(["a", "x"], longest)  # the config's bound is the automaton's
    try:
        StepDelimiter.from_token_texts(["a", "x"], longest + "x")
    except ValueError:
        pass
    else:
        raise AssertionError("a delimiter one byte over the limit was accepted")


def test_top_level_is_lazy():
    script = textwrap.dedent("""
        import sys
        import rltrain_kernels
        from rltrain_kernels.options import SHAPING_MODES
        assert rltrain_kernels.SHAPING_MODES is SHAPING_MODES
        assert "torch" not in sys.modules and "rltrain_kernels.rewards.gae" not in sys.modules
        from rltrain_kernels import fused_reward_gae
        from rltrain_kernels.policy_loss import torch_backend
        gae = sys.modules["rltrain_kernels.rewards.gae"]
        assert fused_reward_gae is rltrain_kernels.fused_reward_gae is gae.fused_reward_gae
        assert torch_backend is sys.modules["rltrain_kernels.policy_loss.torch_backend"]
        try:
            rltrain_kernels.not_a_name
        except AttributeError as err:
            assert "not_a_name" in str(err)
        else:
            raise AssertionError("rltrain_kernels.not_a_name resolved")
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
