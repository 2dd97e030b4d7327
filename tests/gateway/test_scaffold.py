"""`gateway new-provider NAME`: the skeleton it writes installs, passes the kit as generated, and
leaves the core's own suite green when installed beside it.

The generated plugin is installed by pip, offline, into a directory of its own (never into this
environment, so there is nothing to uninstall afterwards), and its tests and the core's run in
subprocesses with that directory on PYTHONPATH, as they would with the plugin installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.scaffold import HANDWRITTEN, SUFFIX, TEMPLATE, new_provider, template_from
from tests.gateway.test_plugins import pip_install

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLE_PROJECT = REPOSITORY / "examples" / "gateway-example-provider"


def run_pytest(cwd: Path, site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The command needs no database: SQLite only (overrides conftest's both-databases)."""
    return sqlite_url


@pytest.fixture(scope="module")
def acme_pay(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the generated project, the directory it is installed in)."""
    projects = tmp_path_factory.mktemp("generated")
    project = new_provider("acme_pay", projects, "Acme Pay")
    return project, pip_install(tmp_path_factory.mktemp("acme-site"), project)


def test_the_template_is_the_example_with_its_names_as_tokens() -> None:
    template = {
        path.relative_to(TEMPLATE).as_posix(): path.read_text(encoding="utf-8")
        for path in TEMPLATE.rglob(f"*{SUFFIX}")
        if path.relative_to(TEMPLATE).as_posix().removesuffix(SUFFIX) not in HANDWRITTEN
    }
    expected = template_from(EXAMPLE_PROJECT)
    assert sorted(template) == sorted(expected), "run `make scaffold-template` after changing the example"
    stale = [path for path, text in expected.items() if template[path] != text]
    assert not stale, f"the template differs from the example in {stale}: run `make scaffold-template`"


def test_new_provider_writes_an_installable_project(app: Any, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(args=["gateway", "new-provider", "acmepay", "--into", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "gateway-acmepay"
    assert f"wrote {root}" in result.output
    written = sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())
    assert written == [
        "README.md",
        "gateway_acmepay/__init__.py",
        "gateway_acmepay/client.py",
        "gateway_acmepay/config.py",
        "gateway_acmepay/harness.py",
        "gateway_acmepay/plugin.py",
        "gateway_acmepay/provider.py",
        "gateway_acmepay/sandbox/__init__.py",
        "gateway_acmepay/sandbox/app.py",
        "gateway_acmepay/schemas.py",
        "gateway_acmepay/signing.py",
        "pyproject.toml",
        "tests/test_conformance.py",
    ]
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points."gateway.providers"]\nacmepay = "gateway_acmepay.plugin"' in pyproject
    text = "\n".join(path.read_text() for path in root.rglob("*") if path.is_file())
    assert "xample" not in text and "{{" not in text, "a name of the example or a token was left behind"


def test_the_gateway_command_writes_one_too(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "gateway"  # the console script installed with the gateway
    result = subprocess.run(
        [str(command), "new-provider", "acme", "--into", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "gateway-acme" / "gateway_acme" / "provider.py").is_file()


@pytest.mark.parametrize(
    ("name", "problem"),
    [("Acme", "is not a provider name"), ("acme-pay", "is not a provider name"), ("1pay", "is not a provider name")],
)
def test_new_provider_refuses_a_name_that_is_not_one(app: Any, tmp_path: Path, name: str, problem: str) -> None:
    into = tmp_path / "plugins"
    result = app.test_cli_runner().invoke(args=["gateway", "new-provider", name, "--into", str(into)])
    assert result.exit_code == 2
    assert problem in result.output
    assert not into.exists()


def test_new_provider_never_writes_over_a_directory(app: Any, tmp_path: Path) -> None:
    (tmp_path / "gateway-acmepay").mkdir()
    (tmp_path / "gateway-acmepay" / "mine.txt").write_text("keep")
    result = app.test_cli_runner().invoke(args=["gateway", "new-provider", "acmepay", "--into", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists: nothing was written" in result.output
    assert [path.name for path in (tmp_path / "gateway-acmepay").iterdir()] == ["mine.txt"]


def test_a_generated_plugin_installed_by_pip_passes_the_kit_as_generated(acme_pay: tuple[Path, Path]) -> None:
    project, site = acme_pay
    assert (site / "gateway_acme_pay" / "plugin.py").is_file()
    result = run_pytest(project, site, "tests")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 25 and "failed" not in summary, summary


def test_the_core_suite_stays_green_with_an_unrelated_plugin_installed(acme_pay: tuple[Path, Path]) -> None:
    """Plugin discovery and configuration, where a stranger's plugin shows, with Acme Pay installed."""
    _, site = acme_pay
    listing = "from gateway.testing.live import installed_plugins; print(installed_plugins())"
    found = subprocess.run(
        [sys.executable, "-c", listing], env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True
    )
    assert "'acme_pay'" in found.stdout, found.stdout + found.stderr
    modules = ["tests/gateway/test_plugins.py", "tests/gateway/test_config.py"]
    result = run_pytest(REPOSITORY, site, *modules, "-k", "not Conformance")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.strip().splitlines()[-1]
