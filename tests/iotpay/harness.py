"""IOTPay's conformance harness: the plugin's simulator on a real port, and notifies signed as IOTPay signs them."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlencode

import requests
from gateway_iotpay import signing
from gateway_iotpay.sandbox.app import Simulator, create_simulator

from gateway.testing import (
    FieldLimit,
    HttpRequest,
    InvalidOrderExample,
    KnownAnswer,
    ProviderAnswer,
    ProviderHarness,
    StrictSetting,
    ValidOrderExample,
)
from gateway.testing.live import Environ, Interceptor, LiveServer

VECTORS = Path(__file__).parent / "sign-vectors.json"
MCH_ID = "10000701"
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # made up, and unlike every other test key
SECOND_MCH_ID = "10000702"
SECOND_KEY = "1a2b3c4d5e6f70819203a4b5c6d7e8f9"  # the second account's, for the kit's two-account check


# One past each of IOTPay's lengths for the options it takes on every channel.
EVERY_OPTION_TOO_LONG = {"device": "d" * 65, "param1": "a" * 65, "param2": "b" * 65, "remarks": "r" * 201}


class IotPayHarness(ProviderHarness):
    provider_name = "iotpay"
    display_name = "IOTPay"  # what its own pages call it
    channel = "ALIPAY_MOBILE"
    currency = "CAD"
    signature_ignores_case = True  # IOTPay's hex is upper case, and XxPay accepts either case
    required_settings = ("IOTPAY_MCH_ID", "IOTPAY_SECRET_KEY")  # IOTPAY_API_URL defaults to production
    # IOTPay's error-code table: 0010 system error, 0110 third-party time-out (a business result, not a refusal).
    busy_answers = (
        ProviderAnswer(200, '{"retCode":"SUCCESS","resCode":"FAIL","errCode":"0010","errCodeDes":"system error"}'),
        ProviderAnswer(
            200, '{"retCode":"SUCCESS","resCode":"FAIL","errCode":"0110","errCodeDes":"third party timeout"}'
        ),
        # Not a busy answer IOTPay documents (it gives errCode with every failure), but one the plugin must read the
        # same way: a business failure that names no error says nothing sure, so the outcome stays unknown.
        ProviderAnswer(200, '{"retCode":"SUCCESS","resCode":"FAIL","retMsg":"refused"}'),
    )
    # Refusals before any business processing (docs/providers/iotpay.md): retCode FAIL, and errCode 0011, 0012, 0014.
    refusal_answers = (
        ProviderAnswer(200, '{"retCode":"FAIL","retMsg":"POST required"}'),
        ProviderAnswer(200, '{"retCode":"SUCCESS","resCode":"FAIL","errCode":"0011","errCodeDes":"POST required"}'),
        ProviderAnswer(200, '{"retCode":"SUCCESS","resCode":"FAIL","errCode":"0012","errCodeDes":"empty post data"}'),
        ProviderAnswer(200, '{"retCode":"SUCCESS","resCode":"FAIL","errCode":"0014","errCodeDes":"parameter error"}'),
        # A parameter error names the parameter at fault; its text may well say that something does not exist
        # (IOTPay documents no wording): only 0112 says that IOTPay has no such order.
        ProviderAnswer(
            200,
            '{"retCode":"SUCCESS","resCode":"FAIL","errCode":"0014",'
            '"errCodeDes":"parameter error: channelId does not exist"}',
        ),
    )
    # Refusals of the gateway itself (docs/providers/iotpay.md): a wrong key, an unknown mchId.
    misconfiguration_answers = (
        ProviderAnswer(200, '{"retCode":"SUCCESS","resCode":"FAIL","errCode":"0013","errCodeDes":"signature error"}'),
        ProviderAnswer(
            200, '{"retCode":"SUCCESS","resCode":"FAIL","errCode":"0015","errCodeDes":"merchant does not exist"}'
        ),
    )
    # IOTPay's order states (docs/providers/iotpay.md): a query answers them as numbers, a notify as text.
    query_states = MappingProxyType(
        {"status": MappingProxyType({0: "pending", 1: "pending", 2: "paid", 3: "paid", 4: "closed", 9: "closed"})}
    )
    # backType 1 is the payer's browser coming back, which pays nothing (only IOTPay's own call, 2, does).
    notification_states = MappingProxyType(
        {
            "status": MappingProxyType({str(status): meaning for status, meaning in query_states["status"].items()}),
            "backType": MappingProxyType({"1": "pending", "2": "paid"}),
        }
    )
    # A mchOrderNo IOTPay already has: 0014, whose text (in errCodeDes, or in retMsg where errCodeDes is left out)
    # says so, and 0113, "order already paid" (docs/providers/iotpay.md). The order may be this very one: never a
    # refusal.
    existing_order_answers = (
        ProviderAnswer(
            200, '{"retCode":"SUCCESS","retMsg":"","resCode":"FAIL","errCode":"0113","errCodeDes":"order already paid"}'
        ),
        ProviderAnswer(
            200,
            '{"retCode":"SUCCESS","retMsg":"","resCode":"FAIL","errCode":"0014",'
            '"errCodeDes":"parameter error: mchOrderNo 20261207000001 already exists"}',
        ),
        ProviderAnswer(
            200,
            '{"retCode":"SUCCESS","retMsg":"mchOrderNo 20261207000001 already exists",'
            '"resCode":"FAIL","errCode":"0014"}',
        ),
    )
    accepted_reply = ProviderAnswer(200, "success", "text/plain")  # IOTPay re-sends until it reads exactly this
    # The options the channels that need some take (what a checkout passes for them), so the kit drives every channel.
    channel_options = MappingProxyType(
        {
            "ALIPAY_WAP": {"os_type": "IOS"},
            "WX_NATIVE": {"product_id": "kit-product-0001"},
            "WX_JSAPI": {"open_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "app_id": "wxd678efh567hg6787"},
        }
    )
    # WeChat's browser answers a QR code (`code_url`) instead of a redirect (`url`) when asked for one.
    more_channel_options = (("WX_JSAPI_BROWSER", MappingProxyType({"qrcode_pay": True})),)
    # Without IOTPAY_WX_APP_ID, a WX_APP order names its WeChat app itself (docs/providers/iotpay.md).
    optional_settings = MappingProxyType({"IOTPAY_WX_APP_ID": {"WX_APP": {"app_id": "wx0123456789abcdef"}}})
    api_url_setting = "IOTPAY_API_URL"  # https, or plain http to this machine only (the kit checks both)
    confirms_notifications = True  # IOTPAY_CONFIRM_NOTIFY_BY_QUERY defaults to on (docs/providers/iotpay.md)
    # IOTPay documents its refund answer as retCode and retMsg (resCode is in its samples), and does not say whether
    # any answer is signed: an answer without resCode that echoes this refund, and one without sign, are taken
    # (docs/providers/iotpay.md). A bare retCode/retMsg answer, echoing nothing, stays unknown. IOTPay's own refund
    # id (refundOrderId) is not documented at all: a refund answer without it is still a refund made.
    optional_answer_fields = MappingProxyType(
        {"create_order": ("sign",), "refund": ("resCode", "sign", "refundOrderId")}
    )
    # What the payer gets from another channel family, null where the order's channel does not use it: the plugin
    # reads only its channel's field (docs/providers/iotpay.md; whether IOTPay sends such nulls is not documented).
    # payForSubmit answers `url`, or `code_url` when asked for a QR code: each may come null beside the other.
    null_answer_fields = MappingProxyType(
        {"create_order": ("codeUrl", "qr_code", "retParams", "payParams", "url", "code_url")}
    )
    # A redirect channel's retParams, as an object or as the JSON text of one (docs/providers/iotpay.md).
    json_text_answer_fields = MappingProxyType({"create_order": ("retParams",)})
    # IOTPay's envelope (docs/providers/iotpay.md): retCode is the call's result, and a create's business
    # result needs resCode too. A refund answer is documented with retCode alone: without resCode it must
    # echo the refund's number and amount, or it is about no refund in particular.
    required_answer_fields = MappingProxyType(
        {"create_order": ("retCode", "resCode"), "refund": ("retCode", ("resCode", "mchRefundNo", "refundAmount"))}
    )
    # IOTPAY_REQUIRE_RESPONSE_SIGN=1: a successful answer without `sign` is unclear (docs/operations.md).
    strict_settings = (StrictSetting({"IOTPAY_REQUIRE_RESPONSE_SIGN": "1"}, "sign", "UNSIGNED_RESPONSE"),)

    # Options IOTPay cannot take, each refused before any call, naming what the merchant must fix. A value
    # IOTPay echoes in its signed notify must not hold `&name=` (docs/providers/iotpay.md).
    invalid_orders = (
        InvalidOrderExample(
            "param1 holding a pair", {"provider_options": {"param1": "a&mchOrderNo=1"}}, "provider_options.param1"
        ),
        InvalidOrderExample(
            "param2 holding a pair", {"provider_options": {"param2": "a&amount=1"}}, "provider_options.param2"
        ),
        InvalidOrderExample("subject holding a pair", {"subject": "Tea&amount=1"}, "subject"),
        InvalidOrderExample("body holding a pair", {"body": "Tea&status=2"}, "body"),
        # IOTPay's own names are not all letters (param1, param2): a pair is any name between `&` and `=`.
        InvalidOrderExample("body holding a pair whose name has a digit", {"body": "Tea&param2=x"}, "body"),
        InvalidOrderExample(
            "a return_url past IOTPay's 200 characters",
            {"channel": "ALIPAY_PC", "return_url": "https://shop.example/" + "r" * 200},
            "return_url",
        ),
        # payForSubmit takes the same returnUrl (docs/providers/iotpay.md): WeChat's browser is bounded too.
        InvalidOrderExample(
            "a WeChat-browser return_url past IOTPay's 200 characters",
            {"channel": "WX_JSAPI_BROWSER", "return_url": "https://shop.example/" + "r" * 200},
            "return_url",
        ),
        InvalidOrderExample("client_ip holding a pair", {"client_ip": "10.0.0.1&status=2"}, "client_ip"),
        InvalidOrderExample(
            "device holding a pair", {"provider_options": {"device": "WEB&status=2"}}, "provider_options.device"
        ),
        InvalidOrderExample(
            "an open_id whose extra is 513 characters, escapes included",
            {
                "channel": "WX_JSAPI",
                "provider_options": {"open_id": "\x01" * 66 + "o" * 58, "app_id": "wxd678efh567hg6787"},
            },
            "provider_options.open_id",
        ),
        InvalidOrderExample(
            "an open_id whose extra is past 512 characters",
            {"channel": "WX_JSAPI", "provider_options": {"open_id": "\x01" * 128, "app_id": "wxd678efh567hg6787"}},
            "provider_options.open_id",
        ),
        InvalidOrderExample(
            "param1 on WeChat's browser, where IOTPay uses it",
            {
                "channel": "WX_JSAPI_BROWSER",
                "return_url": "https://shop.example/back",
                "provider_options": {"param1": "x"},
            },
            "provider_options.param1",
        ),
        *(
            InvalidOrderExample(
                f"param1 and product_id on WeChat's browser, both named at once: {field}",
                {
                    "channel": "WX_JSAPI_BROWSER",
                    "return_url": "https://shop.example/back",
                    "provider_options": {"param1": "x", "product_id": "p1"},
                },
                field,
            )
            for field in ("provider_options.param1", "provider_options.product_id")
        ),
        InvalidOrderExample(
            "product_id on an app channel", {"provider_options": {"product_id": "p1"}}, "provider_options.product_id"
        ),
        InvalidOrderExample(
            "os_type on WeChat's QR code, which no phone opens",
            {"channel": "WX_NATIVE", "provider_options": {"os_type": "IOS", "product_id": "p1"}},
            "provider_options.os_type",
        ),
        InvalidOrderExample("return_url on an app channel", {"return_url": "https://shop.example/back"}, "return_url"),
        InvalidOrderExample(
            "qrcode_pay on an app channel", {"provider_options": {"qrcode_pay": True}}, "provider_options.qrcode_pay"
        ),
        InvalidOrderExample(
            "open_id on an app channel", {"provider_options": {"open_id": "o1"}}, "provider_options.open_id"
        ),
        InvalidOrderExample(
            "app_id on Alipay, which has no WeChat app",
            {"provider_options": {"app_id": "wx0123456789abcdef"}},
            "provider_options.app_id",
        ),
        # Every option too long at once: the merchant hears of each in one answer, not one after another.
        *(
            InvalidOrderExample(
                f"every option too long, {option} among them",
                {"provider_options": EVERY_OPTION_TOO_LONG},
                f"provider_options.{option}",
            )
            for option in EVERY_OPTION_TOO_LONG
        ),
    )
    # Options a merchant's checkout may send to every channel, empty or switched off: not options given.
    valid_orders = (
        ValidOrderExample("qrcode_pay switched off on an app channel", {"provider_options": {"qrcode_pay": False}}),
        ValidOrderExample(
            "param1 empty on WeChat's browser",
            {
                "channel": "WX_JSAPI_BROWSER",
                "return_url": "https://shop.example/back",
                "provider_options": {"param1": ""},
            },
        ),
        ValidOrderExample("device and param2 left empty", {"provider_options": {"device": "", "param2": ""}}),
        ValidOrderExample("os_type on Alipay in an app", {"provider_options": {"os_type": "ANDROID"}}),
        # IOTPay documents no shortest openId; the plugin takes any non-empty one, up to 128 characters.
        ValidOrderExample(
            "a one-character open_id",
            {"channel": "WX_JSAPI", "provider_options": {"open_id": "o", "app_id": "wxd678efh567hg6787"}},
        ),
        # IOTPay's extra holds 512 characters, as sent: each control character escaped (\u0001) counts 6.
        ValidOrderExample(
            "an open_id whose extra is exactly 512 characters",
            {
                "channel": "WX_JSAPI",
                "provider_options": {"open_id": "\x01" * 66 + "o" * 57, "app_id": "wxd678efh567hg6787"},
            },
        ),
        ValidOrderExample("a one-character app_id", {"channel": "WX_APP", "provider_options": {"app_id": "w"}}),
        # settings() names the WeChat app (IOTPAY_WX_APP_ID): an order in WX_APP need not.
        ValidOrderExample("WX_APP without app_id, the setting naming the app", {"channel": "WX_APP"}),
        ValidOrderExample(
            "a one-character product_id", {"channel": "WX_NATIVE", "provider_options": {"product_id": "p"}}
        ),
    )
    # IOTPay's documented lengths (docs/providers/iotpay.md, from IOTPay's create_order and payForSubmit pages).
    field_limits = (
        FieldLimit("subject", 64),
        FieldLimit("body", 255),
        FieldLimit("client_ip", 32),
        FieldLimit("provider_options.device", 64),
        FieldLimit("provider_options.param1", 64),
        FieldLimit("provider_options.param2", 64),
        FieldLimit("provider_options.remarks", 200),
        FieldLimit("return_url", 200, "https://shop.example/", {"channel": "ALIPAY_PC"}),
        FieldLimit("return_url", 200, "https://shop.example/", {"channel": "WX_JSAPI_BROWSER"}),
        FieldLimit("provider_options.product_id", 32, overrides={"channel": "WX_NATIVE"}),
        FieldLimit("provider_options.app_id", 64, overrides={"channel": "WX_APP"}),
        # The plugin's own bound for a mini program's openid (WeChat's are 28; docs/providers/iotpay.md, "ours"):
        # 128 plain characters keep extra inside its 512, though 124 control characters, escaped, do not.
        FieldLimit(
            "provider_options.open_id",
            128,
            overrides={"channel": "WX_JSAPI", "provider_options": {"app_id": "wxd678efh567hg6787"}},
        ),
    )
    # A notify's amount is read from 0 up (schemas.PaymentNotify): any IOTPay signs disagrees with the order or not.
    smallest_notified_amount = 0
    largest_notified_amount = 2**63 - 1  # and up to the most a record holds: more is malformed, never stored
    largest_amount = 2**31 - 1  # IOTPay's `amount` is an int (docs/providers/iotpay.md: from 1 to 2^31-1)
    smallest_amount = 1  # and from 1: one cent is an order IOTPay takes
    # IOTPay's channel introduction: CAD everywhere, USD for US merchants, CNY on these five.
    channel_currencies = MappingProxyType(
        {
            **{
                name: ("CAD", "USD")
                for name in ("WX_APP", "ALIPAY_MOBILE", "UPI_APP", "ALIPAY_QR", "UPI_QR", "WX_JSAPI")
            },
            **{
                name: ("CAD", "USD", "CNY")
                for name in ("WX_NATIVE", "ALIPAY_WAP", "ALIPAY_PC", "UPI_SEQ", "WX_JSAPI_BROWSER")
            },
        }
    )
    # The plugin's code for an answer it cannot use (docs/providers/iotpay.md, "Error codes").
    not_found_codes = ("0112",)  # the one code that says IOTPay has no such order (docs/providers/iotpay.md)
    invalid_answer_code = "INVALID_RESPONSE"
    wrong_signature_code = "INVALID_SIGN"  # an answer whose sign does not verify (docs/providers/iotpay.md)
    status_answer_code = "HTTP_{status}"  # an answer with an HTTP status other than 200 (docs/providers/iotpay.md)
    queries_find_orders_by_reference = True  # query_order takes payOrderId or mchOrderNo (IOTPay's docs)
    notifications_carry_paid_time = True  # paySuccTime, epoch milliseconds
    queries_carry_paid_time = True  # the query answer's paySuccTime
    paid_time_unit = timedelta(milliseconds=1)  # paySuccTime: epoch milliseconds
    form_body_notifications = True  # IOTPay's docs do not say where the notify's fields are; the plugin reads both

    def __init__(self, state_dir: Path, mch_id: str = MCH_ID, key: str = KEY) -> None:
        self._state_path = state_dir / "iotpay-simulator.sqlite3"
        self._simulator: Simulator | None = None
        self._server: LiveServer | None = None
        self.mch_id, self.key = mch_id, key

    @property
    def url(self) -> str:
        assert self._server is not None, "IotPayHarness not started"
        return self._server.url

    def start(self) -> None:
        merchants = {MCH_ID: KEY, SECOND_MCH_ID: SECOND_KEY}  # the simulator knows both accounts
        self._simulator = create_simulator(merchants, str(self._state_path), notify_retry_delays=(0.05, 0.1))
        self._interceptor = Interceptor(self._simulator)
        self._server = LiveServer(self._interceptor)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._simulator is not None:
            self._simulator.close()

    def settings(self, public_url: str) -> Mapping[str, str]:
        return {
            "IOTPAY_MCH_ID": self.mch_id,
            "IOTPAY_SECRET_KEY": self.key,
            "IOTPAY_API_URL": f"{self.url}/v1",
            "IOTPAY_WX_APP_ID": "wx1234567890abcdef",
            "IOTPAY_JOB_NO": "conformance",
        }

    def timeout_settings(self, seconds: float) -> Mapping[str, str]:
        return {"IOTPAY_TIMEOUT": str(seconds)}

    def secrets(self) -> Sequence[str]:
        return [self.key]

    def second_account(self) -> IotPayHarness:
        """Another IOTPay merchant account on the same simulator (started and stopped by this harness)."""
        second = IotPayHarness(self._state_path.parent, SECOND_MCH_ID, SECOND_KEY)
        second._simulator, second._server, second._interceptor = None, self._server, self._interceptor
        return second

    def paid_notification(
        self, order: Mapping[str, Any], *, amount: int | None = None, currency: str | None = None
    ) -> HttpRequest:
        return self._notify(order, status="2", amount=amount, currency=currency)

    def unpaid_notification(self, order: Mapping[str, Any]) -> HttpRequest:
        return self._notify(order, status="1")  # 1: paying, not paid

    def _notify(
        self, order: Mapping[str, Any], *, status: str, amount: int | None = None, currency: str | None = None
    ) -> HttpRequest:
        # IOTPay's asynchronous notify, as the simulator sends it: an empty POST with the fields in the query string.
        params = {
            "payOrderId": order["provider_order_id"],
            "mchId": self.mch_id,
            "mchOrderNo": order["merchant_order_no"],
            "channelId": order["channel"],
            "currency": currency or order["currency"],
            "amount": str(order["amount"] if amount is None else amount),
            "status": status,
            "channelOrderNo": "2026112500000000000000000001",
            "backType": "2",
        }
        if status == "2":
            params["paySuccTime"] = str(time.time_ns() // 1_000_000)
        return HttpRequest(query=tuple({**params, "sign": signing.sign(params, self.key)}.items()))

    def signed_notification(self, request: HttpRequest) -> HttpRequest:
        # As IOTPay signs a notify: `sign` over the query string's other fields, appended last.
        fields = [(name, value) for name, value in request.query if name != signing.SIGN_FIELD]
        signature = signing.sign(dict(fields), self.key)
        return HttpRequest(request.method, (*fields, (signing.SIGN_FIELD, signature)), request.headers, request.body)

    def signed_answer(self, answer: dict[str, Any]) -> dict[str, Any]:
        # As the simulator signs: successful answers, over their top-level scalars (payParams is the wallet's).
        if signing.SIGN_FIELD not in answer:
            return answer
        scalars = {
            name: value
            for name, value in answer.items()
            if isinstance(value, (str, int)) and not isinstance(value, bool) and name != signing.SIGN_FIELD
        }
        return {**answer, signing.SIGN_FIELD: signing.sign(scalars, self.key)}

    def tamper(self, request: HttpRequest) -> HttpRequest:
        query = [(name, str(int(value) + 1) if name == "amount" else value) for name, value in request.query]
        return HttpRequest(request.method, tuple(query), request.headers, request.body)

    def unsigned(self, request: HttpRequest) -> HttpRequest:
        query = [(name, value) for name, value in request.query if name != signing.SIGN_FIELD]
        return HttpRequest(request.method, tuple(query), request.headers, request.body)

    def delay_next(self, operation: str, seconds: float) -> None:
        fault: dict[str, Any] = {
            "operation": {"refund": "refund_order"}.get(operation, operation),
            "mode": "delay",
            "seconds": seconds,
        }
        response = requests.post(f"{self.url}/faults", json=fault, timeout=5)
        assert response.status_code == 201, response.text

    def fail_next(self, operation: str) -> None:
        # errCode 0014 (parameter error): a refusal, so nothing was done.
        fault = {"operation": {"refund": "refund_order"}.get(operation, operation), "mode": "fail", "errCode": "0014"}
        response = requests.post(f"{self.url}/faults", json=fault, timeout=5)
        assert response.status_code == 201, response.text

    def garble_next(self, operation: str, reply: str) -> None:
        self._fault({"operation": {"refund": "refund_order"}.get(operation, operation), "mode": reply})

    def _fault(self, fault: Mapping[str, Any]) -> None:
        response = requests.post(f"{self.url}/faults", json=fault, timeout=5)
        assert response.status_code == 201, response.text

    def pay_without_notifying(self, order: Mapping[str, Any]) -> None:
        self._pay(order, notify="false")

    def close(self, order: Mapping[str, Any]) -> None:
        self._pay(order, outcome="cancelled")  # status 9, cancelled by the payer

    def misdirect_next_query(self, order: Mapping[str, Any], other: Mapping[str, Any]) -> None:
        # The query about `order` reaches the simulator as a (correctly signed) query about `other`.
        def about_other(environ: Environ) -> Environ | None:
            if not environ["PATH_INFO"].endswith("/query_order"):
                return None
            form = parse_qs(Interceptor.body(environ).decode())
            params = json.loads(form["params"][0])
            if (
                order["provider_order_id"] not in (params.get("payOrderId"), None)
                or params.get("mchOrderNo", order["merchant_order_no"]) != order["merchant_order_no"]
            ):
                return None
            params = {name: value for name, value in params.items() if name != signing.SIGN_FIELD}
            if "payOrderId" in params:
                params["payOrderId"] = other["provider_order_id"]
            if "mchOrderNo" in params:
                params["mchOrderNo"] = other["merchant_order_no"]
            body = urlencode({"params": json.dumps({**params, "sign": signing.sign(params, self.key)})}).encode()
            return Interceptor.with_body(environ, body)

        self._interceptor.once(about_other)

    def refunded_amount(self, order: Mapping[str, Any]) -> int:
        response = requests.get(f"{self.url}/orders/{order['provider_order_id']}", timeout=5)
        assert response.status_code == 200, response.text
        refunded: int = response.json()["refundedAmount"]
        return refunded

    def refunds_at_provider(self, order: Mapping[str, Any]) -> Mapping[str, int]:
        response = requests.get(f"{self.url}/orders/{order['provider_order_id']}", timeout=5)
        assert response.status_code == 200, response.text
        return {refund["refundOrderId"]: refund["refundAmount"] for refund in response.json()["refunds"]}

    def pay(self, order: Mapping[str, Any]) -> None:
        # The simulator refunds only orders it has seen paid; it then also sends its own notify.
        self._pay(order)

    def _pay(self, order: Mapping[str, Any], **extra: str) -> None:
        # An order whose create answer was lost has no payOrderId at the gateway: the simulator finds it by mchOrderNo.
        found_by = (
            {"payOrderId": order["provider_order_id"]}
            if order["provider_order_id"]
            else {"mchOrderNo": order["merchant_order_no"], "mchId": self.mch_id}
        )
        form = {**found_by, **extra}
        response = requests.post(f"{self.url}/pay", data=form, timeout=5)
        assert response.status_code == 202, response.text

    def known_answers(self) -> Sequence[KnownAnswer]:
        # Signed by IOTPay's PHP demo (see the file's `about`), not by gateway_iotpay.signing.
        vectors = {vector["name"]: vector for vector in json.loads(VECTORS.read_text())["vectors"]}
        paid = vectors["notify_paid"]
        settings = {"IOTPAY_MCH_ID": paid["params"]["mchId"], "IOTPAY_SECRET_KEY": paid["key"]}
        genuine = HttpRequest(query=(*paid["params"].items(), ("sign", paid["sign"])))
        one_byte_off = paid["sign"][:-1] + ("0" if paid["sign"][-1] != "0" else "1")
        broken = HttpRequest(query=(*paid["params"].items(), ("sign", one_byte_off)))
        return [
            KnownAnswer("notify_paid (IOTPay PHP demo)", settings, genuine),
            KnownAnswer("notify_paid, last byte of sign changed", settings, broken, valid=False),
        ]
