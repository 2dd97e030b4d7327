"""A payment on an abandoned attempt, and the breaker, against IOTPay simulator accounts (issue 19)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import requests
from sqlalchemy import create_engine, text

from gateway.plugin.provider import OrderDraft, OrderRequest
from tests.routing.conftest import ORDER, Shop, closed_port
from tests.support.flows import wait_for

ADMIN_KEY = "console-admin-key-0123456789"
METRICS_KEY = "metrics-key-0123456789abcdef"
CAD_FAILOVER = {"rules": [{"name": "cad-failover", "when": {"currency": ["CAD"]}, "accounts": ["ca-1", "ca-2"]}]}


def outbox(shop: Shop, event_type: str) -> list[Any]:
    engine = create_engine(shop.app.extensions["gateway"].settings.database_url)
    try:
        with engine.connect() as connection:
            query = text("SELECT data FROM outbox_events WHERE type = :type")
            return [row[0] for row in connection.execute(query, {"type": event_type})]
    finally:
        engine.dispose()


def logged_in(app: Any) -> Any:
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/console/login", data={"admin_key": ADMIN_KEY, "csrf_token": token}).status_code == 302
    return client


def test_a_payment_on_an_abandoned_attempt_is_recorded_as_surplus_and_never_moves_the_order(
    shop_factory: Callable[..., Shop],
) -> None:
    shop = shop_factory(GATEWAY_ADMIN_KEYS=f"alice={ADMIN_KEY}")
    shop.add_account("ca-1")
    shop.add_account("ca-2")
    shop.set_rules(CAD_FAILOVER)
    refusal = {"operation": "create_order", "mode": "fail", "errCode": "0014"}  # a definite refusal at ca-1
    assert requests.post(f"{shop.simulator.url}/faults", json=refusal, timeout=5).status_code < 300
    order = shop.create().get_json()
    abandoned, final = order["attempts"]
    assert (abandoned["outcome"], abandoned["code"], final["outcome"]) == ("not_created", "0014", "created")

    # Suppose the provider lied, and the refused attempt exists after all, and its payer pays it.
    ca1 = shop.app.extensions["gateway"].accounts.by_id(shop.id("ca-1")).provider
    draft = OrderDraft("WX_NATIVE", 1000, "CAD", "Tea", "Green", "127.0.0.1", {})
    lie = ca1.create_order(
        OrderRequest(draft, order["id"], abandoned["merchant_order_no"], shop.accounts["ca-1"]["notify_url"])
    )
    assert (
        requests.post(f"{shop.simulator.url}/pay", data={"payOrderId": lie.provider_order_id}, timeout=5).status_code
        == 202
    )

    def surplus_recorded() -> Any:
        shown = shop.client().get(f"/v1/orders/{order['id']}").get_json()
        return shown if shown["attempts"][0]["surplus_amount"] else None

    shown = wait_for(surplus_recorded, what="the surplus payment")
    assert shown["attempts"][0]["surplus_amount"] == 1000
    assert (shown["status"], shown["account"]) == ("pending", shop.id("ca-2"))  # the order never flipped
    [event] = outbox(shop, "order.overpaid")
    event = event if isinstance(event, dict) else json.loads(event)
    assert event["order"]["id"] == order["id"] and event["surplus"]["amount"] == 1000
    assert event["surplus"]["merchant_order_no"] == abandoned["merchant_order_no"]
    assert not outbox(shop, "order.paid")
    console = logged_in(shop.app)
    dashboard = console.get("/console/").get_data(as_text=True)
    surplus = dashboard.split('id="surplus-payments"', 1)[1].split("</table>", 1)[0]
    assert order["id"] in surplus and abandoned["merchant_order_no"] in surplus
    timeline = console.get(f"/console/orders/{order['id']}").get_data(as_text=True)
    assert "attempt 1: not_created" in timeline and "surplus payment on attempt 1" in timeline


def test_the_breaker_skips_a_failing_account_and_shows_in_check_metrics_and_evaluate(
    shop_factory: Callable[..., Shop],
) -> None:
    shop = shop_factory(GATEWAY_BREAKER_FAILURES="2", GATEWAY_BREAKER_COOLDOWN="600", GATEWAY_METRICS_KEYS=METRICS_KEY)
    shop.add_account("ca-1", api_url=f"http://127.0.0.1:{closed_port()}/v1")
    shop.add_account("ca-2")
    shop.set_rules(CAD_FAILOVER)

    tried = [len(shop.create().get_json()["attempts"]) for _ in range(3)]

    assert tried == [2, 2, 1]  # after two not-created failures in a row, ca-1 is skipped
    dry_run = shop.client().post("/v1/routing/evaluate", json=dict(ORDER)).get_json()
    assert dry_run["accounts"] == [shop.id("ca-2")] and dry_run["skipped"] == {shop.id("ca-1"): "breaker open"}
    check = shop.app.test_cli_runner().invoke(args=["gateway", "check"])
    assert check.exit_code == 1
    assert f"FAIL  account breakers: open: {shop.id('ca-1')} (2 failures)" in check.output
    metrics = (
        shop.app.test_client()
        .get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"})
        .get_data(as_text=True)
    )
    assert "gateway_account_breakers_open 1.0" in metrics
    counted = re.search(r'gateway_order_attempts_total\{outcome="not_created",provider="iotpay"\} (\S+)', metrics)
    assert counted is not None and float(counted.group(1)) >= 2  # (counters are per process, as tests run)


def _created_after_refusals(shop: Shop, err_code: str, orders: int) -> list[list[str]]:
    """Per order, the outcome of each attempt, ca-1 answering each order's first call with `err_code`."""
    outcomes = []
    for _ in range(orders):
        refusal = {"operation": "create_order", "mode": "fail", "errCode": err_code}  # one call: ca-1's
        assert requests.post(f"{shop.simulator.url}/faults", json=refusal, timeout=5).status_code < 300
        outcomes.append([attempt["outcome"] for attempt in shop.create().get_json()["attempts"]])
    return outcomes


def test_orders_refused_one_by_one_fail_over_but_never_open_the_accounts_breaker(
    shop_factory: Callable[..., Shop],
) -> None:
    shop = shop_factory(GATEWAY_BREAKER_FAILURES="2", GATEWAY_BREAKER_COOLDOWN="600")
    shop.add_account("ca-1")
    shop.add_account("ca-2")
    shop.set_rules(CAD_FAILOVER)

    # 0014: IOTPay refused that order (a plain refusal), which says nothing about the next one.
    outcomes = _created_after_refusals(shop, "0014", orders=4)

    assert outcomes == [["not_created", "created"]] * 4  # each fails over; ca-1 is never skipped
    dry_run = shop.client().post("/v1/routing/evaluate", json=dict(ORDER)).get_json()
    assert dry_run["accounts"][0] == shop.id("ca-1") and dry_run["skipped"] == {}
    check = shop.app.test_cli_runner().invoke(args=["gateway", "check"])
    assert "ok    account breakers: none open" in check.output


def test_the_provider_refusing_the_gateway_itself_opens_the_breaker(shop_factory: Callable[..., Shop]) -> None:
    shop = shop_factory(GATEWAY_BREAKER_FAILURES="2", GATEWAY_BREAKER_COOLDOWN="600")
    shop.add_account("ca-1")
    shop.add_account("ca-2")
    shop.set_rules(CAD_FAILOVER)

    # 0015: the merchant does not exist at IOTPay, a misconfigured account: every order would fail alike.
    outcomes = _created_after_refusals(shop, "0015", orders=2)
    after = [(attempt["account"], attempt["outcome"]) for attempt in shop.create().get_json()["attempts"]]

    assert outcomes == [["not_created", "created"]] * 2 and after == [(shop.id("ca-2"), "created")]
    check = shop.app.test_cli_runner().invoke(args=["gateway", "check"])
    assert f"FAIL  account breakers: open: {shop.id('ca-1')} (2 failures)" in check.output
