"""Marshmallow schemas for every IOTPay v1 message, in IOTPay's own field names (SPEC.md).

Attribute names are snake_case; `data_key` holds IOTPay's name. `load` takes a wire dict
(IOTPay names) and validates it; `dump` turns our dict into a wire dict. The simulator loads
requests with the same schemas, so a field the client would never send is refused there too.
Requests we send are strict (unknown fields raise); messages IOTPay sends tolerate new fields,
because IOTPay may add some (signatures still cover them: see signing.is_valid).
"""

from __future__ import annotations

import json
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from gateway.fields import StrictInt

APP_CHANNELS = ("WX_APP", "ALIPAY_MOBILE", "UPI_APP")
CURRENCIES = ("CAD", "USD")
MAX_AMOUNT = 2**31 - 1  # IOTPay's `amount` is an int; keep it inside a signed 32-bit range.

# IOTPay order status codes (SPEC.md section 5).
STATUS_CREATED, STATUS_PAYING, STATUS_PAID, STATUS_PAID_NOTIFIED = 0, 1, 2, 3
STATUS_CANCELLED_BY_SYSTEM, STATUS_CANCELLED_BY_USER = 4, 9
PAID_STATUSES = frozenset({STATUS_PAID, STATUS_PAID_NOTIFIED})


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


class _Request(Schema):
    mch_id = _text("mchId", 30, required=True)
    sign = _SIGN


class CreateOrderRequest(_Request):
    mch_order_no = _text("mchOrderNo", 30, required=True)
    channel_id = fields.String(data_key="channelId", required=True, validate=validate.OneOf(APP_CHANNELS))
    currency = fields.String(data_key="currency", required=True, validate=validate.OneOf(CURRENCIES))
    amount = _amount("amount")
    client_ip = _text("clientIp", 32, required=True)
    device = _text("device", 64)
    os_type = fields.String(data_key="osType", validate=validate.OneOf(("IOS", "ANDROID")))
    notify_url = _text("notifyUrl", 200, required=True)
    subject = _text("subject", 64, required=True)
    body = _text("body", 255, required=True)
    param1 = _text("param1", 64)
    param2 = _text("param2", 64)
    extra = _text("extra", 512)
    job_no = _text("jobNo", 50)
    remarks = _text("remarks", 200)

    @validates_schema
    def _check_channel_rules(self, data: dict[str, Any], **_: Any) -> None:
        if "?" in data.get("notify_url", ""):
            raise ValidationError("notifyUrl must not contain '?'", "notifyUrl")
        for name, key in (("subject", "subject"), ("body", "body"), ("client_ip", "clientIp")):
            if name in data and not data[name].strip():
                raise ValidationError("must not be blank", key)
        if data.get("channel_id") == "WX_APP":
            try:
                extra = json.loads(data.get("extra") or "")
            except ValueError:
                raise ValidationError('WX_APP needs extra {"type":"apppay","appId":...}', "extra") from None
            if not isinstance(extra, dict) or extra.get("type") != "apppay" or not extra.get("appId"):
                raise ValidationError('WX_APP needs extra {"type":"apppay","appId":...}', "extra")


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


class _Response(Schema):
    """Envelope every IOTPay answer shares: communication result, then business result."""

    class Meta:
        unknown = EXCLUDE

    ret_code = fields.String(data_key="retCode", required=True, validate=validate.OneOf(("SUCCESS", "FAIL")))
    ret_msg = fields.String(data_key="retMsg", load_default="")
    res_code = fields.String(data_key="resCode")
    err_code = fields.String(data_key="errCode")
    err_code_des = fields.String(data_key="errCodeDes")
    sign = fields.String(data_key="sign")


class CreateOrderResponse(_Response):
    pay_order_id = fields.String(data_key="payOrderId")
    pay_params = fields.Dict(data_key="payParams")


class QueryOrderResponse(_Response):
    pay_order_id = fields.String(data_key="payOrderId")
    mch_id = fields.String(data_key="mchId")
    mch_order_no = fields.String(data_key="mchOrderNo")
    # Money-deciding values: 2856.9 must not quietly become 2856, nor 2.7 a paid status 2.
    amount = WholeNumber(data_key="amount")
    currency = fields.String(data_key="currency")
    status = WholeNumber(data_key="status")
    channel_order_no = fields.String(data_key="channelOrderNo")
    pay_succ_time = fields.String(data_key="paySuccTime")


class RefundOrderResponse(_Response):
    refund_order_id = fields.String(data_key="refundOrderId")
    mch_refund_no = fields.String(data_key="mchRefundNo")
    refund_amount = WholeNumber(data_key="refundAmount")


class PaymentNotify(Schema):
    """The asynchronous payment notify (SPEC.md section 4). Values arrive as text."""

    class Meta:
        unknown = EXCLUDE

    pay_order_id = fields.String(data_key="payOrderId", required=True)
    mch_id = fields.String(data_key="mchId", required=True)
    mch_order_no = fields.String(data_key="mchOrderNo", required=True, validate=validate.Length(min=1, max=30))
    channel_id = fields.String(data_key="channelId")
    currency = fields.String(data_key="currency", required=True)
    amount = fields.Integer(data_key="amount", required=True, validate=validate.Range(min=0, max=MAX_AMOUNT))
    status = fields.Integer(data_key="status", required=True)
    channel_order_no = fields.String(data_key="channelOrderNo")
    pay_succ_time = fields.String(data_key="paySuccTime")
    back_type = fields.String(data_key="backType")
    param1 = fields.String(data_key="param1")
    param2 = fields.String(data_key="param2")
    sign = fields.String(data_key="sign", required=True)
