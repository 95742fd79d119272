"""The import graph keeps its shape: layers only import downward and no modules form a
cycle. The layers are the ones docs/architecture.md draws; a new package must be placed."""

from __future__ import annotations

import ast
import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cityops"

# Bottom to top. A module may import its own layer's packages and any layer below.
LAYERS: list[set[str]] = [
    {"config", "domain"},  # settings and the vocabulary every layer speaks
    # the database engine and the tables; after-photos and their store; the lasting ticket
    # register; encryption keys, the payload codec, sealed caller contacts
    {"db", "media", "register", "privacy"},
    {"rules"},  # pure scenario rules, SLA and calendar
    {"org"},  # the organisation and routing (pure planning + the directory)
    {"activities"},  # I/O done for workflows
    {"workflows"},  # the ticket, deterministic
    {"service", "vitals", "report"},  # shared operations; vital signs; the report page
    {"workers"},  # worker processes, the Temporal connection, the local stack
    {"intake"},  # MQTT front door
    {"api"},  # HTTP front door
    {"cli", "benchmarks", "schema", "simulation"},  # composition: commands, benchmarks, every
    # table, the simulated day
]
LAYER_OF = {name: index for index, layer in enumerate(LAYERS) for name in layer}


def _modules() -> dict[str, Path]:
    """Module name -> file for every module of the package. The product folders are
    linked into cityops/, so the walk follows those links; Alembic's migration scripts
    are loaded by path, never imported, and are left out."""
    found: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent)
        if "migrations" in relative.parts:
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    for link in PACKAGE.iterdir():
        if link.is_symlink():
            for path in link.rglob("*.py"):
                parts = ["cityops", link.name, *path.relative_to(link).with_suffix("").parts]
                if parts[-1] == "__init__":
                    parts.pop()
                found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The cityops modules `name` imports at any depth of its code (deferred imports
    inside functions count: they are still dependencies)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("cityops.") and target != name:
                yield target
                break


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: set(_imports(name, path, known)) for name, path in modules.items()}


def _layer(module: str) -> int:
    top = module.split(".")[1]
    if top not in LAYER_OF:
        pytest.fail(f"{module}: package {top!r} has no layer; add it to LAYERS and the docs")
    return LAYER_OF[top]


def test_every_import_points_down_or_sideways() -> None:
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in targets
        if _layer(target) > _layer(module)
    )
    assert upward == []


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # A package's __init__ importing its own modules is not a cycle that hurts; anything
    # else is.
    assert [" -> ".join(cycle) for cycle in cycles] == []


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The walk itself works: a rules module importing the API would be caught."""
    module = tmp_path / "probe.py"
    module.write_text("from cityops.api.app import create_app\n", "utf-8")
    known = {"cityops.api.app", "cityops.rules.probe"}
    targets = set(_imports("cityops.rules.probe", module, known))
    assert targets == {"cityops.api.app"}
    assert _layer("cityops.api.app") > _layer("cityops.rules.probe")


def test_the_distribution_installs_one_top_level_name() -> None:
    """Nothing lands in site-packages under a generic name such as `api` or `rules`."""
    distribution = importlib.metadata.distribution("cityops")
    assert (distribution.read_text("top_level.txt") or "").split() == ["cityops"]
    for folder in ("workflows", "activities", "rules", "workers"):
        link = PACKAGE / folder
        assert link.is_symlink() and link.resolve() == PACKAGE.parent / folder
