"""Routing and failover against three IOTPay simulator accounts, on SQLite and PostgreSQL (issue 19)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import requests
from sqlalchemy import create_engine, text

from tests.routing.conftest import ACCOUNTS, ORDER, Shop, closed_port


def simulator_orders(shop: Shop, mch_id: str) -> int:
    with closing(sqlite3.connect(shop.tmp_path / "simulator.sqlite3")) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM orders WHERE mch_id = ?", (mch_id,)).fetchone()[0])


def gateway_rows(shop: Shop, table: str) -> int:
    engine = create_engine(shop.app.extensions["gateway"].settings.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def test_a_cad_order_fails_over_from_an_account_refusing_connections_to_the_next(shop: Shop) -> None:
    shop.add_account("ca-1", api_url=f"http://127.0.0.1:{closed_port()}/v1")
    shop.add_account("ca-2")
    shop.set_rules({"rules": [{"name": "cad-failover", "when": {"currency": ["CAD"]}, "accounts": ["ca-1", "ca-2"]}]})

    created = shop.create()

    assert created.status_code == 201, created.get_json()
    order = created.get_json()
    assert order["account"] == shop.id("ca-2")
    assert (order["routing_rule"], order["routing_version"]) == ("cad-failover", 1)
    first, second = order["attempts"]
    assert (first["account"], first["outcome"]) == (shop.id("ca-1"), "not_created")
    assert (second["account"], second["outcome"]) == (shop.id("ca-2"), "created")
    assert first["merchant_order_no"] != second["merchant_order_no"] == order["merchant_order_no"]
    stored = shop.simulator.store.get_order(order["provider_order_id"])
    assert stored.mch_id == ACCOUNTS["ca-2"][0]
    assert stored.mch_order_no == second["merchant_order_no"]
    assert shop.client().get(f"/v1/orders/{order['id']}").get_json()["attempts"] == order["attempts"]


def test_the_same_account_timing_out_causes_no_failover(shop: Shop) -> None:
    shop.add_account("ca-1", timeout="1")
    shop.add_account("ca-2")
    shop.set_rules({"rules": [{"name": "cad-failover", "when": {"currency": ["CAD"]}, "accounts": ["ca-1", "ca-2"]}]})
    fault = {"operation": "create_order", "mode": "delay", "seconds": 1.5}
    assert requests.post(f"{shop.simulator.url}/faults", json=fault, timeout=5).status_code < 300

    created = shop.create()

    assert created.status_code == 504, created.get_json()
    assert created.get_json()["error"] == "provider_timeout"
    order = shop.client().get(f"/v1/orders/{created.get_json()['order_id']}").get_json()
    assert (order["status"], order["account"]) == ("pending", shop.id("ca-1"))
    [attempt] = order["attempts"]
    assert (attempt["account"], attempt["outcome"]) == (shop.id("ca-1"), "unknown")
    assert simulator_orders(shop, ACCOUNTS["ca-2"][0]) == 0  # never asked


def test_a_50_50_split_over_40_orders_reaches_both_accounts(shop: Shop) -> None:
    shop.add_account("ca-1")
    shop.add_account("ca-2")
    split = [{"account": "ca-1", "weight": 50}, {"account": "ca-2", "weight": 50}]
    shop.set_rules({"rules": [{"name": "cad-split", "when": {"currency": ["CAD"]}, "split": split}]})

    accounts = [shop.create().get_json()["account"] for _ in range(40)]

    counts = {name: accounts.count(shop.id(name)) for name in ("ca-1", "ca-2")}
    assert sum(counts.values()) == 40
    assert min(counts.values()) >= 8, counts  # binomial(40, 1/2): below 8 has odds of about 1 in 10^5
    assert simulator_orders(shop, ACCOUNTS["ca-1"][0]) == counts["ca-1"]


def test_evaluate_names_the_rule_and_the_accounts_and_calls_nothing(shop: Shop) -> None:
    shop.add_account("ca-1")
    shop.add_account("ca-2")
    shop.add_account("ca-3")
    shop.set_rules(
        {
            "rules": [
                {"name": "big", "when": {"amount_min": 100000}, "accounts": ["ca-3"]},
                {"name": "cad", "when": {"currency": ["CAD"], "channel": ["WX_NATIVE"]}, "accounts": ["ca-2", "ca-1"]},
            ],
            "default": ["ca-3"],
        }
    )
    calls_before = gateway_rows(shop, "provider_calls")

    answer = shop.client().post("/v1/routing/evaluate", json=dict(ORDER))

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {
        "rule": "cad", "version": 1, "accounts": [shop.id("ca-2"), shop.id("ca-1")], "skipped": {}
    }  # fmt: skip
    assert gateway_rows(shop, "orders") == 0 and gateway_rows(shop, "provider_calls") == calls_before
    assert all(simulator_orders(shop, mch_id) == 0 for mch_id, _ in ACCOUNTS.values())
    invalid = shop.client().post("/v1/routing/evaluate", json={"channel": "WX_NATIVE", "amount": 0})
    assert invalid.status_code == 422 and {"amount", "currency"} <= set(invalid.get_json()["errors"])
    stranger = shop.app.test_client()
    stranger.environ_base["HTTP_AUTHORIZATION"] = "Bearer gwk_not-a-key-of-anyone-0123456789"
    assert stranger.post("/v1/routing/evaluate", json=dict(ORDER)).status_code == 401


def test_a_bad_rules_file_gets_one_error_line_naming_the_rule(shop: Shop) -> None:
    shop.add_account("ca-1")
    path = shop.tmp_path / "bad.json"
    path.write_text(json.dumps({"rules": [{"name": "cad", "when": {"currency": ["CAD"]}, "accounts": ["nope"]}]}))

    result = shop.run("routing", "set", "--merchant", shop.merchant, "--file", str(path))

    assert result.exit_code == 1
    assert result.output.splitlines() == ["Error: rule 'cad': unknown account 'nope'"]
    assert shop.cli("routing", "show", "--merchant", shop.merchant)["version"] is None
