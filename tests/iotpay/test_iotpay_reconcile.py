"""Reconciliation with IOTPay's query answers: a refused query (0013, 0014, 0015) concludes nothing,
only 0112 ("merchant order id does not exist") lets an order expire early, and a paid answer counts
only with a right signature (IOTPAY_REQUIRE_RESPONSE_SIGN), against the IOTPay simulator. The core's
reconciliation runs through a neutral provider in tests/gateway/test_reconcile.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from gateway.domain.reconcile import reconcile
from gateway.plugin.clock import utcnow
from tests.gateway.test_reconcile import dead_url, events
from tests.support.flows import create_order, pay_in_simulator, simulator_order, wait_for


def pay_and_lose_the_notify(client: Any, simulator: Any) -> dict[str, Any]:
    order = create_order(client, 1000)
    pay_in_simulator(simulator, order)
    wait_for(lambda: simulator_order(simulator, order)["notifyAttempts"], what="a notify attempt")
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"
    return order


@pytest.mark.parametrize(
    ("err_code", "meaning"), [("0013", "signature error"), ("0014", "parameter error"), ("0015", "no such merchant")]
)
def test_an_iotpay_refusal_of_the_query_never_expires_an_order_and_an_operator_hears_of_it(
    app_factory: Callable[..., Any],
    simulator: Any,
    simulator_faults: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
    err_code: str,
    meaning: str,
) -> None:
    """An IOTPay refusal of the *query* (bad key, bad merchant) says nothing about the order, which was paid."""
    app = app_factory(GATEWAY_ORDER_EXPIRY="60", GATEWAY_PUBLIC_URL=dead_url())
    client = app.test_client()
    order = pay_and_lose_the_notify(client, simulator)
    simulator_faults("query_order", "fail", errCode=err_code)
    gateway = app.extensions["gateway"]

    outcome = reconcile(gateway, timedelta(0), now=utcnow() + timedelta(seconds=61))

    assert outcome["orders_query_failed"] == 1, meaning
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"
    assert not events(app, "order.expired")
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert any("refused the query" in error and err_code in error for error in errors), errors
    # Once the cause is fixed, the next run finds the payment.
    assert reconcile(gateway, timedelta(0), now=utcnow() + timedelta(seconds=62))["orders_paid"] == 1


def test_iotpay_0112_no_such_order_lets_an_unpaid_order_expire_early(
    app_factory: Callable[..., Any], simulator_faults: Callable[..., None]
) -> None:
    """IOTPay 0112 ("merchant order id does not exist") is the one query answer that concludes anything."""
    app = app_factory(GATEWAY_ORDER_EXPIRY="60")
    client = app.test_client()
    order = create_order(client, 1000)
    simulator_faults("query_order", "fail", errCode="0112")

    outcome = reconcile(app.extensions["gateway"], timedelta(0), now=utcnow() + timedelta(seconds=61))

    assert outcome["orders_expired"] == 1
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "expired"


@pytest.mark.parametrize("required", ["0", "1"], ids=["unsigned-tolerated", "sign-required"])
def test_a_paid_answer_with_a_wrong_signature_never_marks_the_order_paid(
    app_factory: Callable[..., Any], simulator: Any, simulator_faults: Callable[..., None], required: str
) -> None:
    """The simulator really has the order paid; only the query answer's `sign` is wrong."""
    app = app_factory(GATEWAY_ORDER_EXPIRY="60", GATEWAY_PUBLIC_URL=dead_url(), IOTPAY_REQUIRE_RESPONSE_SIGN=required)
    client = app.test_client()
    order = pay_and_lose_the_notify(client, simulator)

    simulator_faults("query_order", "bad_sign")
    refreshed = client.get(f"/v1/orders/{order['id']}?refresh=true")
    assert (refreshed.status_code, refreshed.get_json()["error"]) == (502, "provider_outcome_unknown")
    assert refreshed.get_json()["provider_error"]["code"] == "INVALID_SIGN"

    simulator_faults("query_order", "bad_sign")
    outcome = reconcile(app.extensions["gateway"], timedelta(0), now=utcnow() + timedelta(seconds=61))
    assert outcome["orders_query_failed"] == 1  # unknown: neither paid nor expired
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"
    assert not events(app, "order.paid") and not events(app, "order.expired")

    # A correctly signed answer (no fault left) settles it.
    assert client.get(f"/v1/orders/{order['id']}?refresh=true").get_json()["status"] == "paid"


def test_an_unsigned_paid_answer_counts_only_when_signatures_are_not_required(
    app_factory: Callable[..., Any], simulator: Any, simulator_faults: Callable[..., None]
) -> None:
    strict = app_factory(GATEWAY_PUBLIC_URL=dead_url(), IOTPAY_REQUIRE_RESPONSE_SIGN="1")
    client = strict.test_client()
    order = pay_and_lose_the_notify(client, simulator)
    simulator_faults("query_order", "unsigned")
    refused = client.get(f"/v1/orders/{order['id']}?refresh=true")
    assert refused.get_json()["provider_error"]["code"] == "UNSIGNED_RESPONSE"
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"

    tolerant = app_factory(GATEWAY_PUBLIC_URL=dead_url())
    simulator_faults("query_order", "unsigned")
    assert tolerant.test_client().get(f"/v1/orders/{order['id']}?refresh=true").get_json()["status"] == "paid"
