"""Merchants and stored accounts for the core's tests, at Example Pay (examples/): the gateway with a
credentials key and an admin key, and a CLI that returns each command's JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer

CREDENTIALS_KEY = Fernet.generate_key().decode()
ADMIN_KEY = "ops=admin-api-key-0123456789abcdef"
ADMIN_AUTH = {"Authorization": "Bearer admin-api-key-0123456789abcdef"}
# Made up, unlike any other secret of the suite, so that finding one in an answer means a leak.
ACCOUNT_SECRET = "whsec_stored_account_7c41e9a2"


def merchants_app(
    app_factory: Callable[..., Any], harness: ProviderHarness, server: LiveServer, **extra: Any
) -> Any:
    """The gateway with Example Pay as its only provider (in the environment too), keys to store accounts."""
    settings = {
        "GATEWAY_PLUGINS": "gateway_example_provider.plugin",
        "GATEWAY_DISABLED_PLUGINS": "iotpay,stripe",
        "GATEWAY_CREDENTIALS_KEYS": CREDENTIALS_KEY,
        "GATEWAY_ADMIN_KEYS": ADMIN_KEY,
        **harness.settings(server.url),
        **extra,
    }
    return app_factory(**settings)


def cli(app: Any, *args: str, expect: int = 0) -> Any:
    """`gateway ARGS...` in process: its JSON on success, else its output (and the exit code must be `expect`)."""
    result = app.test_cli_runner().invoke(args=["gateway", *args])
    assert result.exit_code == expect, result.output
    return json.loads(result.stdout) if expect == 0 and result.stdout.startswith(("{", "[")) else result.output


def account_settings(harness: Any, tmp_path: Path, name: str, **changes: str) -> str:
    """A settings file for an Example Pay account at the harness's simulator."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"EXAMPLE_SECRET": ACCOUNT_SECRET, "EXAMPLE_API_URL": harness.url, **changes}))
    return str(path)
