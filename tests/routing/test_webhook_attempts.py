"""A routed order's webhooks show its attempts, as `GET /v1/orders/{id}` does: a merchant who reads the
order.paid event must not be told `attempts: []` about an order that failed over."""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.routing.conftest import Shop
from tests.routing.test_iotpay_surplus_and_breaker import CAD_FAILOVER, outbox
from tests.support.flows import wait_for


def test_the_order_paid_event_of_an_order_that_failed_over_shows_both_attempts(shop: Shop) -> None:
    shop.add_account("ca-1")
    shop.add_account("ca-2")
    shop.set_rules(CAD_FAILOVER)
    refusal = {"operation": "create_order", "mode": "fail", "errCode": "0014"}  # a definite refusal at ca-1
    assert requests.post(f"{shop.simulator.url}/faults", json=refusal, timeout=5).status_code < 300
    order = shop.create().get_json()
    assert [attempt["outcome"] for attempt in order["attempts"]] == ["not_created", "created"]

    paid = requests.post(f"{shop.simulator.url}/pay", data={"payOrderId": order["provider_order_id"]}, timeout=5)
    assert paid.status_code == 202

    def paid_order() -> Any:
        shown = shop.client().get(f"/v1/orders/{order['id']}").get_json()
        return shown if shown["status"] == "paid" else None

    shown = wait_for(paid_order, what="the payment")
    [event] = outbox(shop, "order.paid")
    event = event if isinstance(event, dict) else json.loads(event)
    assert event["order"]["attempts"] == shown["attempts"]
    assert [attempt["account"] for attempt in event["order"]["attempts"]] == [shop.id("ca-1"), shop.id("ca-2")]


def test_an_unrouted_stored_merchants_order_paid_event_shows_its_one_attempt(shop: Shop) -> None:
    shop.add_account("ca-1")
    order = shop.create().get_json()
    assert len(order["attempts"]) == 1
    paid = requests.post(f"{shop.simulator.url}/pay", data={"payOrderId": order["provider_order_id"]}, timeout=5)
    assert paid.status_code == 202
    wait_for(lambda: outbox(shop, "order.paid"), what="the order.paid event")
    [event] = outbox(shop, "order.paid")
    event = event if isinstance(event, dict) else json.loads(event)
    assert event["order"]["attempts"] == order["attempts"]
