"""The simulator serves every checkout channel over real HTTP, driven by the IOTPay provider itself.

A QR order's code opens the simulator's checkout page (a QR image and a Pay button); a redirect lands
there too, and paying sends the browser back to returnUrl with IOTPay's front-end return (backType=1).
Both send the real signed server notify (backType=2).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from gateway_iotpay import signing
from gateway_iotpay.channels import Action
from gateway_iotpay.client import IotPayClient
from gateway_iotpay.config import IotPayConfig
from gateway_iotpay.provider import IotPayProvider
from gateway_iotpay.sandbox.app import create_simulator
from gateway_iotpay.sandbox.store import SimulatorStore

from gateway.plugin import OrderDraft, OrderRequest
from gateway.testing.live import LiveServer
from tests.iotpay.test_simulator import (
    KEY,
    MCH_ID,
    NotifyReceiver,
    business_failure,
    call,
    order_params,
    signed,
    wait_for,
)

RETURN_URL = "https://shop.example.com/orders/42/return?lang=en"
CHANNEL_OPTIONS: dict[str, dict[str, Any]] = {
    "WX_APP": {"app_id": "wx1234567890abcdef"},
    "ALIPAY_WAP": {"os_type": "ANDROID"},
    "WX_JSAPI": {"open_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "app_id": "wxd678efh567hg6787"},
}
REDIRECTING = ("ALIPAY_WAP", "ALIPAY_PC", "UPI_SEQ", "WX_JSAPI_BROWSER")


@pytest.fixture
def sim_url(tmp_path: Path) -> Iterator[str]:
    simulator = create_simulator({MCH_ID: KEY}, str(tmp_path / "sim.sqlite"), notify_retry_delays=(0.05, 0.05))
    server = LiveServer(simulator)
    yield server.url
    server.stop()
    simulator.close()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def receiver() -> Iterator[tuple[NotifyReceiver, str]]:
    app = NotifyReceiver(["success"])
    server = LiveServer(app)
    yield app, f"{server.url}/notify/iotpay"
    server.stop()


def provider(sim_url: str) -> IotPayProvider:
    config = IotPayConfig(
        mch_id=MCH_ID,
        secret_key=KEY,
        api_url=f"{sim_url}/v1",
        job_no="cashier01",
        wx_app_id=None,
        timeout=5,
        require_response_sign=True,  # the simulator signs its answers: a missing or wrong sign fails here
    )
    return IotPayProvider(config, IotPayClient(config.api_url, 5))


def start(sim_url: str, notify_url: str, channel: str, **options: Any) -> Any:
    draft = OrderDraft(
        channel=channel,
        amount=2856,
        currency="CAD",
        subject="Coffee <beans> & tea",
        body="1kg medium roast",
        client_ip="24.80.45.254",
        options={**CHANNEL_OPTIONS.get(channel, {}), **options},
        return_url=RETURN_URL if channel in REDIRECTING else None,
    )
    iotpay = provider(sim_url)
    iotpay.check_order(draft)
    merchant_order_no = f"G{abs(hash((channel, str(options)))) % 10**12:012d}"
    request = OrderRequest(draft=draft, order_id="o1", merchant_order_no=merchant_order_no, notify_url=notify_url)
    return iotpay.start_checkout(request)


def server_notifies(app: NotifyReceiver) -> list[dict[str, str]]:
    return [r["args"] for r in app.received]


@pytest.mark.parametrize("channel", ["WX_NATIVE", "ALIPAY_QR", "UPI_QR"])
def test_a_qr_order_shows_its_code_on_a_page_that_pays_and_notifies(
    http: requests.Session, sim_url: str, receiver: tuple[NotifyReceiver, str], channel: str
) -> None:
    app, notify_url = receiver
    started = start(sim_url, notify_url, channel)
    assert started.payer.type is Action.DISPLAY_QR_CODE
    page = http.get(started.payer.data, timeout=5)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert re.search(r'<img id="qr-code" alt="QR code" src="data:image/svg\+xml', page.text)
    assert "28.56 CAD" in page.text
    assert "Coffee &lt;beans&gt; &amp; tea" in page.text  # the merchant's text, escaped
    assert '<button id="pay"' in page.text
    assert app.received == []

    paid = http.post(started.payer.data, timeout=5)
    assert paid.status_code == 200 and "Paid 28.56 CAD" in paid.text
    notify = wait_for(lambda: server_notifies(app))[0]
    assert (notify["status"], notify["backType"], notify["payOrderId"]) == ("2", "2", started.provider_order_id)
    assert signing.is_valid(notify, KEY)


@pytest.mark.parametrize("channel", REDIRECTING)
def test_a_redirect_lands_on_a_checkout_that_pays_and_sends_the_browser_back(
    http: requests.Session, sim_url: str, receiver: tuple[NotifyReceiver, str], channel: str
) -> None:
    app, notify_url = receiver
    started = start(sim_url, notify_url, channel)
    assert started.payer.type is Action.REDIRECT_TO_URL
    landing = http.get(started.payer.url, timeout=5)
    assert landing.status_code == 200 and '<button id="pay"' in landing.text
    assert "qr-code" not in landing.text

    back = http.post(started.payer.url, allow_redirects=False, timeout=5)
    assert back.status_code == 303
    location = urlsplit(back.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == RETURN_URL.split("?")[0]
    returned = dict(parse_qsl(location.query))
    assert returned["lang"] == "en"  # returnUrl's own query survives
    front_end = {name: value for name, value in returned.items() if name != "lang"}
    assert (front_end["backType"], front_end["status"]) == ("1", "2")
    assert signing.is_valid(front_end, KEY)

    notify = wait_for(lambda: server_notifies(app))[0]
    assert notify["backType"] == "2" and signing.is_valid(notify, KEY)
    if channel == "WX_JSAPI_BROWSER":  # IOTPay puts mchOrderNo in param1 for this channel
        assert notify["param1"] == notify["mchOrderNo"]


def test_wechat_browser_with_qrcode_pay_gets_a_code_for_the_checkout(
    http: requests.Session, sim_url: str, receiver: tuple[NotifyReceiver, str]
) -> None:
    _, notify_url = receiver
    started = start(sim_url, notify_url, "WX_JSAPI_BROWSER", qrcode_pay=True)
    assert started.payer.type is Action.DISPLAY_QR_CODE
    assert http.get(started.payer.data, timeout=5).status_code == 200


def test_a_mini_program_order_gets_wx_request_payment_params(
    sim_url: str, receiver: tuple[NotifyReceiver, str]
) -> None:
    _, notify_url = receiver
    started = start(sim_url, notify_url, "WX_JSAPI")
    assert started.payer.type is Action.MINI_PROGRAM
    params = started.payer.params
    assert params["appId"] == "wxd678efh567hg6787"
    assert params["package"].startswith("prepay_id=")
    assert {"timeStamp", "nonceStr", "signType", "paySign"} <= params.keys()


@pytest.mark.parametrize(
    ("changes", "named_field"),
    [
        ({"channelId": "ALIPAY_QR", "currency": "CNY", "extra": None}, "currency"),
        ({"channelId": "WX_JSAPI", "extra": '{"type":"minipay","appId":"wx1"}'}, "extra"),
        ({"channelId": "WX_NATIVE", "extra": None}, "extra"),
        ({"channelId": "ALIPAY_PC", "extra": None}, "returnUrl"),
        ({"channelId": "ALIPAY_WAP", "extra": None, "returnUrl": "https://s.example/r"}, "osType"),
        ({"channelId": "UPI_SEQ", "extra": None, "returnUrl": "https://s.example/" + "r" * 190}, "returnUrl"),
        ({"channelId": "WX_MICROPAY", "extra": None}, "channelId"),
    ],
)
def test_the_simulator_refuses_what_iotpay_would_naming_the_field(
    http: requests.Session, sim_url: str, changes: dict[str, Any], named_field: str
) -> None:
    code, description = business_failure(call(http, sim_url, "create_order", signed(order_params(**changes))))
    assert code == "0014"
    assert named_field in description


def test_pay_for_submit_refuses_param1(http: requests.Session, sim_url: str) -> None:
    params = order_params(channelId="WX_JSAPI", extra=None, returnUrl="https://s.example/r", param1="mine")
    code, description = business_failure(call(http, sim_url, "payForSubmit", signed(params)))
    assert code == "0014" and "param1" in description


def test_held_notifies_wait_until_the_hold_is_cleared(
    http: requests.Session, sim_url: str, receiver: tuple[NotifyReceiver, str]
) -> None:
    app, notify_url = receiver
    assert http.post(f"{sim_url}/faults", json={"operation": "notify", "mode": "hold"}, timeout=5).status_code == 201
    started = start(sim_url, notify_url, "ALIPAY_PC")
    http.post(started.payer.url, allow_redirects=False, timeout=5)
    assert http.get(f"{sim_url}/orders/{started.provider_order_id}", timeout=5).json()["status"] == 2
    with pytest.raises(AssertionError):
        wait_for(lambda: app.received, timeout=0.5)

    http.delete(f"{sim_url}/faults", timeout=5)
    assert wait_for(lambda: app.received)


@pytest.mark.parametrize(
    "fault", [{"operation": "notify", "mode": "fail"}, {"operation": "create_order", "mode": "hold"}]
)
def test_only_notifies_are_held(http: requests.Session, sim_url: str, fault: dict[str, str]) -> None:
    assert http.post(f"{sim_url}/faults", json=fault, timeout=5).status_code == 400


def test_a_state_file_from_before_redirects_gains_the_return_url_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE orders (pay_order_id TEXT PRIMARY KEY, mch_id TEXT NOT NULL, mch_order_no TEXT NOT NULL,"
            " channel_id TEXT NOT NULL, currency TEXT NOT NULL, amount INTEGER NOT NULL, status INTEGER NOT NULL,"
            " client_ip TEXT NOT NULL, device TEXT, subject TEXT NOT NULL, body TEXT NOT NULL,"
            " notify_url TEXT NOT NULL, param1 TEXT, param2 TEXT, extra TEXT, channel_order_no TEXT,"
            " pay_succ_time TEXT, notified INTEGER NOT NULL DEFAULT 0, UNIQUE (mch_id, mch_order_no))"
        )
        conn.execute(
            "INSERT INTO orders (pay_order_id, mch_id, mch_order_no, channel_id, currency, amount, status,"
            " client_ip, subject, body, notify_url) VALUES ('P1', 'm', 'o', 'WX_APP', 'CAD', 1, 0, 'ip', 's', 'b', 'n')"
        )
    order = SimulatorStore(str(path)).get_order("P1")
    assert order is not None and order.return_url is None
