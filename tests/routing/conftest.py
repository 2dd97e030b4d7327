"""One merchant with three IOTPay accounts at the IOTPay simulator, set up through the CLI, on SQLite
and PostgreSQL: the routing tests' world (issue 19)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from gateway_iotpay.sandbox.app import create_simulator

from gateway.testing.live import LiveServer
from tests.conftest import MCH_ID, MCH_KEY

CREDENTIALS_KEY = Fernet.generate_key().decode()
# Three IOTPay merchant ids and keys the simulator knows; made up.
ACCOUNTS = {
    "ca-1": ("30000001", "ca1b7e51f2c4d98a6e3f1b2c7d9e0a01"),
    "ca-2": ("30000002", "ca2c2e8f1a4b7d0e3c6f9a2b5d8e0a02"),
    "ca-3": ("30000003", "ca3a1c7f2b5d8e0a3c6f9b2d5e03aa03"),
}
ORDER = {"channel": "WX_NATIVE", "amount": 1000, "currency": "CAD", "subject": "Tea", "body": "Green"}


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Any]:
    merchants = {MCH_ID: MCH_KEY} | dict(ACCOUNTS.values())
    sim = create_simulator(merchants, str(tmp_path / "simulator.sqlite3"), notify_retry_delays=(0.05, 0.1, 0.2))
    server = LiveServer(sim)
    sim.url = server.url  # type: ignore[attr-defined]
    yield sim
    server.stop()
    sim.close()


@dataclass
class Shop:
    """The merchant, its API key, and its accounts by name (the CLI's answers)."""

    app: Any
    simulator: Any
    tmp_path: Path
    merchant: str = ""
    key: str = ""
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run(self, *args: str) -> Any:
        return self.app.test_cli_runner().invoke(args=["gateway", *args])

    def cli(self, *args: str) -> Any:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def add_account(self, name: str, api_url: str | None = None, timeout: str = "1") -> dict[str, Any]:
        mch_id, key = ACCOUNTS[name]
        path = self.tmp_path / f"{name}.json"
        values = {
            "IOTPAY_MCH_ID": mch_id,
            "IOTPAY_SECRET_KEY": key,
            "IOTPAY_API_URL": api_url or f"{self.simulator.url}/v1",
            "IOTPAY_JOB_NO": "cashier01",
            "IOTPAY_TIMEOUT": timeout,
        }
        path.write_text(json.dumps(values))
        self.accounts[name] = self.cli(
            "accounts", "create", "--merchant", self.merchant, "--provider", "iotpay", "--name", name,
            "--settings", str(path),
        )  # fmt: skip
        return self.accounts[name]

    def set_rules(self, rules: dict[str, Any]) -> Any:
        path = self.tmp_path / "rules.json"
        path.write_text(json.dumps(rules))
        return self.cli("routing", "set", "--merchant", self.merchant, "--file", str(path))

    def id(self, name: str) -> str:
        return str(self.accounts[name]["id"])

    def client(self) -> Any:
        client = self.app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {self.key}"
        return client

    def create(self, **extra: Any) -> Any:
        return self.client().post("/v1/orders", json={**ORDER, **extra})


@pytest.fixture
def shop_factory(app_factory: Any, simulator: Any, tmp_path: Path) -> Callable[..., Shop]:
    """A Shop on a gateway built with `extra` settings."""

    def build(**extra: str) -> Shop:
        app = app_factory(GATEWAY_CREDENTIALS_KEYS=CREDENTIALS_KEY, **extra)
        shop = Shop(app, simulator, tmp_path)
        created = shop.cli("merchants", "create", "--name", "Routed Tea")
        shop.merchant, shop.key = created["id"], created["api_key"]
        return shop

    return build


@pytest.fixture
def shop(shop_factory: Callable[..., Shop]) -> Shop:
    return shop_factory()
