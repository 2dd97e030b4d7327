"""Every IOTPay checkout channel on the wire: the create request pinned by known answers, the answer read safely.

channel-vectors.json holds one known answer per channel, signed by IOTPay's demo routine under php-cli
(vectors/iotpay_demo_sign.php); sign-vectors.json's create_order vectors were signed by IOTPay's own run
of it. Requests go over real HTTP to a recording stand-in for IOTPay.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from gateway_iotpay import signing
from gateway_iotpay.channels import CHANNELS, Action
from gateway_iotpay.client import IotPayClient
from gateway_iotpay.config import IotPayConfig
from gateway_iotpay.provider import IotPayProvider
from marshmallow import ValidationError

from gateway.domain.provider_failures import is_definite_refusal
from gateway.plugin import (
    InvalidOrder,
    NextAction,
    NotificationRejected,
    OrderDraft,
    OrderRequest,
    ProviderError,
    Verdict,
)
from gateway.testing.live import LiveServer
from tests.iotpay.test_provider import FakeIotPay, notify_request, sent_params

HERE = Path(__file__).parent
CHANNEL_VECTORS = json.loads((HERE / "channel-vectors.json").read_text())["vectors"]
IOTPAY_VECTORS = {v["name"]: v for v in json.loads((HERE / "sign-vectors.json").read_text())["vectors"]}

# The two create_order vectors IOTPay's own routine signed, as the gateway would be asked for them.
IOTPAY_ORDERS = {
    "create_order_wx_app": {
        "channel": "WX_APP", "amount": 2856, "currency": "CAD", "subject": "Coffee beans",
        "body": "1kg medium roast", "client_ip": "210.73.10.148", "options": {"app_id": "wx1234567890abcdef"},
        "merchant_order_no": "20160427210604000490", "notify_url": "https://shop.example.com/notify/iotpay",
        "mch_id": "10000701", "job_no": "cashier01", "return_url": None,
    },
    "create_order_wx_native_qr": {
        "channel": "WX_NATIVE", "amount": 2856, "currency": "CAD", "subject": "Coffee beans",
        "body": "1kg medium roast", "client_ip": "24.80.45.254", "options": {},
        "merchant_order_no": "G20261127QR000001", "notify_url": "https://pay.example.org/notify/iotpay",
        "mch_id": "10000701", "job_no": "cashier01", "return_url": None,
    },
}  # fmt: skip
KNOWN_ANSWERS = [
    *({**IOTPAY_VECTORS[name], "order": order, "operation": "create_order"} for name, order in IOTPAY_ORDERS.items()),
    *CHANNEL_VECTORS,
]

# A SUCCESS answer holding every family's payer data, plus fields IOTPay has never documented.
EVERYTHING = {
    "retCode": "SUCCESS",
    "retMsg": "",
    "resCode": "SUCCESS",
    "payOrderId": "P01202611270000000000001",
    "payParams": {"appId": "wxd678efh567hg6787", "timeStamp": "1764201600", "nonceStr": "5K8264ILTKCH16CQ",
                  "package": "prepay_id=wx201410272009395522657a690389285100", "signType": "MD5",
                  "paySign": "C380BEC2BFD727A4B6845133519F3AD6"},
    "codeUrl": "weixin://wxpay/bizpayurl?pr=NwY5Mz9",
    "qr_code": "https://qr.alipay.com/bax08861ymuyhjr0dmn",
    "retParams": {"alipayUrl": "https://openapi.alipay.com/gateway.do?x=1", "unionpayUrl": "https://gateway.95516.com/p"},
    "url": "https://pay.iotpaycloud.com/wx/oauth?o=1",
    "code_url": "https://pay.iotpaycloud.com/wx/qr?o=1",
    "prepayId": "wx201410272009395522657a690389285100",
    "someFieldIotPayAddedLater": {"nested": [1, 2]},
}  # fmt: skip


@pytest.fixture
def iotpay() -> Iterator[tuple[FakeIotPay, str]]:
    fake = FakeIotPay()
    fake.answer = EVERYTHING
    server = LiveServer(fake)
    yield fake, server.url
    server.stop()


def provider_for(url: str, order: dict[str, Any] | None = None, key: str = "k" * 32, **config: Any) -> IotPayProvider:
    order = order or {}
    settings = IotPayConfig(
        mch_id=order.get("mch_id", "10000701"),
        secret_key=key,
        api_url=url,
        job_no=order.get("job_no", "cashier01"),
        wx_app_id=config.get("wx_app_id"),
        timeout=2,
        require_response_sign=False,
    )
    return IotPayProvider(settings, IotPayClient(url, 2))


def draft(channel: str, **overrides: Any) -> OrderDraft:
    fields = {
        "channel": channel,
        "amount": 2856,
        "currency": "CAD",
        "subject": "Coffee beans",
        "body": "1kg medium roast",
        "client_ip": "24.80.45.254",
        "options": {},
        **overrides,
    }
    return OrderDraft(**fields)


def order_request(order: dict[str, Any]) -> OrderRequest:
    names = ("channel", "amount", "currency", "subject", "body", "client_ip", "options", "return_url")
    return OrderRequest(
        draft=OrderDraft(**{name: order[name] for name in names}),
        order_id="o1",
        merchant_order_no=order["merchant_order_no"],
        notify_url=order["notify_url"],
    )


# -- the request, pinned ------------------------------------------------------------------------


@pytest.mark.parametrize("vector", KNOWN_ANSWERS, ids=lambda v: v["name"])
def test_each_channel_sends_exactly_its_known_answer_request(iotpay: tuple[FakeIotPay, str], vector: dict) -> None:
    fake, url = iotpay
    order = vector["order"]
    provider = provider_for(url, order, key=vector["key"])
    provider.check_order(order_request(order).draft)
    provider.start_checkout(order_request(order))

    assert fake.requests[-1]["path"] == f"/{vector['operation']}"
    expected = {name: value for name, value in vector["params"].items() if value != ""}
    assert sent_params(fake) == {**expected, "sign": vector["sign"]}


def test_every_offered_channel_has_a_known_answer() -> None:
    assert {vector["order"]["channel"] for vector in KNOWN_ANSWERS} == set(CHANNELS)


@pytest.mark.skipif(shutil.which("php") is None, reason="php-cli is not installed (apt-get install php-cli)")
@pytest.mark.parametrize("source", ["sign-vectors.json", "vectors/channel-inputs.json"])
def test_the_php_routine_reproduces_the_stored_answers(source: str) -> None:
    """The routine that made channel-vectors.json gives IOTPay's own answers for IOTPay's vectors."""
    run = subprocess.run(
        ["php", str(HERE / "vectors" / "iotpay_demo_sign.php")],
        input=(HERE / source).read_bytes(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    computed = [(v["name"], v["string"], v["sign"]) for v in json.loads(run.stdout)["vectors"]]
    stored_file = "sign-vectors.json" if source == "sign-vectors.json" else "channel-vectors.json"
    stored = [(v["name"], v["string"], v["sign"]) for v in json.loads((HERE / stored_file).read_text())["vectors"]]
    assert computed == stored


# -- the answer, read ---------------------------------------------------------------------------

EXPECTED_ACTIONS = {
    "WX_APP": NextAction(Action.SDK_PARAMS, params=EVERYTHING["payParams"]),
    "ALIPAY_MOBILE": NextAction(Action.SDK_PARAMS, params=EVERYTHING["payParams"]),
    "UPI_APP": NextAction(Action.SDK_PARAMS, params=EVERYTHING["payParams"]),
    "WX_NATIVE": NextAction(Action.DISPLAY_QR_CODE, data="weixin://wxpay/bizpayurl?pr=NwY5Mz9"),
    "ALIPAY_QR": NextAction(Action.DISPLAY_QR_CODE, data="https://qr.alipay.com/bax08861ymuyhjr0dmn"),
    "UPI_QR": NextAction(Action.DISPLAY_QR_CODE, data="https://qr.alipay.com/bax08861ymuyhjr0dmn"),
    "ALIPAY_WAP": NextAction(Action.REDIRECT_TO_URL, url="https://openapi.alipay.com/gateway.do?x=1"),
    "ALIPAY_PC": NextAction(Action.REDIRECT_TO_URL, url="https://openapi.alipay.com/gateway.do?x=1"),
    "UPI_SEQ": NextAction(Action.REDIRECT_TO_URL, url="https://gateway.95516.com/p"),
    "WX_JSAPI": NextAction(Action.MINI_PROGRAM, params=EVERYTHING["payParams"]),
    "WX_JSAPI_BROWSER": NextAction(Action.REDIRECT_TO_URL, url="https://pay.iotpaycloud.com/wx/oauth?o=1"),
}


def _vector_of(channel: str) -> dict:
    return next(
        v for v in KNOWN_ANSWERS if v["order"]["channel"] == channel and not v["order"]["options"].get("qrcode_pay")
    )


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_each_channel_reads_its_payer_step_and_tolerates_unknown_fields(
    iotpay: tuple[FakeIotPay, str], channel: str
) -> None:
    _, url = iotpay
    order = _vector_of(channel)["order"]
    started = provider_for(url, order).start_checkout(order_request(order))
    assert started.payer == EXPECTED_ACTIONS[channel]
    assert started.provider_order_id == "P01202611270000000000001"


def test_wechat_browser_with_qrcode_pay_gets_the_code_url_as_a_qr_code(iotpay: tuple[FakeIotPay, str]) -> None:
    _, url = iotpay
    order = next(v for v in CHANNEL_VECTORS if v["name"] == "pay_for_submit_wx_jsapi_qrcode")["order"]
    started = provider_for(url, order).start_checkout(order_request(order))
    assert started.payer == NextAction(Action.DISPLAY_QR_CODE, data="https://pay.iotpaycloud.com/wx/qr?o=1")


def test_payer_data_under_the_other_documented_qr_name_is_taken(iotpay: tuple[FakeIotPay, str]) -> None:
    fake, url = iotpay
    fake.answer = {"retCode": "SUCCESS", "resCode": "SUCCESS", "payOrderId": "P1", "codeUrl": "https://qr.example/1"}
    order = _vector_of("ALIPAY_QR")["order"]
    started = provider_for(url, order).start_checkout(order_request(order))
    assert started.payer.data == "https://qr.example/1"


def test_retparams_sent_as_json_text_is_read_too(iotpay: tuple[FakeIotPay, str]) -> None:
    fake, url = iotpay
    fake.answer = {**EVERYTHING, "retParams": json.dumps({"alipayUrl": "https://openapi.alipay.com/g?y=2"})}
    order = _vector_of("ALIPAY_PC")["order"]
    started = provider_for(url, order).start_checkout(order_request(order))
    assert started.payer.url == "https://openapi.alipay.com/g?y=2"


def _without(*names: str, **changes: Any) -> dict[str, Any]:
    return {**{k: v for k, v in EVERYTHING.items() if k not in names}, **changes}


UNCLEAR_ANSWERS = [
    ("WX_NATIVE", _without("codeUrl", "qr_code")),
    ("WX_NATIVE", _without("qr_code", codeUrl="")),
    ("WX_NATIVE", _without("qr_code", codeUrl=None)),
    ("WX_NATIVE", _without("qr_code", codeUrl=12345)),
    ("WX_NATIVE", _without("qr_code", codeUrl="x" * 3000)),
    ("ALIPAY_QR", _without("codeUrl", "qr_code")),
    ("UPI_QR", _without("codeUrl", qr_code="\n")),
    ("ALIPAY_WAP", _without("retParams")),
    ("ALIPAY_PC", _without("retParams", retParams={"unionpayUrl": "https://gateway.95516.com/p"})),
    ("ALIPAY_PC", _without("retParams", retParams={"alipayUrl": "javascript:alert(1)"})),
    ("UPI_SEQ", _without("retParams", retParams="not json")),
    ("UPI_SEQ", _without("retParams", retParams={"unionpayUrl": "https://gateway.95516.com/p q"})),
    ("WX_JSAPI", _without("payParams")),
    ("WX_JSAPI", _without("payParams", payParams={**EVERYTHING["payParams"], "paySign": ""})),
    ("WX_JSAPI", _without("payParams", payParams={"appId": "wxd678efh567hg6787"})),
    ("WX_JSAPI_BROWSER", _without("url")),
    ("WX_APP", _without("payParams", payParams={})),
    ("WX_APP", _without("payOrderId")),
]


@pytest.mark.parametrize(
    ("channel", "answer"), UNCLEAR_ANSWERS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(UNCLEAR_ANSWERS)]
)
def test_a_success_without_usable_payer_data_is_an_unknown_outcome(
    iotpay: tuple[FakeIotPay, str], channel: str, answer: dict[str, Any]
) -> None:
    """IOTPay said SUCCESS, so the order may exist and be paid: never a refusal, never a payable order."""
    fake, url = iotpay
    fake.answer = answer
    order = _vector_of(channel)["order"]
    with pytest.raises(ProviderError) as unclear:
        provider_for(url, order).start_checkout(order_request(order))
    assert (unclear.value.code, is_definite_refusal(unclear.value)) == ("INVALID_RESPONSE", False)


# -- what the caller gets wrong -----------------------------------------------------------------

BAD_ORDERS = [
    (draft("ALIPAY_PC"), None, "return_url"),
    (draft("ALIPAY_PC"), "https://shop.example.com/" + "r" * 176, "return_url"),  # 201 characters
    (draft("ALIPAY_WAP", options={"os_type": "IOS"}), None, "return_url"),
    (draft("ALIPAY_WAP"), "https://shop.example.com/r", "provider_options.os_type"),
    (draft("WX_JSAPI", options={"app_id": "wxd678efh567hg6787"}), None, "provider_options.open_id"),
    (draft("WX_JSAPI", options={"open_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}), None, "provider_options.app_id"),
    (draft("WX_MICROPAY"), None, "channel"),
    (draft("WX_NATIVE"), "https://shop.example.com/r", "return_url"),
    (draft("WX_NATIVE", options={"open_id": "o1"}), None, "provider_options.open_id"),
    (draft("ALIPAY_QR", options={"qrcode_pay": True}), None, "provider_options.qrcode_pay"),
    (draft("WX_JSAPI_BROWSER", options={"param1": "mine"}), "https://shop.example.com/r", "provider_options.param1"),
    (draft("WX_APP"), None, "provider_options.app_id"),
]


@pytest.mark.parametrize(
    ("order", "return_url", "field"), BAD_ORDERS, ids=[f"{o.channel}-{f}" for o, _, f in BAD_ORDERS]
)
def test_bad_orders_are_refused_naming_the_field(
    iotpay: tuple[FakeIotPay, str], order: OrderDraft, return_url: str | None, field: str
) -> None:
    fake, url = iotpay
    provider = provider_for(url)
    with pytest.raises(InvalidOrder) as refused:
        provider.check_order(replace(order, return_url=return_url))
    assert field in refused.value.errors, refused.value.errors
    assert fake.requests == []


def test_cny_is_taken_where_iotpay_allows_it(iotpay: tuple[FakeIotPay, str]) -> None:
    _, url = iotpay
    provider = provider_for(url)
    for channel, return_url, options in [
        ("WX_NATIVE", None, {}),
        ("ALIPAY_WAP", "https://s.example/r", {"os_type": "ANDROID"}),
        ("ALIPAY_PC", "https://s.example/r", {}),
        ("UPI_SEQ", "https://s.example/r", {}),
        ("WX_JSAPI_BROWSER", "https://s.example/r", {}),
    ]:
        provider.check_order(draft(channel, currency="CNY", options=options, return_url=return_url))


def test_alipay_mobile_still_works_and_warns_about_its_end(
    iotpay: tuple[FakeIotPay, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, url = iotpay
    order = _vector_of("ALIPAY_MOBILE")["order"]
    with caplog.at_level(logging.WARNING, logger="gateway_iotpay"):
        started = provider_for(url, order).start_checkout(order_request(order))
    assert started.payer.type is Action.SDK_PARAMS
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert "ALIPAY_MOBILE" in warning.getMessage()
    assert "2026-03-10" in warning.getMessage()
    assert "ALIPAY_WAP" in warning.getMessage()


def test_other_channels_log_no_deprecation(iotpay: tuple[FakeIotPay, str], caplog: pytest.LogCaptureFixture) -> None:
    _, url = iotpay
    order = _vector_of("WX_NATIVE")["order"]
    with caplog.at_level(logging.WARNING, logger="gateway_iotpay"):
        provider_for(url, order).start_checkout(order_request(order))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- the browser coming back --------------------------------------------------------------------


def test_a_signed_front_end_return_is_never_a_payment() -> None:
    """backType=1 is the payer's browser carrying the result to returnUrl: genuine, but replayable."""
    key = IOTPAY_VECTORS["notify_paid"]["key"]
    params = {**IOTPAY_VECTORS["notify_paid"]["params"], "backType": "1"}
    params["sign"] = signing.sign(params, key)
    with pytest.raises(NotificationRejected) as rejected:
        provider_for("http://unused.invalid", key=key).verify_notification(notify_request(params))
    assert rejected.value.verdict is Verdict.IGNORED


# -- an order checked before it is created: its own fields are still checked when it is sent ---------


@pytest.mark.parametrize(
    ("field", "value"),
    [("merchant_order_no", "M" * 31), ("notify_url", "https://gateway.example/notify/iotpay?x=1")],
)
def test_a_checked_order_with_an_unsendable_number_or_notify_url_is_never_sent(
    iotpay: tuple[FakeIotPay, str], field: str, value: str
) -> None:
    fake, url = iotpay
    provider = provider_for(url)
    good = OrderRequest(
        draft=draft("ALIPAY_QR"),
        order_id="o1",
        merchant_order_no="M1",
        notify_url="https://gateway.example/notify/iotpay",
    )
    provider.check_order(good.draft)  # as the core does before creating any order
    provider.start_checkout(good)
    sent = len(fake.requests)

    provider.check_order(good.draft)
    with pytest.raises(ValidationError):
        provider.start_checkout(replace(good, **{field: value}))
    assert len(fake.requests) == sent
