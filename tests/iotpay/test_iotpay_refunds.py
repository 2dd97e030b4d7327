"""Refunds with IOTPay: the refund number it sees, and which of its answers refuse a refund (0014)
and which leave it unknown until reconciled (0110, 0010, an undocumented code, a wrong signature),
against the IOTPay simulator over real HTTP, on SQLite and PostgreSQL. The core's refund rules run
through a neutral provider in tests/gateway/test_refunds.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from gateway_iotpay.provider import refund_number

from tests.gateway.test_refunds import outbox, refund
from tests.support.flows import paid_order, simulator_order


def test_a_full_refund_reaches_iotpay_under_its_refund_number(app: Any, client: Any, simulator: Any) -> None:
    order = paid_order(client, simulator, 1000)

    response = refund(client, order["id"], 1000, reason="customer asked")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["amount"], body["currency"], body["reason"]) == (
        "succeeded",
        1000,
        "CAD",
        "customer asked",
    )
    assert body["provider_refund_id"]
    assert client.get(f"/v1/refunds/{body['id']}").get_json() == body
    assert client.get(f"/v1/orders/{order['id']}/refunds").get_json() == [body]
    after = client.get(f"/v1/orders/{order['id']}").get_json()
    assert (after["status"], after["refunded_amount"]) == ("refunded", 1000)
    seen = simulator_order(simulator, order)
    assert [r["mchRefundNo"] for r in seen["refunds"]] == [refund_number(body["id"])]
    assert seen["refundedAmount"] == 1000
    [event] = outbox(app, "refund.succeeded")
    assert event.data["refund"]["id"] == body["id"]
    assert event.data["order"]["status"] == "refunded"


def test_iotpay_0014_is_a_definite_refusal_that_fails_the_refund_and_frees_its_amount(
    app: Any, client: Any, simulator: Any, simulator_faults: Callable[..., None]
) -> None:
    order = paid_order(client, simulator, 1000)
    simulator_faults("refund_order", "fail", errCode="0014")

    refused = refund(client, order["id"], 1000)

    assert refused.status_code == 502
    body = refused.get_json()
    assert body["error"] == "provider_error"
    assert body["provider_error"]["code"] == "0014"
    failed = client.get(f"/v1/refunds/{body['refund_id']}").get_json()
    assert failed["status"] == "failed"
    assert failed["provider_error"]["code"] == "0014"
    assert len(outbox(app, "refund.failed")) == 1
    assert refund(client, order["id"], 1000).status_code == 201


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        ({"mode": "fail", "errCode": "0110"}, 502, "provider_outcome_unknown"),  # WeChat/Alipay timed out
        ({"mode": "fail", "errCode": "0010"}, 502, "provider_outcome_unknown"),  # IOTPay system error
        ({"mode": "fail", "errCode": "9999"}, 502, "provider_outcome_unknown"),  # undocumented: not a refusal
        ({"mode": "bad_sign"}, 502, "provider_outcome_unknown"),  # refunded at IOTPay; the answer fails its sign
    ],
    ids=["0110", "0010", "undocumented-code", "wrong-sign"],
)
def test_iotpay_answers_that_leave_a_refund_unknown_until_reconciled(
    app_factory: Callable[..., Any],
    simulator: Any,
    simulator_faults: Callable[..., None],
    fault: dict[str, Any],
    status: int,
    error: str,
) -> None:
    app = app_factory(IOTPAY_TIMEOUT="0.5")
    client = app.test_client()
    order = paid_order(client, simulator, 1000)
    fault = dict(fault)
    simulator_faults("refund_order", fault.pop("mode"), **fault)

    unclear = refund(client, order["id"], 400)

    assert (unclear.status_code, unclear.get_json()["error"]) == (status, error)
    refund_id = unclear.get_json()["refund_id"]
    assert client.get(f"/v1/refunds/{refund_id}").get_json()["status"] == "unknown"
    still = client.get(f"/v1/orders/{order['id']}").get_json()
    assert (still["status"], still["refunded_amount"]) == ("paid", 0)
    # The unknown refund holds its amount: nothing can push the total past what was paid meanwhile.
    assert refund(client, order["id"], 601).get_json()["error"] == "refund_exceeds_remaining"

    result = app.test_cli_runner().invoke(args=["gateway", "reconcile", "--older-than", "0"])

    assert result.exit_code == 0, result.output
    assert client.get(f"/v1/refunds/{refund_id}").get_json()["status"] == "succeeded"
    assert client.get(f"/v1/orders/{order['id']}").get_json()["refunded_amount"] == 400
    seen = simulator_order(simulator, order)
    assert seen["refundedAmount"] == 400  # the retry reused the refund number: one refund at IOTPay
    assert [r["mchRefundNo"] for r in seen["refunds"]] == [refund_number(refund_id)]
