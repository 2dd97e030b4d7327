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


@pytest.mark.parametrize("unstorable", ["a\x00b", "shop\udcff"], ids=["nul", "undecodable-byte"])
@pytest.mark.parametrize(
    "args",
    [
        ["merchants", "set-webhook", "--merchant", "{}", "--url", "https://shop.example/hooks"],
        ["keys", "create", "--merchant", "{}"],
        ["keys", "revoke", "{}"],
        ["accounts", "create", "--merchant", "{}", "--provider", "example", "--name", "x", "--settings", "{file}"],
        ["accounts", "list", "--merchant", "{}"],
    ],
    ids=["set-webhook", "keys-create", "keys-revoke", "accounts-create", "accounts-list"],
)
def test_the_merchant_commands_answer_such_an_id_as_not_found(
    app: Any, tmp_path: Path, unstorable: str, args: list[str]
) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"EXAMPLE_SECRET": "s" * 32, "EXAMPLE_API_URL": "http://127.0.0.1:9"}))
    argv = [arg.replace("{}", unstorable).replace("{file}", str(settings)) for arg in args]

    result = app.test_cli_runner().invoke(args=["gateway", *argv])

    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "No " in result.output and "Traceback" not in result.output
