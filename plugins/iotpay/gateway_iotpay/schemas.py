"""Marshmallow schemas for every IOTPay v1 message, in IOTPay's own field names (docs/providers/iotpay.md).

Attribute names are snake_case; `data_key` holds IOTPay's name. `load` takes a wire dict
(IOTPay names) and validates it; `dump` turns our dict into a wire dict. The simulator loads
requests with the same schemas, so a field the client would never send is refused there too.
Requests we send are strict (unknown fields raise); messages IOTPay sends tolerate new fields,
because IOTPay may add some (signatures still cover them: see signing.is_valid).
"""

from __future__ import annotations

import json
from typing import Any

from marshmallow import EXCLUDE, ValidationError, fields, validate, validates_schema

from gateway.plugin import LeanSchema, StrictInt

# channelIds by what the payer gets back (docs/providers/iotpay.md). Barcode (*_MICROPAY) stays out:
# IOTPay's description of its answer is incomplete.
APP_CHANNELS = ("WX_APP", "ALIPAY_MOBILE", "UPI_APP")
QR_CHANNELS = ("WX_NATIVE", "ALIPAY_QR", "UPI_QR")
REDIRECT_CHANNELS = ("ALIPAY_PC", "ALIPAY_WAP", "UPI_SEQ")
JSAPI = "WX_JSAPI"  # a mini program through create_order; WeChat's browser through payForSubmit
CREATE_ORDER_CHANNELS = (*APP_CHANNELS, *QR_CHANNELS, *REDIRECT_CHANNELS, JSAPI)
PAY_FOR_SUBMIT_CHANNELS = (JSAPI,)

CURRENCIES = ("CAD", "USD", "CNY")
MERCHANT_CURRENCIES = ("CAD", "USD")  # every channel: CAD, or USD for US merchants
# IOTPay's channel introduction also allows CNY on these (payForSubmit's WX_JSAPI as well).
CNY_CREATE_ORDER_CHANNELS = frozenset({"WX_NATIVE", "ALIPAY_WAP", "ALIPAY_PC", "UPI_SEQ"})
RETURN_URL_MAX = 200
MAX_AMOUNT = 2**31 - 1  # IOTPay's `amount` is an int; keep it inside a signed 32-bit range.
RECORDABLE = 2**63 - 1  # the largest amount a record (a BIGINT) holds

# IOTPay order status codes: 0 created, 1 paying, 2 paid, 3 paid and notified, 4/9 cancelled by system/user.
STATUS_CREATED, STATUS_PAYING, STATUS_PAID, STATUS_PAID_NOTIFIED = 0, 1, 2, 3
STATUS_CANCELLED_BY_SYSTEM, STATUS_CANCELLED_BY_USER = 4, 9
PAID_STATUSES = frozenset({STATUS_PAID, STATUS_PAID_NOTIFIED})
CANCELLED_STATUSES = frozenset({STATUS_CANCELLED_BY_SYSTEM, STATUS_CANCELLED_BY_USER})
STATUSES = frozenset({STATUS_CREATED, STATUS_PAYING, *PAID_STATUSES, *CANCELLED_STATUSES})  # every one IOTPay answers
# The notify's backType: 2 is IOTPay's server calling; 1 is the payer's browser sent back to returnUrl.
BACK_TYPE_BROWSER, BACK_TYPE_SERVER = "1", "2"


class WholeNumber(fields.Integer):
    """An int in an IOTPay answer, as a JSON number or as digits in a string; never a fraction."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return value


def _text(key: str, max_len: int, *, required: bool = False) -> fields.String:
    return fields.String(data_key=key, required=required, validate=validate.Length(max=max_len))


def _amount(key: str) -> StrictInt:
    return StrictInt(data_key=key, required=True, validate=validate.Range(min=1, max=MAX_AMOUNT))


_SIGN = fields.String(data_key="sign", required=True, validate=validate.Length(equal=32))


class _Request(LeanSchema):
    mch_id = _text("mchId", 30, required=True)
    sign = _SIGN


def currencies_of(operation: str, channel_id: str) -> tuple[str, ...]:
    """The currencies IOTPay takes for `channel_id` through `operation` (create_order or payForSubmit)."""
    if operation == "payForSubmit" or channel_id in CNY_CREATE_ORDER_CHANNELS:
        return (*MERCHANT_CURRENCIES, "CNY")
    return MERCHANT_CURRENCIES


# What `extra` (a JSON string, signed as sent) must hold per channelId; channels missing here take none.
EXTRA_SHAPES: dict[str, tuple[str, dict[str, str | None]]] = {
    # channelId: (how to say it, {key: required value, or None for "any non-empty text"})
    "WX_APP": ('{"type":"apppay","appId":...}', {"type": "apppay", "appId": None}),
    "WX_NATIVE": ('{"productId":...}', {"productId": None}),
    JSAPI: ('{"openId":...,"type":"minipay","appId":...}', {"openId": None, "type": "minipay", "appId": None}),
}


def _extra_problem(channel_id: str, text: str | None) -> str | None:
    shape = EXTRA_SHAPES.get(channel_id)
    if shape is None:
        return None if text is None else f"{channel_id} takes no extra"
    described, wanted = shape
    try:
        extra = json.loads(text or "")
    except ValueError:
        extra = None
    if not isinstance(extra, dict) or any(
        not isinstance(extra.get(key), str) or not extra[key] or value not in (None, extra[key])
        for key, value in wanted.items()
    ):
        return f"{channel_id} needs extra {described}"
    return None


class _OrderRequest(_Request):
    """Fields create_order and payForSubmit share."""

    mch_order_no = _text("mchOrderNo", 30, required=True)
    currency = fields.String(data_key="currency", required=True, validate=validate.OneOf(CURRENCIES))
    amount = _amount("amount")
    client_ip = _text("clientIp", 32, required=True)
    device = _text("device", 64)
    notify_url = _text("notifyUrl", 200, required=True)
    return_url = _text("returnUrl", RETURN_URL_MAX)
    subject = _text("subject", 64, required=True)
    body = _text("body", 255, required=True)
    param1 = _text("param1", 64)
    param2 = _text("param2", 64)
    job_no = _text("jobNo", 50)
    remarks = _text("remarks", 200)

    operation = "create_order"

    @validates_schema
    def _check_common_rules(self, data: dict[str, Any], **_: Any) -> None:
        if "?" in data.get("notify_url", ""):
            raise ValidationError("notifyUrl must not contain '?'", "notifyUrl")
        for name, key in (("subject", "subject"), ("body", "body"), ("client_ip", "clientIp")):
            if name in data and not data[name].strip():
                raise ValidationError("must not be blank", key)
        channel_id, currency = data.get("channel_id"), data.get("currency")
        if channel_id and currency and currency not in currencies_of(self.operation, channel_id):
            taken = ", ".join(currencies_of(self.operation, channel_id))
            raise ValidationError(f"{channel_id} takes {taken}", "currency")


class CreateOrderRequest(_OrderRequest):
    channel_id = fields.String(data_key="channelId", required=True, validate=validate.OneOf(CREATE_ORDER_CHANNELS))
    os_type = fields.String(data_key="osType", validate=validate.OneOf(("IOS", "ANDROID")))
    extra = _text("extra", 512)

    @validates_schema
    def _check_channel_rules(self, data: dict[str, Any], **_: Any) -> None:
        channel_id = data.get("channel_id")
        if channel_id is None:
            return
        problem = _extra_problem(channel_id, data.get("extra"))
        if problem:
            raise ValidationError(problem, "extra")
        if channel_id in REDIRECT_CHANNELS and not data.get("return_url"):
            raise ValidationError(f"{channel_id} needs returnUrl", "returnUrl")
        if channel_id not in REDIRECT_CHANNELS and "return_url" in data:
            raise ValidationError(f"{channel_id} takes no returnUrl", "returnUrl")
        if channel_id == "ALIPAY_WAP" and not data.get("os_type"):
            raise ValidationError("ALIPAY_WAP needs osType", "osType")


class PayForSubmitRequest(_OrderRequest):
    """WX_JSAPI inside WeChat's browser: IOTPay runs the WeChat side and sends the payer to returnUrl."""

    channel_id = fields.String(data_key="channelId", required=True, validate=validate.OneOf(PAY_FOR_SUBMIT_CHANNELS))
    return_url = _text("returnUrl", RETURN_URL_MAX, required=True)
    qrcode_pay = fields.String(data_key="qrcode_pay", validate=validate.OneOf(("1",)))

    operation = "payForSubmit"

    @validates_schema
    def _param1_is_iotpays(self, data: dict[str, Any], **_: Any) -> None:
        # IOTPay puts mchOrderNo in param1 of this channel's notify, so ours would be lost.
        if "param1" in data:
            raise ValidationError("payForSubmit leaves param1 to IOTPay", "param1")


class QueryOrderRequest(_Request):
    pay_order_id = _text("payOrderId", 30)
    mch_order_no = _text("mchOrderNo", 30)

    @validates_schema
    def _one_order_id(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("pay_order_id") and not data.get("mch_order_no"):
            raise ValidationError("payOrderId or mchOrderNo is required", "payOrderId")


class RefundOrderRequest(_Request):
    mch_refund_no = _text("mchRefundNo", 30, required=True)
    pay_order_id = _text("payOrderId", 30, required=True)
    refund_amount = _amount("refundAmount")
    currency = fields.String(data_key="currency", validate=validate.OneOf(CURRENCIES))
    client_ip = _text("clientIp", 32, required=True)
    device = _text("device", 64)
    login_name = _text("loginName", 50)


class Envelope(LeanSchema):
    """Envelope every IOTPay answer shares: communication result, then business result."""

    class Meta:
        unknown = EXCLUDE

    ret_code = fields.String(data_key="retCode", required=True, validate=validate.OneOf(("SUCCESS", "FAIL")))
    ret_msg = fields.String(data_key="retMsg", load_default="")
    # The business result is one of two words; anything else is no result (never an error code to show).
    res_code = fields.String(data_key="resCode", validate=validate.OneOf(("SUCCESS", "FAIL")))
    err_code = fields.String(data_key="errCode")
    err_code_des = fields.String(data_key="errCodeDes")
    sign = fields.String(data_key="sign")


def _answered_id(key: str, *, allow_none: bool = False, required: bool = False) -> fields.String:
    # IOTPay's own ids (payOrderId, refundOrderId) fit the 30 characters its requests take them in;
    # an empty or longer one is not an id IOTPay gave.
    return fields.String(
        data_key=key, allow_none=allow_none, required=required, validate=validate.Length(min=1, max=30)
    )


class JsonObject(fields.Field[dict[str, Any]]):
    """An object IOTPay may send as a JSON object or as the JSON text of one (`retParams`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise self.make_error("invalid") from None
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        return value

    default_error_messages = {"invalid": "Not a JSON object."}


class CreateOrderResponse(Envelope):
    pay_order_id = _answered_id("payOrderId", allow_none=True)
    pay_params = fields.Dict(data_key="payParams", allow_none=True)  # app and mini-program channels
    # What the payer gets from the other channel families. Each may be absent or
    # null on a channel that does not use it; whether the one the channel needs is there is judged later.
    code_url = fields.Raw(data_key="codeUrl", allow_none=True)  # WX_NATIVE
    qr_code = fields.Raw(data_key="qr_code", allow_none=True)  # ALIPAY_QR, UPI_QR
    ret_params = JsonObject(data_key="retParams", allow_none=True)  # {alipayUrl} or {unionpayUrl}


class PayForSubmitResponse(Envelope):
    pay_order_id = _answered_id("payOrderId", allow_none=True)
    url = fields.Raw(data_key="url", allow_none=True)
    code_url = fields.Raw(data_key="code_url", allow_none=True)  # only with qrcode_pay=1


class QueryOrderResponse(Envelope):
    pay_order_id = _answered_id("payOrderId")
    mch_id = fields.String(data_key="mchId")
    mch_order_no = fields.String(data_key="mchOrderNo")
    # Money-deciding values: 2856.9 must not quietly become 2856, nor 2.7 a paid status 2; nor an
    # amount IOTPay could never take, a currency it does not have, or a status it never answers.
    amount = WholeNumber(data_key="amount", validate=validate.Range(min=1, max=MAX_AMOUNT))
    currency = fields.String(data_key="currency", validate=validate.OneOf(CURRENCIES))
    status = WholeNumber(data_key="status", validate=validate.OneOf(STATUSES))
    # channelOrderNo (the wallet's own number) is not loaded: nothing reads it, and a null or a number there
    # must not make an answer about the order's state unclear. The signature covers it all the same.
    pay_succ_time = fields.String(data_key="paySuccTime")


class RefundOrderResponse(Envelope):
    refund_order_id = _answered_id("refundOrderId")
    mch_refund_no = fields.String(data_key="mchRefundNo")
    refund_amount = WholeNumber(data_key="refundAmount", validate=validate.Range(min=1, max=MAX_AMOUNT))


class PaymentNotify(LeanSchema):
    """The asynchronous payment notify. Values arrive as text."""

    class Meta:
        unknown = EXCLUDE

    pay_order_id = _answered_id("payOrderId", required=True)
    mch_id = fields.String(data_key="mchId", required=True)
    mch_order_no = fields.String(data_key="mchOrderNo", required=True, validate=validate.Length(min=1, max=30))
    channel_id = fields.String(data_key="channelId")
    currency = fields.String(data_key="currency", required=True)
    # No bound at any order's limit: an amount past it is one that disagrees with the order (a mismatch the
    # core records against it), not a malformed notify. Past what a record can hold (a 64-bit integer) it
    # is no amount at all. ASCII digits only, as IOTPay writes them: not "+1000", "1_000" or fullwidth digits.
    amount = WholeNumber(data_key="amount", required=True, validate=validate.Range(min=0, max=RECORDABLE))
    status = WholeNumber(data_key="status", required=True)
    channel_order_no = fields.String(data_key="channelOrderNo")
    pay_succ_time = fields.String(data_key="paySuccTime")
    back_type = fields.String(data_key="backType", required=True)
    param1 = fields.String(data_key="param1")
    param2 = fields.String(data_key="param2")
    sign = fields.String(data_key="sign", required=True)
