"""The `gateway` command: one entry point for running and operating the gateway."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MCH_ID, MCH_KEY
from tests.support.keys import TEST_API_KEY
from tests.support.processes import REPO_ROOT, child_env, flask_cli


def gateway_command(config: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("gateway", path=str(Path(sys.executable).parent))
    assert executable, "the gateway console script is not installed (setup.cfg entry point)"
    return subprocess.run(
        [executable, *args], cwd=REPO_ROOT, env=child_env(config), capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def check_config(sqlite_url: str, simulator: Any, tmp_path: Path) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": sqlite_url,
        "GATEWAY_INSTANCE_PATH": str(tmp_path),
        "IOTPAY_MCH_ID": MCH_ID,
        "IOTPAY_SECRET_KEY": MCH_KEY,
        "IOTPAY_API_URL": f"{simulator.url}/v1",
        "GATEWAY_ADMIN_KEYS": "ops=admin-key-0123456789abcdef",
        "GATEWAY_API_KEYS": TEST_API_KEY,
    }


def test_check_reaches_the_database_and_the_provider_and_says_what_is_enabled(check_config: dict[str, str]) -> None:
    result = gateway_command(check_config, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    database: sqlite, schema at" in result.stdout
    assert f"ok    provider iotpay: IOTPay accepted the signature of merchant {MCH_ID}" in result.stdout
    assert "console: ops (" in result.stdout
    assert MCH_KEY not in result.stdout + result.stderr and "admin-key-0123456789abcdef" not in result.stdout


def test_check_fails_when_the_provider_refuses_the_signature(check_config: dict[str, str]) -> None:
    result = gateway_command({**check_config, "IOTPAY_SECRET_KEY": "0" * 32}, "check")
    assert result.returncode == 1
    assert "FAIL  provider iotpay: refused" in result.stdout
    assert "0" * 32 not in result.stdout + result.stderr


def test_check_fails_on_an_unmigrated_database_and_on_refused_configuration(
    check_config: dict[str, str], tmp_path: Path
) -> None:
    empty = {**check_config, "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    result = gateway_command(empty, "check")
    assert result.returncode == 1 and "run `gateway db upgrade`" in result.stdout
    refused = gateway_command({**check_config, "GATEWAY_ADMIN_KEYS": "short"}, "check")
    assert refused.returncode == 2 and "FAIL  configuration: GATEWAY_ADMIN_KEYS" in refused.stdout


def test_check_outside_the_sandbox_without_api_keys_refuses_in_one_line_saying_what_to_set(
    check_config: dict[str, str],
) -> None:
    result = gateway_command({**check_config, "GATEWAY_API_KEYS": ""}, "check")

    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        "FAIL  configuration: GATEWAY_API_KEYS: is required outside the sandbox: set it to one or more long random "
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
        "gateway run: GATEWAY_API_KEYS: is required outside the sandbox: set it to one or more long random keys, "
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
