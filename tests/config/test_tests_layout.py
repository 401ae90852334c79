"""The test tree: test files in folders by area, helpers in tests/support, and no folder named like
a package Python could import instead (tests/ is on sys.path, so a folder tests/vllm would be what
`import vllm` finds where vLLM is not installed)."""
from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
OPTIONAL = {"vllm", "flash_attn", "flash_attn_interface", "kernels", "triton", "datasets", "tensorboard"}


def _folders() -> list[Path]:
    return sorted(p for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def test_tests_live_in_area_folders_and_helpers_in_support():
    assert sorted(p.name for p in TESTS.glob("*.py")) == ["conftest.py"]
    folders = _folders()
    assert "support" in {p.name for p in folders}
    assert not list((TESTS / "support").glob("test_*.py"))
    for folder in folders:
        if folder.name != "support":
            assert list(folder.glob("test_*.py")), f"{folder} holds no tests"
            assert not (folder / "__init__.py").exists(), folder


def test_a_test_module_imports_test_modules_of_its_own_folder_only():
    """Another folder's test module is importable only when pytest happened to collect that folder
    first (running one folder alone would fail); shared code belongs in tests/support."""
    bad = []
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name.startswith("test_") and not (path.parent / f"{name}.py").is_file():
                    bad.append(f"{path.relative_to(TESTS)}:{node.lineno} imports {name}")
    assert not bad, bad


def test_no_folder_is_named_like_an_importable_package():
    installed = set(importlib.metadata.packages_distributions())
    clashes = [p.name for p in _folders() if p.name in installed | OPTIONAL]
    assert not clashes, f"rename these folders under tests/: {clashes}"


def test_the_slow_marker_is_registered_and_strict(pytestconfig):
    assert any(line.startswith("slow:") for line in pytestconfig.getini("markers"))
    assert "--strict-markers" in pytestconfig.getini("addopts")  # a misspelt marker is an error
