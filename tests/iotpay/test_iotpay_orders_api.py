"""POST /v1/orders with IOTPay: each channel's SDK pay params, its app id, its notify URL limit and its
refusal codes, against the IOTPay simulator over HTTP, on SQLite and PostgreSQL. The core's side of
POST /v1/orders runs through a neutral provider in tests/gateway/test_orders_api.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from gateway.plugin.settings import ConfigError
from tests.conftest import MCH_ID, MCH_KEY
from tests.gateway.test_orders_api import ORDER_KEYS, assert_error_shape, closed_port, order_count, stored_order

WX_APP_ID = "wx1234567890abcdef"  # IOTPAY_WX_APP_ID in tests/conftest.py gateway_config

VALID_ORDER: dict[str, Any] = {
    "channel": "WX_APP",
    "amount": 2856,
    "currency": "CAD",
    "subject": "Coffee beans",
    "body": "1kg medium roast",
}


def order_request(**changes: Any) -> dict[str, Any]:
    return {**VALID_ORDER, **changes}


def simulator_order(simulator: Any, provider_order_id: str) -> dict[str, Any]:
    response = requests.get(f"{simulator.url}/orders/{provider_order_id}", timeout=5)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


# -- creating an order -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "currency", "options", "pay_param_keys"),
    [
        pytest.param(
            "WX_APP",
            "CAD",
            {},
            {"appid", "partnerid", "prepayid", "package", "noncestr", "timestamp", "sign"},
            id="WX_APP-CAD",
        ),
        pytest.param("ALIPAY_MOBILE", "CAD", {"os_type": "ANDROID"}, {"orderInfo"}, id="ALIPAY_MOBILE-CAD"),
        pytest.param("UPI_APP", "USD", {}, {"tn", "mode"}, id="UPI_APP-USD"),
    ],
)
def test_create_order_answers_201_with_a_pending_order_and_the_sdk_pay_params(
    app: Any,
    client: Any,
    simulator: Any,
    caplog: pytest.LogCaptureFixture,
    channel: str,
    currency: str,
    options: dict[str, Any],
    pay_param_keys: set[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    payload = order_request(
        channel=channel,
        currency=currency,
        provider_options=options,
        merchant_reference="cart-42",
        metadata={"cart": 42, "tags": ["beans"]},
    )

    response = client.post("/v1/orders", json=payload)

    assert response.status_code == 201, response.get_data(as_text=True)
    order = response.get_json()
    assert set(order) >= ORDER_KEYS  # later additions to the shape are fine
    assert order["provider"] == "iotpay"
    assert order["channel"] == channel
    assert order["amount"] == 2856
    assert order["currency"] == currency
    assert order["status"] == "pending"
    assert order["paid_at"] is None
    assert order["merchant_reference"] == "cart-42"
    assert order["metadata"] == {"cart": 42, "tags": ["beans"]}
    assert isinstance(order["merchant_order_no"], str) and 0 < len(order["merchant_order_no"]) <= 30
    assert isinstance(order["provider_order_id"], str) and order["provider_order_id"]
    assert isinstance(order["pay_params"], dict)
    assert pay_param_keys <= set(order["pay_params"])
    if channel == "WX_APP":
        assert order["pay_params"]["appid"] == WX_APP_ID
        assert order["pay_params"]["package"] == "Sign=WXPay"
        assert order["pay_params"]["prepayid"]
    created_at = datetime.fromisoformat(order["created_at"])
    assert created_at.utcoffset() == timedelta(0)

    # Stored exactly once, and IOTPay got the same order.
    assert order_count(app) == 1
    stored = stored_order(app, order["id"])
    assert stored is not None and stored.status == "pending" and stored.amount == 2856
    at_iotpay = simulator_order(simulator, order["provider_order_id"])
    assert at_iotpay["mchId"] == MCH_ID
    assert at_iotpay["mchOrderNo"] == order["merchant_order_no"]
    assert (at_iotpay["amount"], at_iotpay["currency"], at_iotpay["channelId"]) == (2856, currency, channel)

    # GET answers the very same order.
    shown = client.get(f"/v1/orders/{order['id']}")
    assert shown.status_code == 200
    assert shown.get_json() == order
    assert MCH_KEY not in response.get_data(as_text=True) + shown.get_data(as_text=True)
    assert MCH_KEY not in caplog.text


def test_wx_app_without_any_app_id_names_provider_options_app_id(app_factory: Callable[..., Any]) -> None:
    app = app_factory(IOTPAY_WX_APP_ID="")
    client = app.test_client()

    response = client.post("/v1/orders", json=order_request(channel="WX_APP"))

    body = assert_error_shape(response, 422, "validation_error")
    assert list(body["errors"]) == ["provider_options.app_id"]
    assert order_count(app) == 0
    # The app id given in the request is enough.
    given = client.post("/v1/orders", json=order_request(provider_options={"app_id": "wxgiven"}))
    assert given.status_code == 201, given.get_data(as_text=True)
    assert given.get_json()["pay_params"]["appid"] == "wxgiven"


def test_public_url_too_long_for_iotpay_notify_url_is_not_a_500_with_a_stranded_order(
    app_factory: Callable[..., Any],
) -> None:
    long_public_url = "https://pay.example.com/" + "p" * 180  # + "/notify/iotpay" > 200 chars
    try:
        app = app_factory(GATEWAY_PUBLIC_URL=long_public_url)
    except ConfigError as exc:  # refusing to start is a fine answer too
        assert "GATEWAY_PUBLIC_URL" in str(exc)
        return

    response = app.test_client().post("/v1/orders", json=order_request())

    assert response.status_code != 500, response.get_data(as_text=True)
    assert order_count(app) == 0


# -- IOTPay misbehaving ------------------------------------------------------------------------


def test_iotpay_business_failure_answers_502_with_its_code_and_the_order_is_failed(
    app: Any, client: Any, simulator_faults: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    simulator_faults("create_order", "fail", errCode="0014")

    response = client.post("/v1/orders", json=order_request())

    body = assert_error_shape(response, 502, "provider_error")
    assert body["provider_error"]["code"] == "0014"
    assert isinstance(body["provider_error"]["message"], str) and body["provider_error"]["message"]
    assert order_count(app) == 1
    stored = stored_order(app, body["order_id"])
    assert stored is not None
    assert stored.status == "failed"
    assert stored.failure_code == "0014"
    assert stored.paid_at is None
    shown = client.get(f"/v1/orders/{body['order_id']}").get_json()
    assert shown["status"] == "failed"
    assert shown["provider_order_id"] is None and shown["pay_params"] is None
    assert MCH_KEY not in response.get_data(as_text=True)
    assert MCH_KEY not in caplog.text


@pytest.mark.parametrize("mode", ["garbage", "html", "http_500"])
def test_unreadable_iotpay_answer_is_an_unknown_outcome_and_the_order_stays_pending(
    app: Any, client: Any, simulator_faults: Callable[..., None], caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.DEBUG)
    simulator_faults("create_order", mode)

    response = client.post("/v1/orders", json=order_request())

    body = assert_error_shape(response, 502, "provider_outcome_unknown")
    assert set(body["provider_error"]) == {"code", "message"}
    assert order_count(app) == 1
    stored = stored_order(app, body["order_id"])
    assert stored is not None
    assert stored.status == "pending"  # IOTPay may have created it: never `failed`
    assert stored.paid_at is None and stored.provider_order_id is None
    assert MCH_KEY not in response.get_data(as_text=True)
    assert MCH_KEY not in caplog.text


def test_iotpay_slower_than_the_timeout_answers_504_and_the_order_stays_pending(
    app_factory: Callable[..., Any], simulator_faults: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = app_factory(IOTPAY_TIMEOUT="0.5")
    simulator_faults("create_order", "delay", seconds=2)

    response = app.test_client().post("/v1/orders", json=order_request())

    body = assert_error_shape(response, 504, "provider_timeout")
    stored = stored_order(app, body["order_id"])
    assert stored is not None
    assert stored.status == "pending"
    assert stored.paid_at is None
    assert order_count(app) == 1
    assert app.test_client().get(f"/v1/orders/{body['order_id']}").get_json()["status"] == "pending"
    assert MCH_KEY not in response.get_data(as_text=True)
    assert MCH_KEY not in caplog.text


def test_iotpay_unreachable_answers_504_and_the_order_stays_pending(
    app_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = app_factory(IOTPAY_API_URL=f"http://127.0.0.1:{closed_port()}/v1")

    response = app.test_client().post("/v1/orders", json=order_request())

    body = assert_error_shape(response, 504, "provider_unreachable")
    stored = stored_order(app, body["order_id"])
    assert stored is not None and stored.status == "pending" and stored.paid_at is None
    assert order_count(app) == 1
    assert MCH_KEY not in response.get_data(as_text=True)
    assert MCH_KEY not in caplog.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"subject": "   "}, "subject", id="subject-blank"),
        pytest.param({"subject": "s" * 65}, "subject", id="subject-65-chars"),
        pytest.param({"body": "b" * 256}, "body", id="body-256-chars"),
        pytest.param({"client_ip": "1" * 33}, "client_ip", id="client-ip-33-chars"),
        pytest.param({"client_ip": "   "}, "client_ip", id="client-ip-blank"),
        pytest.param({"provider_options": {"colour": "blue"}}, "provider_options.colour", id="option-unknown"),
        pytest.param({"provider_options": {"os_type": "WINDOWS"}}, "provider_options.os_type", id="option-os-type"),
    ],
)
def test_what_iotpay_refuses_is_a_422_naming_the_field_and_nothing_is_stored(
    app: Any, client: Any, caplog: pytest.LogCaptureFixture, changes: dict[str, Any], field: str
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post("/v1/orders", json=order_request(**changes))

    body = assert_error_shape(response, 422, "validation_error")
    assert field in body["errors"], body
    assert all(isinstance(text, str) and text for text in body["errors"][field])
    assert order_count(app) == 0
    assert MCH_KEY not in response.get_data(as_text=True)
    assert MCH_KEY not in caplog.text
