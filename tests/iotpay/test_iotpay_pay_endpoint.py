"""GET /pay with IOTPay's app SDK channels: the app gets the payParams object its SDK needs (WeChat,
Alipay, UnionPay), and a channel without SDK params (QR, redirect, mini-program) is refused. The
core's side of /pay runs through a neutral provider in tests/gateway/test_pay_endpoint.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.test_pay_endpoint import order_count, pay_url, stored_order


@pytest.fixture
def app(app_factory: Callable[..., Any]) -> Any:
    """/pay is off outside the sandbox unless turned on."""
    return app_factory(GATEWAY_PAY_ENDPOINT="1")


@pytest.mark.parametrize(
    ("channel", "sdk_keys"),
    [
        pytest.param("WX_APP", {"appid", "partnerid", "prepayid", "package", "noncestr", "timestamp", "sign"}, id="WX"),
        pytest.param("ALIPAY_MOBILE", {"orderInfo"}, id="ALIPAY"),
        pytest.param("UPI_APP", {"tn", "mode"}, id="UPI"),
    ],
)
def test_pay_answers_200_with_the_pay_params_object_itself_and_the_order_id_header(
    app: Any, client: Any, channel: str, sdk_keys: set[str]
) -> None:
    response = client.get(pay_url(channelid=channel, amount="28.56", currency="CAD"))

    assert response.status_code == 200, response.get_data(as_text=True)
    pay_params = response.get_json()
    assert isinstance(pay_params, dict)
    assert sdk_keys <= set(pay_params)
    assert not {"pay_params", "payParams", "id", "status", "amount"} & set(pay_params)  # not wrapped
    order_id = response.headers["Gateway-Order-Id"]
    stored = stored_order(app, order_id)
    assert stored is not None
    assert (stored.amount, stored.currency, stored.channel, stored.status) == (2856, "CAD", channel, "pending")
    assert stored.pay_params == pay_params
    assert order_count(app) == 1
    # The /v1 API shows the same order and the same pay params.
    shown = client.get(f"/v1/orders/{order_id}").get_json()
    assert shown["pay_params"] == pay_params
    assert (shown["amount"], shown["currency"]) == (2856, "CAD")


@pytest.mark.parametrize("channel", ["WX_NATIVE", "ALIPAY_PC", "WX_JSAPI"])
def test_pay_refuses_channels_that_are_not_app_sdk_channels(app: Any, client: Any, channel: str) -> None:
    """/pay answers pay_params for an app's SDK; a QR, redirect or mini-program order has none to give."""
    response = client.get("/pay", query_string={"channelid": channel, "amount": "28.56"})
    assert response.status_code == 422
    assert "channelid" in response.get_json()["errors"]
