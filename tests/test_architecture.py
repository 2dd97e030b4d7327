"""The layering holds: import-linter's contracts (.importlinter) are kept, every module sits in a layer,
providers use the front door, and no import cycle exists."""

from __future__ import annotations

import ast
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
        return grimp.build_graph(*root_packages(), cache_dir=None, exclude_type_checking_imports=True)
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


def layers() -> list[str]:
    """The packages of the `layers` contract, top first (a line may hold independent siblings: a | b)."""
    lines = contracts()["importlinter:contract:layers"]["layers"].split("\n")
    return [name.strip() for line in lines for name in line.split("|") if name.strip()]


def deprecated_paths() -> list[str]:
    """The top-level modules gateway 0.1 gave plugins, kept as re-exports of the front door."""
    return sorted(f"gateway.{path.stem}" for path in (ROOT / "gateway").glob("*.py") if path.stem != "__init__")


def test_every_core_module_sits_in_a_layer(graph: grimp.ImportGraph) -> None:
    """A new module must be placed in a layer (a package), or nothing would check what it imports."""
    packages = layers()
    unplaced = sorted(
        module
        for module in graph.find_descendants("gateway")
        if not any(module == package or module.startswith(package + ".") for package in packages)
        and module not in deprecated_paths()
    )
    assert unplaced == []


def test_the_top_of_the_package_stays_small() -> None:
    assert len(list((ROOT / "gateway").glob("*.py"))) <= 15


def test_every_deprecated_path_only_re_exports_and_warns() -> None:
    """Old paths hold no code of their own: a fix made there would never reach gateway.plugin's users."""
    for module in deprecated_paths():
        source = (ROOT / "gateway" / f"{module.split('.')[1]}.py").read_text(encoding="utf-8")
        statements = [line for line in source.splitlines() if line and not line.startswith((" ", '"', "Kept"))]
        assert all(line.startswith(("from ", "warn_moved(")) for line in statements), module
        assert f'warn_moved("{module}", ' in source


def test_every_package_says_its_job_in_one_sentence() -> None:
    for init in sorted((ROOT / "gateway").glob("*/__init__.py")):
        first_line = init.read_text(encoding="utf-8").splitlines()[0]
        assert first_line.startswith('"""') and first_line.rstrip('"').endswith("."), init


def test_providers_import_only_the_packages_public_for_plugins(graph: grimp.ImportGraph) -> None:
    """Their direct imports of the core are gateway.PLUGIN_API's packages (gateway.plugin's front door,
    not its modules), so a plugin never depends on how the contract is laid out inside."""
    providers = [name for name in root_packages() if name != "gateway"]
    public = set(PLUGIN_API) - {"gateway.plugin"}
    strays = sorted(
        f"{importer} -> {imported}"
        for provider in providers
        for importer in graph.find_descendants(provider) | {provider}
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.split(".")[0] == "gateway"
        and imported != "gateway.plugin"
        and not any(imported == name or imported.startswith(name + ".") for name in public - {"gateway"})
        and imported != "gateway"
    )
    assert strays == []


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


def test_no_name_of_the_contract_means_something_else_in_the_core() -> None:
    """`NotFound` was both the provider's error and the domain's: a reader could not tell which was meant."""
    import gateway.plugin

    contract = set(gateway.plugin.__all__)
    clashes = sorted(
        f"{path.relative_to(ROOT)}: {node.name}"
        for path in sorted((ROOT / "gateway").rglob("*.py"))
        if ROOT / "gateway" / "plugin" not in path.parents and path.parent != ROOT / "gateway"
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name in contract
    )
    assert clashes == []
