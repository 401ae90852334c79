"""The import graph of rltrain and the fused-ops library, read from the source (every import,
function-local ones included): config at the base, no cycles between modules or packages, no
private name imported from another module."""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = {"rltrain": REPO / "rltrain", "rltrain_kernels": REPO / "kernels" / "rltrain_kernels"}
CONFIG_MAY_IMPORT = ("rltrain.config", "rltrain.errors", "rltrain_kernels.options")
CONFIG_THIRD_PARTY = {"pydantic", "annotated_types", "yaml"}  # annotated_types: pydantic's own


def _modules() -> dict[str, Path]:
    mods = {}
    for top, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = (top, *path.relative_to(folder).with_suffix("").parts)
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The project module `name` (a module or a name inside one) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import statement of `module`."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            found.append((base, [a.name for a in node.names], node.lineno))
    return found


def _edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module in MODULES:
        for target, names, _ in _imports(module):
            owners = {_owner(f"{target}.{n}") for n in names} or {_owner(target)}
            graph[module] |= {o for o in owners if o is not None and o != module}
    return graph


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _order(graph: dict[str, set[str]]) -> list[str]:
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_the_sources_are_read():
    assert {"rltrain.main", "rltrain.config.schema", "rltrain.ppo.run", "rltrain_kernels.options",
            "rltrain_kernels.rewards.gae"} <= set(MODULES)
    graph = _edges()
    assert "rltrain.config.schema" in graph["rltrain.ppo.trainer"]
    assert "rltrain.tasks.builtin" in graph["rltrain.ppo.trainer"]  # a module-level import
    assert "rltrain.ppo.run" in graph["rltrain.main"]  # a function-local one
    with pytest.raises(pytest.fail.Exception, match="a -> b -> a|b -> a -> b"):
        _order({"a": {"b"}, "b": {"a"}})


def test_no_module_imports_a_module_that_imports_it_back():
    _order(_edges())


def test_packages_form_layers():
    """A package-level cycle (config -> tasks -> config) is an upward import even when no module
    cycle closes; every package must sit above all it imports."""
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in _edges().items():
        packages[_package(module)] |= {_package(t) for t in targets if _package(t) != _package(module)}
    order = _order(packages)
    assert order.index("rltrain.config") < order.index("rltrain.models") < order.index("rltrain.ppo")


def test_config_is_the_base():
    """rltrain.config imports no component package, no torch: every section model lives there."""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for module in (m for m in MODULES if m == "rltrain.config" or m.startswith("rltrain.config.")):
        for target, _, line in _imports(module):
            where = f"{MODULES[module].relative_to(REPO)}:{line} imports {target}"
            top = target.split(".")[0]
            if top in ("rltrain", "rltrain_kernels"):
                assert target.startswith(CONFIG_MAY_IMPORT), where
            else:
                assert top in stdlib | CONFIG_THIRD_PARTY, where


def test_no_private_name_crosses_a_module():
    bad = []
    for module in MODULES:
        for target, names, line in _imports(module):
            if _owner(target) is None:
                continue
            for name in names:
                if name.startswith("_") and _owner(f"{target}.{name}") != module:
                    bad.append(f"{MODULES[module].relative_to(REPO)}:{line} imports {target}.{name}")
    assert not bad, "\n".join(bad)


def test_the_fused_ops_never_import_rltrain():
    bad = [f"{MODULES[m].relative_to(REPO)}:{line}" for m in MODULES if m.startswith("rltrain_kernels")
           for target, _, line in _imports(m) if target.split(".")[0] == "rltrain"]
    assert not bad, bad
