"""The IOTPay provider's wire behaviour, over real HTTP against a recording stand-in for IOTPay.

The create_order request is pinned to the known-answer vector computed by IOTPay's PHP demo;
the simulator-based tests in tests/gateway cover the same provider end to end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from gateway_iotpay import signing
from gateway_iotpay.client import IotPayClient
from gateway_iotpay.config import IotPayConfig
from gateway_iotpay.provider import IotPayProvider
from werkzeug.wrappers import Request, Response

from gateway.domain.provider_failures import is_definite_refusal
from gateway.plugin import (
    InboundRequest,
    NotificationRejected,
    OrderDraft,
    OrderRef,
    OrderRequest,
    OutcomeUnknown,
    ProviderError,
    RefundRequest,
    Verdict,
)
from gateway.testing.live import LiveServer

VECTORS = {v["name"]: v for v in json.loads((Path(__file__).parent / "sign-vectors.json").read_text())["vectors"]}
CREATE = VECTORS["create_order_wx_app"]
NOTIFY = VECTORS["notify_paid"]
KEY = CREATE["key"]


class FakeIotPay:
    """Records what reaches it and answers whatever the test sets."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: Any = {"retCode": "SUCCESS", "resCode": "SUCCESS", "payOrderId": "P1", "payParams": {"a": "b"}}
        self.status = 200

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(
            {"path": request.path, "content_type": request.content_type, "raw": request.get_data(as_text=True)}
        )
        body = self.answer if isinstance(self.answer, str) else json.dumps(self.answer)
        return Response(body, status=self.status, content_type="application/json")(environ, start_response)


@pytest.fixture
def iotpay() -> Iterator[tuple[FakeIotPay, str]]:
    fake = FakeIotPay()
    server = LiveServer(fake)
    yield fake, server.url
    server.stop()


def make_provider(api_url: str, **overrides: Any) -> IotPayProvider:
    config = IotPayConfig(
        mch_id="10000701",
        secret_key=KEY,
        api_url=api_url,
        job_no="cashier01",
        wx_app_id="wx1234567890abcdef",
        timeout=2,
        require_response_sign=overrides.pop("require_response_sign", False),
    )
    return IotPayProvider(config, IotPayClient(api_url, 2))


def vector_order(**draft_overrides: Any) -> OrderRequest:
    fields = {
        "channel": "WX_APP",
        "amount": 2856,
        "currency": "CAD",
        "subject": "Coffee beans",
        "body": "1kg medium roast",
        "client_ip": "210.73.10.148",
        "options": {},
        **draft_overrides,
    }
    return OrderRequest(
        draft=OrderDraft(**fields),
        order_id="o1",
        merchant_order_no="20160427210604000490",
        notify_url="https://shop.example.com/notify/iotpay",
    )


def sent_params(fake: FakeIotPay) -> dict[str, Any]:
    form = dict(parse_qsl(fake.requests[-1]["raw"], keep_blank_values=True))
    return json.loads(form["params"])


def test_create_order_sends_exactly_the_known_answer_request(iotpay: tuple[FakeIotPay, str]) -> None:
    fake, url = iotpay
    make_provider(url).create_order(vector_order())

    assert fake.requests[-1]["path"] == "/create_order"
    assert fake.requests[-1]["content_type"] == "application/x-www-form-urlencoded"
    expected = {name: value for name, value in CREATE["params"].items() if value != ""}
    assert sent_params(fake) == {**expected, "sign": CREATE["sign"]}


def test_form_value_is_url_encoded_so_ampersand_plus_and_percent_survive(iotpay: tuple[FakeIotPay, str]) -> None:
    fake, url = iotpay
    make_provider(url).create_order(vector_order(channel="ALIPAY_MOBILE", subject="Tea & cake +10% off"))
    params = sent_params(fake)
    assert params["subject"] == "Tea & cake +10% off"
    assert "extra" not in params  # only WX_APP sends extra
    assert signing.is_valid(params, KEY)


def test_create_order_returns_pay_order_id_pay_params_and_merchant(iotpay: tuple[FakeIotPay, str]) -> None:
    fake, url = iotpay
    fake.answer = {"retCode": "SUCCESS", "resCode": "SUCCESS", "payOrderId": "P0099", "payParams": {"prepayid": "wx1"}}
    created = make_provider(url).create_order(vector_order())
    assert (created.provider_order_id, dict(created.pay_params)) == ("P0099", {"prepayid": "wx1"})


@pytest.mark.parametrize(
    ("answer", "status", "code", "definite"),
    [
        ({"retCode": "FAIL", "retMsg": "params is empty"}, 200, "FAIL", True),
        ({"retCode": "SUCCESS", "resCode": "FAIL", "errCode": "0014", "errCodeDes": "amount error"}, 200, "0014", True),
        ({"retCode": "SUCCESS", "resCode": "SUCCESS"}, 200, "INVALID_RESPONSE", False),
        ({"resCode": "SUCCESS"}, 200, "INVALID_RESPONSE", False),
        ("<html><body>Bad gateway</body></html>", 200, "INVALID_RESPONSE", False),
        ("[1, 2]", 200, "INVALID_RESPONSE", False),
        ("{}", 503, "HTTP_503", False),
    ],
    ids=["ret-fail", "res-fail-keeps-errcode", "no-pay-params", "no-retcode", "html", "not-an-object", "http-503"],
)
def test_refusals_keep_iotpay_code_and_message(
    iotpay: tuple[FakeIotPay, str], answer: Any, status: int, code: str, definite: bool
) -> None:
    fake, url = iotpay
    fake.answer, fake.status = answer, status
    with pytest.raises(ProviderError) as refused:
        make_provider(url).create_order(vector_order())
    assert (refused.value.code, is_definite_refusal(refused.value)) == (code, definite)
    if code == "0014":
        assert refused.value.message == "amount error"


def _signed_answer(key: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"retCode": "SUCCESS", "retMsg": "", "resCode": "SUCCESS", "payOrderId": "P7"}
    answer["sign"] = signing.sign(answer, key)
    answer["payParams"] = {"prepayid": "wx7"}  # not covered by the answer's signature
    return answer


@pytest.mark.parametrize("required", [False, True], ids=["sign-tolerated-missing", "sign-required"])
def test_a_correctly_signed_answer_is_accepted(iotpay: tuple[FakeIotPay, str], required: bool) -> None:
    fake, url = iotpay
    fake.answer = _signed_answer(KEY)
    assert make_provider(url, require_response_sign=required).create_order(vector_order()).provider_order_id == "P7"


def _with_sign(answer: dict[str, Any], sign: Any) -> dict[str, Any]:
    return {**answer, "sign": sign}


WRONGLY_SIGNED = [
    pytest.param(_signed_answer("another key"), id="success-signed-with-another-key"),
    pytest.param({**_signed_answer(KEY), "payOrderId": "P8"}, id="success-tampered-after-signing"),
    pytest.param(_with_sign(_signed_answer(KEY), ""), id="success-empty-sign"),
    pytest.param(_with_sign(_signed_answer(KEY), 12345), id="success-sign-not-text"),
    # A refusal would settle an order or a refund as failed: a badly signed one proves nothing either.
    pytest.param(
        _with_sign({"retCode": "SUCCESS", "resCode": "FAIL", "errCode": "0014", "errCodeDes": "x"}, "0" * 32),
        id="refusal-badly-signed",
    ),
    pytest.param(_with_sign({"retCode": "FAIL", "retMsg": "params is empty"}, "0" * 32), id="ret-fail-badly-signed"),
]


@pytest.mark.parametrize("required", [False, True], ids=["sign-tolerated-missing", "sign-required"])
@pytest.mark.parametrize("answer", WRONGLY_SIGNED)
def test_a_wrong_signature_makes_the_outcome_unknown_whatever_the_setting(
    iotpay: tuple[FakeIotPay, str], caplog: pytest.LogCaptureFixture, answer: dict[str, Any], required: bool
) -> None:
    fake, url = iotpay
    fake.answer = answer

    with pytest.raises(ProviderError) as unclear:
        make_provider(url, require_response_sign=required).create_order(vector_order())

    assert (unclear.value.code, type(unclear.value)) == ("INVALID_SIGN", OutcomeUnknown)
    assert "does not verify" in caplog.text
    assert KEY not in caplog.text


def test_an_unsigned_answer_is_tolerated_unless_signatures_are_required(iotpay: tuple[FakeIotPay, str]) -> None:
    fake, url = iotpay
    fake.answer = {"retCode": "SUCCESS", "resCode": "SUCCESS", "payOrderId": "P9", "payParams": {"a": "b"}}

    assert make_provider(url).create_order(vector_order()).provider_order_id == "P9"
    with pytest.raises(ProviderError) as unclear:
        make_provider(url, require_response_sign=True).create_order(vector_order())
    assert (unclear.value.code, type(unclear.value)) == ("UNSIGNED_RESPONSE", OutcomeUnknown)


def test_an_unsigned_refusal_stays_a_refusal_when_signatures_are_required(iotpay: tuple[FakeIotPay, str]) -> None:
    """Refusals are not known to be signed: requiring a sign on them would make every refusal unknown."""
    fake, url = iotpay
    fake.answer = {"retCode": "SUCCESS", "resCode": "FAIL", "errCode": "0014", "errCodeDes": "amount error"}
    with pytest.raises(ProviderError) as refused:
        make_provider(url, require_response_sign=True).create_order(vector_order())
    assert (refused.value.code, is_definite_refusal(refused.value)) == ("0014", True)


def _paid_query_answer() -> dict[str, Any]:
    return {
        "retCode": "SUCCESS", "resCode": "SUCCESS", "payOrderId": "P1", "mchId": "10000701",
        "mchOrderNo": "20160427210604000490", "amount": 2856, "currency": "CAD", "status": 2,
    }  # fmt: skip


@pytest.mark.parametrize("required", [False, True], ids=["sign-tolerated-missing", "sign-required"])
def test_a_paid_query_answer_with_a_wrong_signature_is_no_report_of_payment(
    iotpay: tuple[FakeIotPay, str], required: bool
) -> None:
    fake, url = iotpay
    answer = _paid_query_answer()
    fake.answer = {**answer, "sign": signing.sign(answer, "another key")}
    order = OrderRef("20160427210604000490", "P1", 2856, "CAD", "210.73.10.148")

    with pytest.raises(ProviderError) as unclear:
        make_provider(url, require_response_sign=required).query_order(order)
    assert (unclear.value.code, type(unclear.value)) == ("INVALID_SIGN", OutcomeUnknown)

    fake.answer = {**answer, "sign": signing.sign(answer, KEY)}
    assert make_provider(url, require_response_sign=required).query_order(order).paid


# -- notifications ------------------------------------------------------------------------------


def notify_request(params: dict[str, str], *, as_form: bool = False, method: str = "POST") -> InboundRequest:
    if as_form:
        return InboundRequest(
            method=method,
            path="/notify/iotpay",
            headers={"content-type": "application/x-www-form-urlencoded"},
            query=[],
            body=urlencode(params).encode(),
        )
    return InboundRequest(method=method, path="/notify/iotpay", headers={}, query=list(params.items()), body=b"")


@pytest.mark.parametrize("as_form", [False, True], ids=["query-string", "form-body"])
def test_the_known_answer_notify_verifies_and_parses(as_form: bool) -> None:
    params = {**NOTIFY["params"], "sign": NOTIFY["sign"]}
    notification = make_provider("http://unused.invalid").verify_notification(notify_request(params, as_form=as_form))
    assert notification.merchant_order_no == "20160427210604000490"
    assert (notification.amount, notification.currency, notification.paid) == (2856, "CAD", True)
    assert notification.account_id == "10000701"
    assert notification.provider_order_id == "P01202611251200000000001"
    assert notification.paid_at == datetime(2025, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "verdict"),
    [
        ({"amount": "1"}, Verdict.BAD_SIGNATURE),
        ({"sign": ""}, Verdict.BAD_SIGNATURE),
        ({"sign": "0" * 32}, Verdict.BAD_SIGNATURE),
        ({"extraField": "x"}, Verdict.BAD_SIGNATURE),
    ],
    ids=["tampered-amount", "no-sign", "wrong-sign", "added-field"],
)
def test_tampered_notifies_are_rejected(change: dict[str, str], verdict: Verdict) -> None:
    params = {**NOTIFY["params"], "sign": NOTIFY["sign"], **change}
    with pytest.raises(NotificationRejected) as rejected:
        make_provider("http://unused.invalid").verify_notification(notify_request(params))
    assert rejected.value.verdict is verdict


def test_a_field_sent_twice_with_different_values_is_malformed() -> None:
    params = {**NOTIFY["params"], "sign": NOTIFY["sign"]}
    request = InboundRequest(
        method="POST", path="/notify/iotpay", headers={}, query=[*params.items(), ("amount", "1")], body=b""
    )
    with pytest.raises(NotificationRejected) as rejected:
        make_provider("http://unused.invalid").verify_notification(request)
    assert rejected.value.verdict is Verdict.MALFORMED


@pytest.mark.parametrize(
    ("status", "paid"), [("0", False), ("1", False), ("2", True), ("3", True), ("4", False), ("9", False)]
)
def test_only_statuses_2_and_3_are_payments(status: str, paid: bool) -> None:
    params = {**NOTIFY["params"], "status": status}
    params["sign"] = signing.sign(params, KEY)
    assert make_provider("http://unused.invalid").verify_notification(notify_request(params)).paid is paid


def test_acknowledgement_is_plain_success_only_for_accepted_verdicts() -> None:
    provider = make_provider("http://unused.invalid")
    for verdict in Verdict:
        ack = provider.acknowledge(verdict)
        assert (ack.body == "success") is verdict.accepted
        assert ack.content_type.startswith("text/plain")


def refund_request(refund_id: str = "0f8fbd5c-8d4e-4c2a-9a57-1b2c3d4e5f60") -> RefundRequest:
    ref = OrderRef(
        merchant_order_no="20160427210604000490",
        provider_order_id="P0099",
        amount=1000,
        currency="CAD",
        client_ip="2607:fea8:1234:5678:9abc:def0:1234:5678",
    )
    return RefundRequest(refund_id=refund_id, order=ref, amount=400, currency="CAD", reason=None)


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        # IOTPay documents only retCode/retMsg for refund answers. Without resCode, only an
        # answer that echoes this refund counts as success; anything else is unknown, never failed.
        ({"retCode": "SUCCESS", "mchRefundNo": "0f8fbd5c8d4e4c2a9a571b2c3d4e5f", "refundAmount": 400}, "succeeded"),
        ({"retCode": "SUCCESS"}, "unknown"),
        ({"retCode": "SUCCESS", "resCode": "SUCCESS", "mchRefundNo": "another", "refundAmount": 400}, "unknown"),
        (
            {
                "retCode": "SUCCESS",
                "resCode": "SUCCESS",
                "mchRefundNo": "0f8fbd5c8d4e4c2a9a571b2c3d4e5f",
                "refundAmount": 399,
            },
            "unknown",
        ),
        ({"retCode": "SUCCESS", "resCode": "FAIL", "errCode": "0010"}, "unknown"),
        ({"retCode": "SUCCESS", "resCode": "FAIL", "errCode": "7777"}, "unknown"),
        ({"retCode": "SUCCESS", "resCode": "FAIL", "errCode": "0014", "errCodeDes": "refund too large"}, "failed"),
        ({"retCode": "FAIL", "retMsg": "sign error"}, "failed"),
    ],
    ids=[
        "echo-without-rescode",
        "bare-success",
        "other-refund",
        "other-amount",
        "0010",
        "undocumented",
        "0014",
        "ret-fail",
    ],
)
def test_refund_answers_are_judged_safely(iotpay: tuple[FakeIotPay, str], answer: dict[str, Any], outcome: str) -> None:
    fake, url = iotpay
    fake.answer = answer
    try:
        make_provider(url).refund(refund_request())
        judged = "succeeded"
    except ProviderError as exc:
        judged = "failed" if is_definite_refusal(exc) else "unknown"
    assert judged == outcome
    sent = sent_params(fake)
    assert sent["mchRefundNo"] == "0f8fbd5c8d4e4c2a9a571b2c3d4e5f"  # derived from the refund id
    assert sent["clientIp"] == "2607:fea8:1234:5678::"  # an IPv6 payer, as its /64 (IOTPay holds 32 chars)
    assert signing.is_valid(sent, KEY)


def test_a_query_answer_with_a_fractional_amount_is_not_trusted(iotpay: tuple[FakeIotPay, str]) -> None:
    fake, url = iotpay
    fake.answer = {"retCode": "SUCCESS", "resCode": "SUCCESS", "mchId": "10000701",
                   "mchOrderNo": "20160427210604000490", "amount": 2856.9, "currency": "CAD", "status": 2}  # fmt: skip
    with pytest.raises(ProviderError) as unclear:
        make_provider(url).query_order(refund_request().order)
    assert not is_definite_refusal(unclear.value)


@pytest.mark.parametrize("channel_order_no", [None, 4200001234, ""])
def test_a_query_answer_is_read_whatever_its_unread_channel_order_no_holds(
    iotpay: tuple[FakeIotPay, str], channel_order_no: Any
) -> None:
    # The wallet's own number is never read: a null, a number or nothing there says nothing about the payment.
    fake, url = iotpay
    fake.answer = {"retCode": "SUCCESS", "resCode": "SUCCESS", "mchId": "10000701", "payOrderId": "P0020160427",
                   "mchOrderNo": "20160427210604000490", "amount": 2856, "currency": "CAD", "status": 0,
                   "channelOrderNo": channel_order_no}  # fmt: skip
    report = make_provider(url).query_order(refund_request().order)
    assert (report.paid, report.cancelled, report.amount) == (False, False, 2856)


# A refusal's envelope decides: placeholder fields beside it (an empty payOrderId, a 0 amount, an
# unknown status) must not turn "refused" or "no such order" into unclear, or a refused create would
# never fail over and an order IOTPay never had would never expire.
PLACEHOLDERS = {"payOrderId": "", "amount": 0, "currency": "", "status": -1, "refundOrderId": ""}


@pytest.mark.parametrize(
    ("call", "answer", "kind"),
    [
        ("create", {"retCode": "SUCCESS", "resCode": "FAIL", "errCode": "0014", "errCodeDes": "amount"}, "Refused"),
        ("create", {"retCode": "FAIL", "retMsg": "params is empty"}, "Refused"),
        ("query", {"retCode": "SUCCESS", "resCode": "FAIL", "errCode": "0112", "errCodeDes": "no order"}, "NotFound"),
        ("refund", {"retCode": "SUCCESS", "resCode": "FAIL", "errCode": "0014", "errCodeDes": "amount"}, "Refused"),
    ],
    ids=["create-refused", "create-ret-fail", "query-no-such-order", "refund-refused"],
)
def test_a_refusal_with_placeholder_fields_is_still_a_refusal(
    iotpay: tuple[FakeIotPay, str], call: str, answer: dict[str, Any], kind: str
) -> None:
    fake, url = iotpay
    fake.answer = {**answer, **PLACEHOLDERS}
    provider = make_provider(url)
    calls = {
        "create": lambda: provider.create_order(vector_order()),
        "query": lambda: provider.query_order(refund_request().order),
        "refund": lambda: provider.refund(refund_request()),
    }
    with pytest.raises(ProviderError) as failed:
        calls[call]()
    assert type(failed.value).__name__ == kind, failed.value
    assert failed.value.code == answer.get("errCode", answer["retCode"])


def test_a_success_with_a_placeholder_field_stays_unclear(iotpay: tuple[FakeIotPay, str]) -> None:
    fake, url = iotpay
    fake.answer = {"retCode": "SUCCESS", "resCode": "SUCCESS", "mchId": "10000701",
                   "mchOrderNo": "20160427210604000490", "amount": 0, "currency": "CAD", "status": 2}  # fmt: skip
    with pytest.raises(OutcomeUnknown):
        make_provider(url).query_order(refund_request().order)


@pytest.mark.parametrize(("amount", "verdict"), [(2**31, None), (2**63 - 1, None), (2**63, Verdict.MALFORMED)])
def test_a_signed_notify_amount_is_read_up_to_what_a_record_holds(amount: int, verdict: Verdict | None) -> None:
    # Past any order's limit it is an amount that disagrees with the order (the core's mismatch); past a
    # 64-bit integer no record could hold it, so it is malformed rather than a database error.
    params = {**NOTIFY["params"], "amount": str(amount)}
    params["sign"] = signing.sign(params, KEY)
    provider = make_provider("http://unused.invalid")
    if verdict is None:
        assert provider.verify_notification(notify_request(params)).amount == amount
        return
    with pytest.raises(NotificationRejected) as rejected:
        provider.verify_notification(notify_request(params))
    assert rejected.value.verdict is verdict
