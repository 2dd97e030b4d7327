"""Marshmallow schemas for the Stripe API messages the plugin sends and receives.

Stripe's names are snake_case already, so attribute and wire names are the same (except
`object`, a Python builtin). Requests we send are strict and are loaded both by the provider
before sending and by the simulator on arrival (form values arrive as text, hence non-strict
integers there); objects Stripe sends tolerate new fields, as Stripe adds them over time.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from gateway.plugin import StrictInt

CHANNELS = ("card", "alipay", "wechat_pay")  # PaymentIntent payment_method_types
MAX_AMOUNT = 99_999_999  # "The amount value supports up to eight digits" (PaymentIntent create)
RECORDABLE = 2**63 - 1  # the largest amount a record (a BIGINT) holds
LAST_TIMESTAMP = 253_402_300_799  # 9999-12-31 23:59:59 UTC: the last second a datetime holds
METADATA_KEYS, METADATA_KEY_LENGTH, METADATA_VALUE_LENGTH = 50, 40, 500  # Stripe's metadata limits

# PaymentIntent statuses and event types the plugin acts on.
SUCCEEDED, CANCELED, REQUIRES_ACTION = "succeeded", "canceled", "requires_action"
PAYMENT_INTENT_STATUSES = (
    "requires_payment_method", "requires_confirmation", REQUIRES_ACTION, "processing", "requires_capture",
    CANCELED, SUCCEEDED,
)  # fmt: skip
# The payment methods confirmed at creation, and the next_action type Stripe answers for each.
CONFIRMED_AT_CREATION = {"wechat_pay": "wechat_pay_display_qr_code", "alipay": "alipay_handle_redirect"}
EVENT_SUCCEEDED = "payment_intent.succeeded"
EVENT_FAILED = "payment_intent.payment_failed"
EVENT_CANCELED = "payment_intent.canceled"
# Refund statuses: `pending` and `requires_action` may still succeed or fail later.
REFUND_SUCCEEDED = "succeeded"
EVENT_CHARGE_REFUNDED = "charge.refunded"  # the charge, its refunds listed newest first
REFUND_UNSETTLED = frozenset({"pending", "requires_action"})
REFUND_FAILED = frozenset({"failed", "canceled"})
REFUND_STATUSES = frozenset({REFUND_SUCCEEDED, *REFUND_UNSETTLED, *REFUND_FAILED})


def _metadata() -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=METADATA_KEY_LENGTH)),
        values=fields.String(validate=validate.Length(max=METADATA_VALUE_LENGTH)),
        validate=validate.Length(max=METADATA_KEYS),
    )


def _amount() -> fields.Integer:
    # Not strict: a form carries "500"; marshmallow still refuses "5.5" and "abc".
    return fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_AMOUNT))


# -- requests (what we POST) -------------------------------------------------------------------


class _WechatPayOptions(Schema):
    client = fields.String(required=True, validate=validate.OneOf(("web", "ios", "android")))


class _PaymentMethodOptions(Schema):
    wechat_pay = fields.Nested(_WechatPayOptions)


class _PaymentMethodData(Schema):
    type = fields.String(required=True, validate=validate.OneOf(CHANNELS))


class PaymentIntentCreate(Schema):
    amount = _amount()
    currency = fields.String(required=True, validate=validate.Regexp(r"^[a-z]{3}$"))
    payment_method_types = fields.List(
        fields.String(validate=validate.OneOf(CHANNELS)), required=True, validate=validate.Length(min=1)
    )
    description = fields.String(validate=validate.Length(min=1))
    metadata = _metadata()
    # Confirming at creation (wechat_pay, alipay) makes Stripe answer the payer's next action at once.
    confirm = fields.Boolean()
    payment_method_data = fields.Nested(_PaymentMethodData)
    payment_method_options = fields.Nested(_PaymentMethodOptions)
    return_url = fields.String(validate=validate.Length(min=1, max=2048))


class RefundCreate(Schema):
    payment_intent = fields.String(required=True, validate=validate.Regexp(r"^pi_\w+$"))
    amount = _amount()
    reason = fields.String(validate=validate.OneOf(("duplicate", "fraudulent", "requested_by_customer")))
    metadata = _metadata()


# -- objects Stripe answers --------------------------------------------------------------------


class _Tolerant(Schema):
    class Meta:
        unknown = EXCLUDE


class PaymentIntent(_Tolerant):
    id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    object_ = fields.String(data_key="object", required=True, validate=validate.Equal("payment_intent"))
    # An amount Stripe could not have taken, or a status it does not have, is not Stripe's answer.
    amount = StrictInt(required=True, validate=validate.Range(min=1, max=MAX_AMOUNT))
    amount_received = StrictInt(required=True, validate=validate.Range(min=0, max=MAX_AMOUNT))  # always sent
    currency = fields.String(required=True, validate=validate.Regexp(r"^[a-z]{3}$"))
    status = fields.String(required=True, validate=validate.OneOf(PAYMENT_INTENT_STATUSES))
    client_secret = fields.String(allow_none=True, load_default=None)
    # `created` is not loaded: nothing reads it (a paid event's own `created` is the paid time), and an odd one
    # must not make an answer about the PaymentIntent's state unclear.
    livemode = fields.Boolean(load_default=False)
    metadata = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    next_action = fields.Dict(allow_none=True, load_default=None)

    @validates_schema
    def _received_when_succeeded(self, data: dict[str, Any], **_: Any) -> None:
        # A succeeded PaymentIntent has received money: nothing received contradicts its status.
        if data.get("status") == SUCCEEDED and data.get("amount_received") == 0:
            raise ValidationError("a succeeded PaymentIntent received nothing", "amount_received")


class PaymentIntentEvent(PaymentIntent):
    """A PaymentIntent in a signed event. No bound at any order's limit: a paid event for more than any
    order could be disagrees with the order (a mismatch the core records against it, for an operator to
    see), not a malformed event; past what a record holds it is no amount. The answers the gateway asked
    for stay bounded at the limit (unclear past it)."""

    amount = StrictInt(required=True, validate=validate.Range(min=1, max=RECORDABLE))
    amount_received = StrictInt(required=True, validate=validate.Range(min=0, max=RECORDABLE))


class Refund(_Tolerant):
    id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    object_ = fields.String(data_key="object", required=True, validate=validate.Equal("refund"))
    amount = StrictInt(required=True, validate=validate.Range(min=1, max=MAX_AMOUNT))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[a-z]{3}$"))
    status = fields.String(required=True, validate=validate.OneOf(REFUND_STATUSES))
    payment_intent = fields.String(allow_none=True, load_default=None)
    failure_reason = fields.String(allow_none=True, load_default=None)
    metadata = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


class RefundList(_Tolerant):
    object_ = fields.String(data_key="object", required=True, validate=validate.Equal("list"))
    data = fields.List(fields.Dict(), required=True)
    has_more = fields.Boolean(required=True)  # every list of Stripe's says whether more follow


class _EventData(_Tolerant):
    object_ = fields.Dict(data_key="object", required=True)


class Event(_Tolerant):
    """A webhook event. `data.object` is loaded separately, by what its own `object` field names."""

    id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    object_ = fields.String(data_key="object", required=True, validate=validate.Equal("event"))
    type = fields.String(required=True, validate=validate.Length(min=1))
    # When the event happened, the paid time it gives: 1970 or year 10,000 is no time Stripe sends.
    created = StrictInt(required=True, validate=validate.Range(min=1, max=LAST_TIMESTAMP))
    livemode = fields.Boolean(required=True)  # Stripe states every event's mode: one that does not is not judged
    data = fields.Nested(_EventData, required=True)


class _ErrorBody(_Tolerant):
    type = fields.String(load_default="api_error")
    code = fields.String(allow_none=True, load_default=None)
    message = fields.String(allow_none=True, load_default=None)
    param = fields.String(allow_none=True, load_default=None)


class Error(_Tolerant):
    """Every Stripe error answer: {"error": {"type", "code", "message", "param", ...}}."""

    error = fields.Nested(_ErrorBody, required=True)


def loaded(schema: Schema, data: Any) -> dict[str, Any]:
    """`schema.load(data)` typed as the dict it is (marshmallow's stubs say Any)."""
    result: dict[str, Any] = schema.load(data)
    return result
