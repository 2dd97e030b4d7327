"""schemathesis against /openapi.json of a live gateway on PostgreSQL, with an API key: every check
(server errors, status codes, content types, schemas, headers, positive and negative data, Allow on
405, auth) in every phase, the stateful one following the document's links from a created order to
its reads and refunds. Bounded examples and a fixed seed keep it to well under a minute. The provider
is Example Pay (examples/), so what the fuzzer finds is the core's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from gateway import create_app
from gateway.store.models import Base
from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer
from tests.conftest import gateway_config
from tests.gateway.conftest import neutral_settings

API_KEY = "fuzz-key-6c1e2a3f9b8d7c5e"
CONFIG = Path(__file__).with_name("openapi-fuzz.toml")


@pytest.fixture
def fuzzed_gateway(
    postgres_url: str, simulator: Any, neutral_provider: ProviderHarness, gateway_server: LiveServer, tmp_path: Path
) -> Any:
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} CASCADE"))
    engine.dispose()
    config = {
        **gateway_config(postgres_url, simulator.url, gateway_server.url, tmp_path / "instance"),
        **neutral_settings(neutral_provider, gateway_server.url),
    }
    # schemathesis's auth checks send wrong keys on purpose: no lockout, or /v1 would be all 429s.
    app = create_app({**config, "GATEWAY_API_KEYS": API_KEY, "GATEWAY_AUTH_FAILURE_LIMIT": "100000/minute"})
    gateway_server.app = app
    yield gateway_server
    app.extensions["gateway"].db.dispose()


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_failure(fuzzed_gateway: LiveServer, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--no-color",
        "--config-file", str(CONFIG),
        "run", f"{fuzzed_gateway.url}/openapi.json",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--header", f"Authorization: Bearer {API_KEY}",
        "--max-examples", "15",
        "--seed", "20261127",
        "--workers", "1",
    ]  # fmt: skip
    # Run where its cache (.schemathesis/) can go: not in the repository.
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)

    report = result.stdout + result.stderr
    print(report)  # pytest shows it with -s, or -rP
    assert result.returncode == 0, report[-6000:]
    assert " 0 failures" in report or "No issues found" in report or "passed" in report, report[-3000:]
