"""Merchants and stored accounts for the core's tests, at Example Pay (examples/): the gateway with a
credentials key and an admin key, and a CLI that returns each command's JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer

CREDENTIALS_KEY = Fernet.generate_key().decode()
ADMIN_KEY = "ops=admin-api-key-0123456789abcdef"  # GATEWAY_ADMIN_KEYS: the label, then the key
ADMIN_SECRET = "admin-api-key-0123456789abcdef"
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN_SECRET}"}
# Made up, unlike any other secret of the suite, so that finding one in an answer means a leak.
ACCOUNT_SECRET = "whsec_stored_account_7c41e9a2"


def merchants_app(app_factory: Callable[..., Any], harness: ProviderHarness, server: LiveServer, **extra: Any) -> Any:
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
    """A settings file for an Example Pay account at the harness's simulator (which signs with its own
    secret: pass `EXAMPLE_SECRET=harness.settings(...)["EXAMPLE_SECRET"]` for accounts that take orders)."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"EXAMPLE_SECRET": ACCOUNT_SECRET, "EXAMPLE_API_URL": harness.url, **changes}))
    return str(path)


def console(app: Any) -> Any:
    """A test client logged in to the console with the admin key."""
    client = app.test_client()
    token = re.search(rb'name="csrf_token" value="([^"]+)"', client.get("/console/login").data)
    assert token, "the login form carries no CSRF token"
    response = client.post("/console/login", data={"admin_key": ADMIN_SECRET, "csrf_token": token.group(1).decode()})
    assert response.status_code == 302, response.data
    return client


def merchant(app: Any, name: str) -> tuple[str, dict[str, str]]:
    """A new merchant's id, and the headers that send its first API key."""
    created = cli(app, "merchants", "create", "--name", name)
    return created["id"], {"Authorization": f"Bearer {created['api_key']}"}


def add_account(app: Any, merchant_id: str, name: str, harness: Any, tmp_path: Path, **changes: str) -> dict[str, Any]:
    """A stored Example Pay account of the merchant: the CLI's answer."""
    settings = account_settings(harness, tmp_path, name, **changes)
    created: dict[str, Any] = cli(
        app,
        "accounts",
        "create",
        "--merchant",
        merchant_id,
        "--provider",
        "example",
        "--name",
        name,
        "--settings",
        settings,
    )
    return created


ORDER = {"channel": "wallet", "amount": 1250, "currency": "USD", "subject": "Tea", "body": "Green"}
