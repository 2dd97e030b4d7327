"""The `gateway` command: one entry point for running and operating the gateway."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import ProviderHarness
from tests.gateway.conftest import EXAMPLE, neutral_settings
from tests.support.keys import TEST_API_KEY
from tests.support.processes import REPO_ROOT, child_env, flask_cli


def gateway_command(config: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("gateway", path=str(Path(sys.executable).parent))
    assert executable, "the gateway console script is not installed (setup.cfg entry point)"
    return subprocess.run(
        [executable, *args], cwd=REPO_ROOT, env=child_env(config), capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def check_config(sqlite_url: str, neutral_provider: ProviderHarness, tmp_path: Path) -> dict[str, str]:
    """The gateway with Example Pay as its only provider (loaded by module path: not installed)."""
    return {
        **neutral_settings(neutral_provider, "http://127.0.0.1"),
        "PYTHONPATH": str(EXAMPLE),
        "GATEWAY_DATABASE_URL": sqlite_url,
        "GATEWAY_INSTANCE_PATH": str(tmp_path),
        "GATEWAY_ADMIN_KEYS": "ops=admin-key-0123456789abcdef",
        "GATEWAY_API_KEYS": TEST_API_KEY,
    }


def test_check_reaches_the_database_and_the_provider_and_says_what_is_enabled(
    check_config: dict[str, str], neutral_provider: ProviderHarness
) -> None:
    result = gateway_command(check_config, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    database: sqlite, schema at" in result.stdout
    assert "ok    provider example: Example Pay accepted the gateway's signature" in result.stdout
    assert "console: ops (" in result.stdout
    secret = neutral_provider.secrets()[0]
    assert secret not in result.stdout + result.stderr and "admin-key-0123456789abcdef" not in result.stdout


def test_check_fails_when_the_provider_refuses_the_signature(check_config: dict[str, str]) -> None:
    result = gateway_command({**check_config, "EXAMPLE_SECRET": "0" * 32}, "check")
    assert result.returncode == 1
    assert "FAIL  provider example: refused: bad_signature" in result.stdout
    assert "0" * 32 not in result.stdout + result.stderr


def test_check_fails_on_an_unmigrated_database_and_on_refused_configuration(
    check_config: dict[str, str], tmp_path: Path
) -> None:
    empty = {**check_config, "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    result = gateway_command(empty, "check")
    assert result.returncode == 1 and "run `gateway db upgrade`" in result.stdout
    refused = gateway_command({**check_config, "GATEWAY_ADMIN_KEYS": "short"}, "check")
    assert refused.returncode == 2 and refused.stderr.startswith("Error: GATEWAY_ADMIN_KEYS: ")


def test_check_outside_the_sandbox_without_api_keys_refuses_in_one_line_saying_what_to_set(
    check_config: dict[str, str],
) -> None:
    result = gateway_command({**check_config, "GATEWAY_API_KEYS": ""}, "check")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: GATEWAY_API_KEYS: is required outside the sandbox: set it to one or more long random "
        "keys, comma-separated (e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or set "
        "GATEWAY_SANDBOX=1"
    ]


def test_run_outside_the_sandbox_without_api_keys_refuses_in_one_line_before_gunicorn_starts(
    check_config: dict[str, str],
) -> None:
    result = gateway_command({**check_config, "GATEWAY_API_KEYS": ""}, "run", "--bind", "127.0.0.1:9")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: GATEWAY_API_KEYS: is required outside the sandbox: set it to one or more long random keys, "
        "comma-separated (e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or set "
        "GATEWAY_SANDBOX=1"
    ]


def test_the_long_flask_form_keeps_working(check_config: dict[str, str]) -> None:
    result = flask_cli(check_config, "gateway", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    database" in result.stdout


def test_the_command_lists_every_operation() -> None:
    result = gateway_command({}, "--help")
    assert result.returncode == 0, result.stderr
    for command in ("run", "db", "reconcile", "worker", "settle-refund", "check"):
        assert f"  {command} " in result.stdout


def test_check_fails_when_no_provider_is_enabled(sqlite_url: str, tmp_path: Path) -> None:
    result = gateway_command({"GATEWAY_DATABASE_URL": sqlite_url, "GATEWAY_INSTANCE_PATH": str(tmp_path)}, "check")
    assert result.returncode == 1
    assert "FAIL  providers: none enabled" in result.stdout


def test_checks_success_is_a_few_lines_without_the_migration_tools_log(check_config: dict[str, str]) -> None:
    result = gateway_command(check_config, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alembic" not in (result.stdout + result.stderr).lower()
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) <= 13  # (the account breakers line: docs/routing.md)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (lambda tmp: "postgresql://gateway:pw-never-shown@127.0.0.1:1/gateway", "FAIL  database: refuses connections"),
        (
            lambda tmp: f"sqlite:///{tmp / 'empty.sqlite3'}",
            "FAIL  database: sqlite, schema at nothing, the code expects",
        ),
    ],
    ids=["refuses-connections", "no-schema"],
)
def test_check_says_what_is_wrong_with_the_database_in_words(
    check_config: dict[str, str], tmp_path: Path, url: Any, says: str
) -> None:
    result = gateway_command({**check_config, "GATEWAY_DATABASE_URL": url(tmp_path)}, "check")
    assert result.returncode == 1
    assert says in result.stdout
    assert "pw-never-shown" not in result.stdout + result.stderr


def test_the_help_lists_the_gateways_commands_only() -> None:
    result = gateway_command({}, "--help")
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("Commands:")[1].split()
    listed = [word for word in commands if word.islower() and word.replace("-", "").isalpha()]
    names = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert names == {
        "run", "check", "db", "reconcile", "worker", "settle-refund", "prune", "new-provider",
        "merchants", "keys", "accounts", "routing",
    }, listed  # fmt: skip
    options = result.stdout.split("Options:")[1].split("Commands:")[0]
    assert options.split() == ["--help", "Show", "this", "message", "and", "exit."]
    for absent in ("--app", "--env-file", "--debug", "--version", "limiter", "shell", "routes"):
        assert absent not in result.stdout
    db_help = gateway_command({}, "db", "--help")
    assert {line.split()[0] for line in db_help.stdout.split("Commands:")[1].splitlines() if line.strip()} == {
        "current",
        "downgrade",
        "upgrade",
    }


def test_db_current_prints_the_current_and_the_newest_revision(check_config: dict[str, str], tmp_path: Path) -> None:
    from gateway.store.database_state import head_revision

    head = head_revision()
    current = gateway_command(check_config, "db", "current")
    assert current.returncode == 0, current.stderr
    assert current.stdout.splitlines() == [f"current: {head}", f"head:    {head}"]
    empty = gateway_command(
        {**check_config, "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}"}, "db", "current"
    )
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.splitlines() == [
        "current: none (no schema) (behind: run `gateway db upgrade`)",
        f"head:    {head}",
    ]
    assert empty.stderr == ""


# -- a refused configuration is one line, whatever starts the gateway ----------------------------

SHORT_SECRET = {"GATEWAY_WEBHOOK_URL": "http://127.0.0.1:9000/webhooks", "GATEWAY_WEBHOOK_SECRET": "whsec_try_me"}
REFUSAL = "GATEWAY_WEBHOOK_SECRET: must be at least 16 characters"


@pytest.mark.parametrize(
    "args",
    [
        ("check",),
        ("reconcile",),
        ("db", "upgrade"),
        ("db", "current"),
        ("worker", "--once"),
        ("prune", "--older-than", "30"),
    ],
    ids=lambda args: " ".join(args),
)
def test_a_refused_setting_is_one_line_on_stderr_for_every_command(
    check_config: dict[str, str], args: tuple[str, ...]
) -> None:
    result = gateway_command({**check_config, **SHORT_SECRET}, *args)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"Error: {REFUSAL} (a long random value)"], result.stderr
    assert "whsec_try_me" not in result.stdout + result.stderr


def test_gateway_run_refuses_in_one_line_before_starting_gunicorn(check_config: dict[str, str]) -> None:
    result = gateway_command({**check_config, **SHORT_SECRET, "GATEWAY_SANDBOX": "1"}, "run", "--bind", "127.0.0.1:1")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"Error: {REFUSAL} (a long random value)"], result.stderr
    assert result.stdout == ""


def test_the_flask_form_refuses_in_one_line_too(check_config: dict[str, str]) -> None:
    result = flask_cli({**check_config, **SHORT_SECRET}, "gateway", "reconcile")
    assert result.returncode != 0
    assert result.stderr.splitlines() == [f"gateway: refused to start: {REFUSAL} (a long random value)"], result.stderr


def test_gunicorn_stops_with_the_refusal_in_one_line_and_no_traceback(
    check_config: dict[str, str], tmp_path: Path
) -> None:
    from tests.support.processes import free_port

    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{free_port()}", "wsgi:app"],
        cwd=REPO_ROOT,
        env=child_env({**check_config, **SHORT_SECRET}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    assert output.count(f"gateway: refused to start: {REFUSAL}") == 1
    assert result.returncode == 4  # gunicorn's "the app failed to load"
    assert "Booting worker" not in output  # the master refused before starting any worker
