"""schemathesis against the admin API (/v1/admin) of a live gateway on PostgreSQL, with an admin key:
every check (server errors, status codes, content types, the answers against their documented
schemas, auth) in the examples, coverage and fuzzing phases. Stored accounts at Example Pay."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer
from tests.support.merchants import ADMIN_SECRET, merchants_app

CONFIG = Path(__file__).with_name("admin-fuzz.toml")


@pytest.fixture
def fuzzed_admin(
    app_factory: Any, neutral_provider: ProviderHarness, gateway_server: LiveServer
) -> Iterator[LiveServer]:
    """The gateway with Example Pay, on the database `database_url` names (emptied by that fixture)."""
    # schemathesis's auth checks send wrong keys on purpose: no lockout, or every call would be a 429.
    merchants_app(app_factory, neutral_provider, gateway_server, GATEWAY_AUTH_FAILURE_LIMIT="100000/minute")
    yield gateway_server


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_schemathesis_finds_no_server_error_in_the_admin_api(fuzzed_admin: LiveServer, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--no-color",
        "--config-file", str(CONFIG),
        "run", f"{fuzzed_admin.url}/openapi.json",
        "--include-path-regex", "^/v1/admin/",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing",
        "--header", f"Authorization: Bearer {ADMIN_SECRET}",
        "--max-examples", "15",
        "--seed", "20261206",
        "--workers", "1",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)

    report = result.stdout + result.stderr
    print(report)
    assert result.returncode == 0, report[-6000:]
