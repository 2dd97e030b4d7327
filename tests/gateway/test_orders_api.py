"""POST /v1/orders and GET /v1/orders/<id> against a provider's simulator over HTTP: Example Pay's
(examples/), a provider that belongs to no one, so these are the core's rules (a real provider's
own, its channels' pay params and refusal codes, are tested with it, under tests/<provider>/).

Every test runs on SQLite and on PostgreSQL (the `app` fixture is parametrized by database).
Refusals are checked the way an API caller sees them: HTTP status, the one error shape
{"error", "message", "errors"}, the field named, and no order row left behind.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.store.models import Order
from gateway.testing import ProviderHarness

pytestmark = pytest.mark.neutral

VALID_ORDER: dict[str, Any] = {  # Example Pay's channel and currency
    "channel": "wallet",
    "amount": 2856,
    "currency": "USD",
    "subject": "Coffee beans",
    "body": "1kg medium roast",
}

ORDER_KEYS = {
    "id",
    "provider",
    "channel",
    "amount",
    "currency",
    "status",
    "merchant_order_no",
    "provider_order_id",
    "pay_params",
    "merchant_reference",
    "metadata",
    "created_at",
    "paid_at",
}

MISSING = object()  # "leave this field out of the request"


# -- helpers -----------------------------------------------------------------------------------


def order_request(**changes: Any) -> dict[str, Any]:
    payload = dict(VALID_ORDER)
    for name, value in changes.items():
        if value is MISSING:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


def order_count(app: Any) -> int:
    with app.extensions["gateway"].db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def stored_order(app: Any, order_id: str) -> Order | None:
    with app.extensions["gateway"].db.transaction() as session:
        return session.get(Order, order_id)


def assert_error_shape(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.content_type
    body = response.get_json()
    assert isinstance(body, dict)
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    return body


def assert_no_secret(provider: ProviderHarness, *texts: str) -> None:
    for secret in provider.secrets():
        assert all(secret not in text for text in texts)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- creating an order -------------------------------------------------------------------------


def test_create_order_answers_201_with_a_pending_order_the_provider_knows_too(
    app: Any, client: Any, neutral_provider: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    payload = order_request(merchant_reference="cart-42", metadata={"cart": 42, "tags": ["beans"]})

    response = client.post("/v1/orders", json=payload)

    assert response.status_code == 201, response.get_data(as_text=True)
    order = response.get_json()
    assert set(order) >= ORDER_KEYS  # later additions to the shape are fine
    assert (order["provider"], order["channel"], order["amount"], order["currency"]) == (
        "example",
        "wallet",
        2856,
        "USD",
    )
    assert order["status"] == "pending"
    assert order["paid_at"] is None
    assert order["merchant_reference"] == "cart-42"
    assert order["metadata"] == {"cart": 42, "tags": ["beans"]}
    assert isinstance(order["merchant_order_no"], str) and 0 < len(order["merchant_order_no"]) <= 30
    assert isinstance(order["provider_order_id"], str) and order["provider_order_id"]
    assert order["pay_params"] == {"payment_id": order["provider_order_id"]}  # what Example Pay's provider gives
    created_at = datetime.fromisoformat(order["created_at"])
    assert created_at.utcoffset() == timedelta(0)

    # Stored exactly once, and the provider got the same order.
    assert order_count(app) == 1
    stored = stored_order(app, order["id"])
    assert stored is not None and stored.status == "pending" and stored.amount == 2856
    at_provider = neutral_provider.payment(order)
    assert (at_provider["reference"], at_provider["amount"], at_provider["currency"]) == (
        order["merchant_order_no"],
        "28.56",
        "USD",
    )

    # GET answers the very same order.
    shown = client.get(f"/v1/orders/{order['id']}")
    assert shown.status_code == 200
    assert shown.get_json() == order
    assert_no_secret(neutral_provider, response.get_data(as_text=True), shown.get_data(as_text=True), caplog.text)


def test_two_orders_get_distinct_ids_and_merchant_order_numbers(app: Any, client: Any) -> None:
    first = client.post("/v1/orders", json=order_request()).get_json()
    second = client.post("/v1/orders", json=order_request()).get_json()

    # Sent without merchant_reference and metadata:
    assert (first["merchant_reference"], first["metadata"]) == (None, {})

    assert first["id"] != second["id"]
    assert first["merchant_order_no"] != second["merchant_order_no"]
    assert first["provider_order_id"] != second["provider_order_id"]
    assert all(len(o["merchant_order_no"]) <= 30 for o in (first, second))
    assert order_count(app) == 2


# -- reading an order --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order_id",
    [
        pytest.param("00000000-0000-0000-0000-000000000000", id="unknown-uuid"),
        pytest.param("x" * 300, id="longer-than-the-column"),
    ],
)
def test_get_unknown_order_answers_404_order_not_found(client: Any, order_id: str) -> None:
    response = client.get(f"/v1/orders/{order_id}")

    body = assert_error_shape(response, 404, "order_not_found")
    assert body["errors"] == {}


# -- refused input: 4xx, the field at fault, nothing stored --------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"amount": 0}, "amount", id="amount-zero"),
        pytest.param({"amount": -1}, "amount", id="amount-negative"),
        pytest.param({"amount": 10.5}, "amount", id="amount-fraction"),
        pytest.param({"amount": 10.0}, "amount", id="amount-float-integral"),
        pytest.param({"amount": "100"}, "amount", id="amount-numeric-string"),
        pytest.param({"amount": True}, "amount", id="amount-bool"),
        pytest.param({"amount": 2**31}, "amount", id="amount-over-int32"),
        pytest.param({"amount": MISSING}, "amount", id="amount-missing"),
        pytest.param({"channel": "cheque"}, "channel", id="channel-unknown"),
        pytest.param({"currency": "EUR"}, "currency", id="currency-not-taken-by-the-provider"),
        pytest.param({"currency": "usd"}, "currency", id="currency-lowercase"),
        pytest.param({"subject": MISSING}, "subject", id="subject-missing"),
        pytest.param({"subject": "   "}, "subject", id="subject-blank"),
        pytest.param({"body": "\t \n"}, "body", id="body-blank"),
        pytest.param({"client_ip": " "}, "client_ip", id="client-ip-blank"),
        pytest.param({"colour": "blue"}, "colour", id="unknown-field"),
        pytest.param({"provider": "nope"}, "provider", id="provider-unknown"),
        pytest.param({"provider_options": {"colour": "blue"}}, "provider_options", id="options-to-a-provider-without"),
        pytest.param({"merchant_reference": "r" * 129}, "merchant_reference", id="reference-129-chars"),
        pytest.param({"metadata": {"notes": "x" * 5000}}, "metadata", id="metadata-over-4096-bytes"),
    ],
)
def test_invalid_order_is_refused_with_422_naming_the_field_and_nothing_is_stored(
    app: Any,
    client: Any,
    neutral_provider: Any,
    caplog: pytest.LogCaptureFixture,
    changes: dict[str, Any],
    field: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post("/v1/orders", json=order_request(**changes))

    body = assert_error_shape(response, 422, "validation_error")
    assert field in body["errors"], body
    assert all(isinstance(text, str) and text for text in body["errors"][field])
    assert "order_id" not in body
    assert order_count(app) == 0
    assert_no_secret(neutral_provider, response.get_data(as_text=True), caplog.text)


def test_every_faulty_field_is_named_at_once(app: Any, client: Any) -> None:
    payload = order_request(amount=0, currency="cad", channel=MISSING, subject=MISSING)

    body = assert_error_shape(client.post("/v1/orders", json=payload), 422, "validation_error")

    assert {"amount", "currency", "channel", "subject"} <= set(body["errors"])
    assert order_count(app) == 0


def test_malformed_json_body_answers_400_malformed_json(app: Any, client: Any) -> None:
    response = client.post("/v1/orders", data='{"channel": "wallet", "amount": 28', content_type="application/json")

    assert_error_shape(response, 400, "malformed_json")
    assert order_count(app) == 0


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(json.dumps([VALID_ORDER]), id="array"),
    ],
)
def test_json_body_that_is_not_an_object_is_refused_with_422(app: Any, client: Any, raw: str) -> None:
    response = client.post("/v1/orders", data=raw, content_type="application/json")

    body = assert_error_shape(response, 422, "validation_error")
    assert "_schema" in body["errors"]
    assert order_count(app) == 0


def test_body_not_sent_as_json_reports_the_required_fields(app: Any, client: Any) -> None:
    response = client.post("/v1/orders", data=json.dumps(VALID_ORDER), content_type="text/plain")

    body = assert_error_shape(response, 422, "validation_error")
    assert {"channel", "amount", "currency", "subject", "body"} <= set(body["errors"])
    assert order_count(app) == 0


def test_metadata_that_is_not_standard_json_is_refused_naming_metadata(app: Any, client: Any) -> None:
    raw = json.dumps(order_request(metadata={"ratio": float("nan")}))  # Python writes NaN unless told not to
    assert "NaN" in raw

    response = client.post("/v1/orders", data=raw, content_type="application/json")

    body = assert_error_shape(response, 422, "validation_error")
    assert "metadata" in body["errors"]
    assert order_count(app) == 0


# -- the provider misbehaving ------------------------------------------------------------------


def test_a_provider_refusal_answers_502_with_its_code_and_the_order_is_failed(
    app: Any, client: Any, neutral_provider: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    neutral_provider.fail_next("create_order")

    response = client.post("/v1/orders", json=order_request())

    body = assert_error_shape(response, 502, "provider_error")
    assert body["provider_error"]["code"] == "simulated_refusal"  # the provider's own code, kept
    assert isinstance(body["provider_error"]["message"], str) and body["provider_error"]["message"]
    assert order_count(app) == 1
    stored = stored_order(app, body["order_id"])
    assert stored is not None
    assert (stored.status, stored.failure_code, stored.paid_at) == ("failed", "simulated_refusal", None)
    shown = client.get(f"/v1/orders/{body['order_id']}").get_json()
    assert shown["status"] == "failed"
    assert shown["provider_order_id"] is None and shown["pay_params"] is None
    assert_no_secret(neutral_provider, response.get_data(as_text=True), caplog.text)


@pytest.mark.parametrize("mode", ["garbage", "html", "http_500"])
def test_an_unreadable_provider_answer_is_an_unknown_outcome_and_the_order_stays_pending(
    app: Any, client: Any, neutral_provider: Any, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.DEBUG)
    neutral_provider.garble_next("create_order", mode)

    response = client.post("/v1/orders", json=order_request())

    body = assert_error_shape(response, 502, "provider_outcome_unknown")
    assert set(body["provider_error"]) == {"code", "message"}
    assert order_count(app) == 1
    stored = stored_order(app, body["order_id"])
    assert stored is not None
    assert stored.status == "pending"  # the provider may have created it: never `failed`
    assert stored.paid_at is None and stored.provider_order_id is None
    assert_no_secret(neutral_provider, response.get_data(as_text=True), caplog.text)


def test_a_provider_slower_than_the_timeout_answers_504_and_the_order_stays_pending(
    app_factory: Callable[..., Any], neutral_provider: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = app_factory(**neutral_provider.timeout_settings(0.5))
    neutral_provider.delay_next("create_order", 2)

    response = app.test_client().post("/v1/orders", json=order_request())

    body = assert_error_shape(response, 504, "provider_timeout")
    stored = stored_order(app, body["order_id"])
    assert stored is not None
    assert stored.status == "pending"
    assert stored.paid_at is None
    assert order_count(app) == 1
    assert app.test_client().get(f"/v1/orders/{body['order_id']}").get_json()["status"] == "pending"
    assert_no_secret(neutral_provider, response.get_data(as_text=True), caplog.text)


def test_an_unreachable_provider_answers_504_and_the_order_stays_pending(
    app_factory: Callable[..., Any], neutral_provider: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = app_factory(EXAMPLE_API_URL=f"http://127.0.0.1:{closed_port()}")

    response = app.test_client().post("/v1/orders", json=order_request())

    body = assert_error_shape(response, 504, "provider_unreachable")
    stored = stored_order(app, body["order_id"])
    assert stored is not None and stored.status == "pending" and stored.paid_at is None
    assert order_count(app) == 1
    assert_no_secret(neutral_provider, response.get_data(as_text=True), caplog.text)
