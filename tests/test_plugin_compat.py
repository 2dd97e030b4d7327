"""Plugin authors are users too: a plugin written against gateway 0.1's import paths still loads and
passes the kit, with a DeprecationWarning that names its own code (docs/plugins/contract.md).

The example provider is installed twice by pip, offline, into directories of its own: as it is
(importing `gateway.plugin`) and as a copy importing each name from the module gateway 0.1 kept it
in (`gateway.provider`, `gateway.settings`, `gateway.http` ...). Its own tests, the conformance kit,
run against each.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

import gateway.plugin
from tests.gateway.test_plugins import pip_install
from tests.gateway.test_scaffold import EXAMPLE_PROJECT, run_pytest

OLD_MODULES = ("provider", "settings", "http", "money", "iso4217", "fields", "snapshots", "validation", "hookspecs")


def old_home() -> dict[str, str]:
    """Each name of the front door -> the 0.1 module that defined it (from the modules' source)."""
    home: dict[str, str] = {}
    for module in OLD_MODULES:
        tree = ast.parse((Path(gateway.plugin.__file__).parent / f"{module}.py").read_text(encoding="utf-8"))
        for node in tree.body:
            targets: list[ast.expr] = []
            if isinstance(node, ast.ClassDef | ast.FunctionDef):
                home.setdefault(node.name, module)
            elif isinstance(node, ast.Assign):
                targets = [element for target in node.targets for element in getattr(target, "elts", [target])]
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    home.setdefault(target.id, module)
    return home


FRONT_DOOR_IMPORT = re.compile(r"^from gateway\.plugin import (\([^)]*\)|[^\n]*)$", re.MULTILINE)


def with_old_imports(source: str, home: dict[str, str]) -> str:
    def old_form(match: re.Match[str]) -> str:
        names = [name.strip() for name in match.group(1).strip("()").replace("\n", " ").split(",") if name.strip()]
        by_module: dict[str, list[str]] = {}
        for name in names:
            by_module.setdefault(home[name], []).append(name)
        return "\n".join(f"from gateway.{module} import {', '.join(names)}" for module, names in by_module.items())

    return FRONT_DOOR_IMPORT.sub(old_form, source)


# Names the front door gained after 0.1: no plugin written for 0.1 imports them, so they need no old path.
NEW_SINCE_0_1 = {"Clock", "FixedClock", "LeanSchema"}


def test_every_name_of_the_front_door_has_one_old_path_too() -> None:
    home = old_home()
    assert [name for name in gateway.plugin.__all__ if name not in home and name not in NEW_SINCE_0_1] == []


@pytest.fixture(scope="module")
def old_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example, importing from gateway 0.1's paths."""
    project = shutil.copytree(EXAMPLE_PROJECT, tmp_path_factory.mktemp("old") / EXAMPLE_PROJECT.name)
    home = old_home()
    rewritten = 0
    for path in project.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        old = with_old_imports(source, home)
        rewritten += old != source
        path.write_text(old, encoding="utf-8")
    assert rewritten >= 3 and "gateway.plugin" not in "".join(p.read_text() for p in project.rglob("*.py"))
    return project


def test_the_example_passes_the_kit_without_a_deprecation_warning(tmp_path: Path) -> None:
    site = pip_install(tmp_path / "site", EXAMPLE_PROJECT)
    result = run_pytest(EXAMPLE_PROJECT, site, "tests")  # its own configuration: filterwarnings = error
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_plugin_on_the_old_import_paths_loads_passes_the_kit_and_is_warned(old_example: Path, tmp_path: Path) -> None:
    site = pip_install(tmp_path / "site", old_example)
    result = run_pytest(old_example, site, "tests", "-W", "default::DeprecationWarning")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(
        r"gateway_example_provider/\w+\.py:\d+: DeprecationWarning: gateway\.provider is deprecated", output
    )
    assert "import from gateway.plugin instead" in output


def test_under_filterwarnings_error_the_old_paths_fail_its_own_tests(old_example: Path, tmp_path: Path) -> None:
    """How an author learns of the move: their suite (filterwarnings = error, as the example's) says so."""
    site = pip_install(tmp_path / "site", old_example)
    result = run_pytest(old_example, site, "tests")
    assert result.returncode != 0
    assert "DeprecationWarning: gateway." in result.stdout + result.stderr
