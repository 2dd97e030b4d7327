"""The layering holds: import-linter's contracts (.importlinter) are kept, and no import cycle exists."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

from gateway import PLUGIN_API

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "gateway-example-provider"
CONFIG = ROOT / ".importlinter"


def contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(CONFIG, encoding="utf-8")
    return parser


def root_packages() -> list[str]:
    return contracts()["importlinter"]["root_packages"].split()


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(EXAMPLE))  # the example is not installed into the environment
    try:
        return grimp.build_graph(*root_packages(), cache_dir=None)
    finally:
        sys.path.remove(str(EXAMPLE))


def test_the_import_contracts_are_kept() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(ROOT)])}
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(CONFIG), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_core_module_is_either_public_for_plugins_or_forbidden_to_them(graph: grimp.ImportGraph) -> None:
    """A new module must be placed on one side, or the provider contract would silently allow it."""
    forbidden = set(contracts()["importlinter:contract:providers-use-the-public-contract"]["forbidden_modules"].split())
    top_level = graph.find_children("gateway")
    unplaced = sorted(top_level - forbidden - set(PLUGIN_API))
    both = sorted(forbidden & set(PLUGIN_API))
    assert (unplaced, both) == ([], [])


def test_the_core_names_no_provider() -> None:
    """Outside the kit's documentation, no built-in provider is named in the core's source."""
    names = {
        name.lower()
        for project in (ROOT / "plugins").glob("*/pyproject.toml")
        for name in tomllib.loads(project.read_text(encoding="utf-8"))["project"]["entry-points"]["gateway.providers"]
    }
    assert names >= {"iotpay", "stripe"}
    core = ROOT / "gateway"
    mentions = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted(core.rglob("*.py"))
        if core / "testing" not in path.parents
        for name in sorted(names)
        if name in path.read_text(encoding="utf-8").lower()
    ]
    assert mentions == []


def test_no_module_takes_part_in_an_import_cycle(graph: grimp.ImportGraph) -> None:
    """Stricter than the acyclic_siblings contract: also a package and its own modules (Tarjan's SCC)."""
    modules = sorted(module for module in graph.modules if module.split(".")[0] in root_packages())
    edges = {module: sorted(graph.find_modules_directly_imported_by(module) & set(modules)) for module in modules}
    cycles = [component for component in strongly_connected(edges) if len(component) > 1]
    assert cycles == []


def strongly_connected(edges: dict[str, list[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in edges[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return components


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert strongly_connected({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"], ["d"]]
