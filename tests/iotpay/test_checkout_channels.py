"""Every checkout family end to end: the API, the IOTPay simulator and its notify, over real HTTP,
on SQLite and on PostgreSQL (the `database_url` fixture runs each test on both).

QR, redirect, mini program and WeChat's browser each get the provider-neutral next action, and the
order becomes paid only after IOTPay's signed server notify: never because a browser came back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from tests.support.flows import wait_for

RETURN_URL = "https://shop.example.com/orders/42/return"
ORDER = {"amount": 2856, "currency": "CAD", "subject": "Coffee beans", "body": "1kg medium roast"}
MINI_PROGRAM = {"open_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "app_id": "wxd678efh567hg6787"}


def create(client: Any, channel: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/orders", json={"channel": channel, **ORDER, **fields})
    assert response.status_code == 201, response.get_json()
    order: dict[str, Any] = response.get_json()
    return order


def status_of(client: Any, order_id: str) -> str:
    status: str = client.get(f"/v1/orders/{order_id}").get_json()["status"]
    return status


def paid(client: Any, order_id: str) -> bool:
    return status_of(client, order_id) == "paid"


def simulator_order_count(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "simulator.sqlite3") as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM orders").fetchone()
    return int(count)


@pytest.mark.parametrize("channel", ["WX_NATIVE", "ALIPAY_QR", "UPI_QR"])
def test_a_qr_order_shows_a_code_the_payer_scans_and_is_paid_by_the_notify(
    client: Any, simulator: Any, channel: str
) -> None:
    order = create(client, channel)
    action = order["next_action"]
    assert action["type"] == "display_qr_code" and set(action) == {"type", "data"}
    assert order["pay_params"] is None

    svg = client.get(f"/v1/orders/{order['id']}/qr_code")
    assert svg.status_code == 200 and svg.content_type == "image/svg+xml"
    assert svg.data.lstrip().startswith(b"<?xml") and b"<svg" in svg.data
    png = client.get(f"/v1/orders/{order['id']}/qr_code?format=png&scale=3")
    assert png.status_code == 200 and png.content_type == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"

    # The payer scans the code (in the sandbox it opens the wallet's page) and pays there.
    assert requests.post(action["data"], timeout=5).status_code == 200
    wait_for(lambda: paid(client, order["id"]), what="the notify to mark the order paid")


@pytest.mark.parametrize(
    ("channel", "options"),
    [("ALIPAY_PC", {}), ("ALIPAY_WAP", {"os_type": "IOS"}), ("UPI_SEQ", {}), ("WX_JSAPI_BROWSER", {})],
)
def test_a_redirect_order_comes_back_to_return_url_and_only_the_notify_pays_it(
    client: Any, simulator: Any, channel: str, options: dict[str, Any]
) -> None:
    requests.post(f"{simulator.url}/faults", json={"operation": "notify", "mode": "hold"}, timeout=5)
    order = create(client, channel, return_url=RETURN_URL, provider_options=options)
    action = order["next_action"]
    assert action["type"] == "redirect_to_url" and set(action) == {"type", "url"}
    assert order["return_url"] == RETURN_URL

    landing = requests.get(action["url"], timeout=5)
    assert landing.status_code == 200
    back = requests.post(action["url"], allow_redirects=False, timeout=5)
    assert back.status_code == 303 and back.headers["Location"].startswith(RETURN_URL + "?")
    front_end_return = dict(parse_qsl(urlsplit(back.headers["Location"]).query))
    assert front_end_return["backType"] == "1"

    # The browser is back, carrying a genuine signed result; even sent to the notify URL, it pays nothing.
    client.get("/notify/iotpay", query_string=front_end_return)
    assert status_of(client, order["id"]) == "pending"

    requests.delete(f"{simulator.url}/faults", timeout=5)  # IOTPay's server notify goes out
    wait_for(lambda: paid(client, order["id"]), what="the notify to mark the order paid")


def test_a_mini_program_order_gets_wx_request_payment_params(client: Any, simulator: Any) -> None:
    order = create(client, "WX_JSAPI", provider_options=MINI_PROGRAM)
    action = order["next_action"]
    assert action["type"] == "mini_program"
    assert {"timeStamp", "nonceStr", "package", "signType", "paySign"} <= action["params"].keys()
    requests.post(f"{simulator.url}/pay", data={"payOrderId": order["provider_order_id"]}, timeout=5)
    wait_for(lambda: paid(client, order["id"]), what="the notify to mark the order paid")


def test_wechat_browser_can_get_a_qr_code_instead_of_a_redirect(client: Any, simulator: Any) -> None:
    order = create(client, "WX_JSAPI_BROWSER", return_url=RETURN_URL, provider_options={"qrcode_pay": True})
    assert order["next_action"]["type"] == "display_qr_code"


def test_app_orders_keep_pay_params_and_name_them_as_an_sdk_next_action(client: Any) -> None:
    order = create(client, "WX_APP")
    assert order["next_action"] == {"type": "sdk_params", "params": order["pay_params"]}
    assert order["pay_params"]["package"] == "Sign=WXPay"


def test_providers_list_each_channel_with_its_next_actions_currencies_and_required_fields(client: Any) -> None:
    (iotpay,) = client.get("/v1/providers").get_json()
    details = {channel["name"]: channel for channel in iotpay["channel_details"]}
    assert set(details) == set(iotpay["channels"])
    assert details["WX_NATIVE"] == {
        "name": "WX_NATIVE",
        "next_actions": ["display_qr_code"],
        "currencies": ["CAD", "USD", "CNY"],
        "required_fields": [],
    }
    assert details["ALIPAY_QR"]["currencies"] == ["CAD", "USD"]
    assert details["ALIPAY_WAP"]["required_fields"] == ["return_url", "provider_options.os_type"]
    assert details["WX_JSAPI"]["next_actions"] == ["mini_program"]
    assert details["WX_JSAPI"]["required_fields"] == ["provider_options.open_id", "provider_options.app_id"]
    assert details["WX_JSAPI_BROWSER"]["next_actions"] == ["redirect_to_url", "display_qr_code"]
    assert details["WX_APP"]["next_actions"] == ["sdk_params"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"channel": "ALIPAY_PC", "return_url": "http://shop.example.com/r"}, "return_url"),
        ({"channel": "ALIPAY_PC", "return_url": "https://shop.example.com/" + "r" * 176}, "return_url"),
        ({"channel": "ALIPAY_PC", "return_url": "javascript:alert(1)"}, "return_url"),
        ({"channel": "ALIPAY_PC"}, "return_url"),
        ({"channel": "WX_JSAPI", "provider_options": {"app_id": "wx1"}}, "provider_options.open_id"),
        ({"channel": "WX_JSAPI", "provider_options": {"open_id": "o1"}}, "provider_options.app_id"),
        ({"channel": "ALIPAY_QR", "currency": "CNY"}, "currency"),
        ({"channel": "UPI_QR", "currency": "CNY"}, "currency"),
        ({"channel": "WX_MICROPAY"}, "channel"),
        ({"channel": "WX_NATIVE", "return_url": RETURN_URL}, "return_url"),
    ],
)
def test_bad_checkout_input_is_a_422_naming_the_field_and_nothing_reaches_iotpay(
    client: Any, simulator: Any, tmp_path: Path, fields: dict[str, Any], named: str
) -> None:
    response = client.post("/v1/orders", json={**ORDER, **fields})
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["error"] == "validation_error" and named in body["errors"], body
    assert simulator_order_count(tmp_path) == 0


@pytest.mark.parametrize(
    ("channel", "options"),
    [
        ("ALIPAY_QR", {}),
        ("UPI_QR", {}),
        ("WX_APP", {"app_id": "wx1"}),
        ("WX_JSAPI", {"app_id": "wx1", "open_id": "o1"}),
    ],
)
def test_a_currency_its_channel_does_not_offer_is_refused_once_with_the_cores_error(
    client: Any, tmp_path: Path, channel: str, options: dict[str, str]
) -> None:
    """A channel's currencies are IOTPay's rule, declared in its manifest (`channel_info`) and checked
    by the core alone: the API user gets this one answer, and nothing reaches IOTPay."""
    response = client.post(
        "/v1/orders", json={**ORDER, "channel": channel, "currency": "CNY", "provider_options": options}
    )
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["error"] == "validation_error"
    assert body["errors"] == {"currency": [f"iotpay {channel} takes one of: CAD, USD"]}
    assert simulator_order_count(tmp_path) == 0


def test_a_qr_code_of_an_order_without_one_is_a_409(client: Any) -> None:
    order = create(client, "WX_APP")
    response = client.get(f"/v1/orders/{order['id']}/qr_code")
    assert response.status_code == 409 and response.get_json()["error"] == "no_qr_code"


def test_a_qr_code_in_an_unknown_format_is_a_422(client: Any) -> None:
    order = create(client, "WX_NATIVE")
    response = client.get(f"/v1/orders/{order['id']}/qr_code?format=gif")
    assert response.status_code == 422 and "format" in response.get_json()["errors"]


def test_a_successful_answer_without_the_code_is_an_unknown_outcome(
    client: Any, simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulator answers SUCCESS without codeUrl: the order may exist at IOTPay, so it stays pending."""
    real = simulator._operations["create_order"]

    def without_code(data: Any, key: str, base_url: str) -> Any:
        return {name: value for name, value in real(data, key, base_url).items() if name != "codeUrl"}

    monkeypatch.setitem(simulator._operations, "create_order", without_code)
    response = client.post("/v1/orders", json={"channel": "WX_NATIVE", **ORDER})
    assert response.status_code == 502, response.get_json()
    body = response.get_json()
    assert body["error"] == "provider_outcome_unknown"
    assert status_of(client, body["order_id"]) == "pending"
