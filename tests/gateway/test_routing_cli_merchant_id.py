"""`gateway routing set|show --merchant X` with text no database stores (NUL, or a surrogate: what bytes
that are not UTF-8 in argv become) is the one-line "no merchant" error, exit status 1, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer
from tests.support.merchants import merchants_app


@pytest.fixture
def app(app_factory: Callable[..., Any], neutral_provider: ProviderHarness, gateway_server: LiveServer) -> Any:
    return merchants_app(app_factory, neutral_provider, gateway_server)


@pytest.mark.parametrize("merchant_id", ["a\x00b", "shop\udcff"], ids=["nul", "undecodable-byte"])
@pytest.mark.parametrize("command", ["show", "set"])
def test_a_merchant_id_no_database_stores_is_no_such_merchant(
    app: Any, tmp_path: Path, merchant_id: str, command: str
) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"default": ["main"]}))
    extra = ["--file", str(rules)] if command == "set" else []

    result = app.test_cli_runner().invoke(args=["gateway", "routing", command, "--merchant", merchant_id, *extra])

    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "No merchant" in result.output and "Traceback" not in result.output
