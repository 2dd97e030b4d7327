"""Routing in the core, with a provider that belongs to no one (Example Pay: channel `wallet`, USD and
JPY): capability skipping, disabled accounts, the dry run's answers, and what routing costs per order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event
from sqlalchemy.engine import Engine

from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer

ORDER = {"channel": "wallet", "amount": 500, "currency": "USD", "subject": "Tea", "body": "Green"}


class Shop:
    def __init__(self, app: Any, tmp_path: Path, settings: dict[str, str]) -> None:
        self.app, self.tmp_path, self.settings = app, tmp_path, settings
        created = self.cli("merchants", "create", "--name", "Neutral Tea")
        self.merchant, self.key = created["id"], created["api_key"]
        self.ids: dict[str, str] = {}

    def cli(self, *args: str) -> Any:
        result = self.app.test_cli_runner().invoke(args=["gateway", *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def add_account(self, name: str) -> str:
        path = self.tmp_path / f"{name}.json"
        path.write_text(json.dumps(self.settings))
        created = self.cli("accounts", "create", "--merchant", self.merchant, "--provider", "example",
                           "--name", name, "--settings", str(path))  # fmt: skip
        self.ids[name] = created["id"]
        return str(created["id"])

    def set_rules(self, rules: dict[str, Any]) -> Any:
        path = self.tmp_path / "rules.json"
        path.write_text(json.dumps(rules))
        return self.cli("routing", "set", "--merchant", self.merchant, "--file", str(path))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.app.test_client().post(path, json=body, headers={"Authorization": f"Bearer {self.key}"})


@pytest.fixture
def shop(
    neutral_factory: Callable[..., Any], neutral_provider: ProviderHarness, gateway_server: LiveServer, tmp_path: Path
) -> Shop:
    app = neutral_factory(GATEWAY_CREDENTIALS_KEYS=Fernet.generate_key().decode())
    return Shop(app, tmp_path, dict(neutral_provider.settings(gateway_server.url)))


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def reads_of(seen: list[str], *tables: str) -> list[str]:
    return [s for s in seen if s.startswith("SELECT") and any(f"FROM {table}" in s for table in tables)]


def test_a_stored_merchants_routing_costs_one_cached_read_per_order(shop: Shop) -> None:
    shop.add_account("one")
    shop.add_account("two")
    shop.set_rules({"rules": [{"name": "usd", "when": {"currency": ["USD"]}, "accounts": ["one", "two"]}]})
    assert shop.post("/v1/orders", ORDER).status_code == 201  # fills this process's cache

    for body in (ORDER, {**ORDER, "account": "two"}):
        with statements() as seen:
            assert shop.post("/v1/orders", body).status_code == 201
        [read] = reads_of(seen, "merchants", "provider_accounts", "routing_rules")
        # One primary-key read, of the version; the accounts and the rules come from the cache.
        assert read.startswith("SELECT merchants.config_version FROM merchants WHERE merchants.id = "), read


def test_a_change_to_the_rules_or_an_account_reaches_the_very_next_order(shop: Shop) -> None:
    one, two = shop.add_account("one"), shop.add_account("two")
    shop.set_rules({"rules": [{"name": "first", "accounts": ["one", "two"]}]})
    assert shop.post("/v1/orders", ORDER).get_json()["account"] == one
    shop.cli("accounts", "disable", one)
    assert shop.post("/v1/orders", ORDER).get_json()["account"] == two
    shop.set_rules({"rules": [{"name": "second", "accounts": ["two"]}]})
    order = shop.post("/v1/orders", ORDER).get_json()
    assert (order["routing_rule"], order["routing_version"]) == ("second", 2)


def test_accounts_that_cannot_take_the_order_are_skipped_by_the_capability_manifest(shop: Shop) -> None:
    one, two = shop.add_account("one"), shop.add_account("two")
    shop.cli("accounts", "disable", one)
    shop.set_rules({"rules": [{"name": "all", "accounts": ["one", "two"]}]})

    decided = shop.post("/v1/routing/evaluate", ORDER).get_json()
    assert decided == {"rule": "all", "version": 1, "accounts": [two], "skipped": {one: "disabled"}}
    cad = shop.post("/v1/routing/evaluate", {**ORDER, "currency": "CAD"})
    assert cad.status_code == 422
    [problem] = cad.get_json()["errors"]["account"]
    assert "routing rule 'all'" in problem and "does not take CAD" in problem
    other = shop.post("/v1/routing/evaluate", {**ORDER, "provider": "elsewhere"})
    assert other.status_code == 422 and "at example, not elsewhere" in other.get_json()["errors"]["account"][0]


def test_the_dry_run_answers_what_create_would_refuse_and_stores_nothing(shop: Shop) -> None:
    shop.add_account("one")
    shop.set_rules({"default": ["one"]})
    assert shop.post("/v1/routing/evaluate", {**ORDER, "amount": "5.00"}).status_code == 422
    assert shop.post("/v1/routing/evaluate", {**ORDER, "colour": "red"}).get_json()["errors"] == {
        "colour": ["Unknown field."]
    }
    assert shop.post("/v1/routing/evaluate", ORDER).get_json()["rule"] == "default"
    listed = shop.app.test_client().get("/v1/orders/none", headers={"Authorization": f"Bearer {shop.key}"})
    assert listed.status_code == 404


def test_rules_are_shown_by_id_with_their_version_and_the_default_merchant_has_none(shop: Shop) -> None:
    one = shop.add_account("one")
    assert shop.cli("routing", "show", "--merchant", shop.merchant) == {
        "merchant": shop.merchant, "version": None, "rules": None
    }  # fmt: skip
    shop.set_rules({"rules": [{"name": "r", "when": {"amount_max": 1000}, "accounts": ["one"]}]})
    assert shop.cli("routing", "show", "--merchant", shop.merchant) == {
        "merchant": shop.merchant, "version": 1,
        "rules": [{"name": "r", "when": {"amount_max": 1000}, "accounts": [one]}],
    }  # fmt: skip
    refused = shop.app.test_cli_runner().invoke(
        args=["gateway", "routing", "set", "--merchant", "default", "--file", str(shop.tmp_path / "rules.json")]
    )
    assert refused.exit_code == 1 and refused.output.startswith("Error: the default merchant's accounts")
