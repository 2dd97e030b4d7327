"""Public, provider-neutral API schemas (snake_case). They validate requests and document the API."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates

from gateway.plugin.fields import StrictInt, UtcDateTime
from gateway.plugin.lean_schema import LeanSchema
from gateway.plugin.money import MAX_MINOR_UNITS
from gateway.plugin.provider import NextActionType

MAX_METADATA_BYTES = 4096


def _not_blank(value: str) -> None:
    """Text the payer or the provider will read: spaces alone say nothing, so they are refused here, for
    every provider, rather than by whichever provider happens to check."""
    if not value.strip():
        raise ValidationError("must not be blank")


class OrderCreateSchema(LeanSchema):
    """Unknown fields are refused (marshmallow's default), so a typo never goes unnoticed."""

    provider = fields.String(
        validate=validate.Length(min=1, max=40), metadata={"description": "default: GATEWAY_DEFAULT_PROVIDER"}
    )
    account = fields.String(
        validate=validate.Length(min=1, max=80),
        metadata={
            "description": "one of your provider accounts, by id or name; default: your only account at the "
            "provider (with several, name one)"
        },
    )
    channel = fields.String(required=True, validate=validate.Length(min=1, max=40))
    amount = StrictInt(
        required=True,
        validate=validate.Range(min=1, max=MAX_MINOR_UNITS),
        error_messages={"invalid": "must be an integer number of minor units (2856 for 28.56)"},
        metadata={"description": "integer minor units (cents): 2856 is 28.56", "example": 2856},
    )
    currency = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO-4217 code such as CAD"),
        metadata={"example": "CAD"},
    )
    subject = fields.String(
        required=True, validate=[validate.Length(min=1, max=255), _not_blank], metadata={"example": "Coffee beans"}
    )
    body = fields.String(
        required=True, validate=[validate.Length(min=1), _not_blank], metadata={"example": "1kg medium roast"}
    )
    client_ip = fields.String(
        validate=[validate.Length(min=1, max=64), _not_blank],
        metadata={"description": "payer's IP; default: the caller's address"},
    )
    merchant_reference = fields.String(validate=validate.Length(min=1, max=128))
    metadata = fields.Dict(
        keys=fields.String(), load_default=dict, metadata={"description": "your own key/values, returned as given"}
    )
    return_url = fields.String(
        validate=validate.Length(min=1),
        metadata={
            "description": "redirect checkouts: https address the payer's browser comes back to. Coming back is no "
            "proof of payment: the order is paid once `status` says so (after the provider's notification)",
            "example": "https://shop.example.com/orders/42/return",
        },
    )
    provider_options = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "validated by the provider: see its options schema"},
    )

    @validates("metadata")
    def _metadata_is_small_standard_json(self, value: dict[str, Any], **_: Any) -> None:
        try:
            text = json.dumps(value, allow_nan=False)  # NaN/Infinity parse, but are not JSON anyone can read back
        except ValueError:
            raise ValidationError("must be standard JSON (no NaN or Infinity)") from None
        if len(text) > MAX_METADATA_BYTES:
            raise ValidationError(f"must be at most {MAX_METADATA_BYTES} bytes of JSON")


class NextActionSchema(LeanSchema):
    """What the payer's client does next. `type` says which one field is set."""

    type = fields.String(
        metadata={
            "enum": [str(kind) for kind in NextActionType],
            "description": "sdk_params: hand `params` to the mobile SDK (the same object as the order's "
            "pay_params). display_qr_code: show `data` as a QR code for the payer's wallet to scan "
            "(GET /v1/orders/{order_id}/qr_code renders it as SVG or PNG). redirect_to_url: send the "
            "payer's browser to `url`; it comes back to the order's return_url. mini_program: call "
            "wx.requestPayment with `params` inside a WeChat mini program.",
        }
    )
    data = fields.String(metadata={"description": "display_qr_code: the QR code's text, e.g. weixin://wxpay/..."})
    url = fields.String(metadata={"description": "redirect_to_url: the http(s) address to send the browser to"})
    params = fields.Dict(
        metadata={"description": "sdk_params, mini_program: the parameters, as the provider gave them"}
    )


class QrCodeQuerySchema(Schema):
    format = fields.String(load_default="svg", validate=validate.OneOf(("svg", "png")), metadata={"example": "svg"})
    scale = fields.Integer(
        load_default=5,
        validate=validate.Range(min=1, max=20),
        metadata={"description": "pixels per module", "example": 5},
    )


class OrderQuerySchema(Schema):
    refresh = fields.Boolean(load_default=False, metadata={"description": "ask the provider first", "example": False})


class AttemptSchema(LeanSchema):
    account = fields.String(metadata={"description": "the provider account tried"})
    provider = fields.String()
    merchant_order_no = fields.String(metadata={"description": "this attempt's own order number at the provider"})
    outcome = fields.String(
        metadata={
            "enum": ["created", "not_created", "unknown"],
            "description": "not_created: nothing can exist at the provider, so the next account was tried; "
            "unknown: a time-out or unclear answer, after which the order never moves on",
        }
    )
    code = fields.String(allow_none=True, metadata={"description": "the provider's code, when it failed"})
    message = fields.String(allow_none=True)
    duration_ms = fields.Integer()
    started_at = UtcDateTime()
    surplus_amount = fields.Integer(
        allow_none=True,
        metadata={"description": "paid on this attempt after the order had moved on: to refund (order.overpaid)"},
    )
    surplus_paid_at = UtcDateTime(allow_none=True)


class RoutingDecisionSchema(Schema):
    rule = fields.String(
        allow_none=True, metadata={"description": "the routing rule that matched (`default`; null: no rule decided)"}
    )
    version = fields.Integer(allow_none=True, metadata={"description": "the version of the merchant's rules"})
    accounts = fields.List(fields.String(), metadata={"description": "account ids, in the order they would be tried"})
    skipped = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "account id -> why it would not be tried"},
    )


class OrderSchema(LeanSchema):
    id = fields.String()
    merchant = fields.String(attribute="merchant_id", metadata={"description": "the merchant the order belongs to"})
    account = fields.String(attribute="account_id", metadata={"description": "the id of the provider account used"})
    provider = fields.String()
    channel = fields.String()
    amount = fields.Integer()
    currency = fields.String()
    status = fields.String(
        metadata={"enum": ["pending", "paid", "partially_refunded", "refunded", "failed", "expired"]}
    )
    merchant_order_no = fields.String(metadata={"description": "our reference for the order at the provider"})
    provider_order_id = fields.String(allow_none=True)
    pay_params = fields.Dict(
        allow_none=True, metadata={"description": "sdk_params orders: hand this to the mobile payment SDK"}
    )
    next_action = fields.Nested(
        NextActionSchema,
        attribute="payer_next_action",
        allow_none=True,
        metadata={"description": "what the payer's client does next; null until the provider has answered"},
    )
    return_url = fields.String(allow_none=True)
    merchant_reference = fields.String(allow_none=True)
    metadata = fields.Dict(attribute="order_metadata")
    refunded_amount = fields.Integer()
    paid_after_expiry = fields.Boolean(metadata={"description": "paid after the gateway had expired it"})
    sandbox = fields.Boolean(
        metadata={"description": "created in sandbox mode (GATEWAY_SANDBOX=1): a simulator, never real money"}
    )
    created_at = UtcDateTime()
    expires_at = UtcDateTime(allow_none=True)
    paid_at = UtcDateTime(allow_none=True)
    routing_rule = fields.String(allow_none=True, metadata={"description": "the routing rule that chose the account"})
    routing_version = fields.Integer(allow_none=True, metadata={"description": "the version of the rules that did"})
    attempts = fields.List(
        fields.Nested(AttemptSchema),
        attribute="attempt_list",
        metadata={"description": "each try at an account, first first (stored merchants' orders)"},
    )


class RefundCreateSchema(Schema):
    amount = StrictInt(
        required=True,
        validate=validate.Range(min=1, max=MAX_MINOR_UNITS),
        error_messages={"invalid": "must be an integer number of minor units (2856 for 28.56)"},
    )
    reason = fields.String(validate=validate.Length(min=1, max=255))
    reference = fields.String(
        validate=validate.Regexp(
            r"^[!-~]([ -~]{0,253}[!-~])?$", error="must be 1 to 255 printable ASCII characters, no space at the ends"
        ),
        metadata={
            "description": (
                "your own name for this refund, unique per order: the same reference again answers the same "
                "refund instead of making another (an alternative to the Idempotency-Key header)"
            ),
            "example": "rma-2041",
        },
    )


class RefundDiscrepancySchema(Schema):
    recorded = fields.String(metadata={"description": "what the gateway had recorded: succeeded or failed"})
    reported = fields.String(metadata={"description": "what the provider then reported; `status` now says this"})
    detected_at = fields.String(metadata={"description": "when (ISO 8601, UTC)"})
    recorded_provider_error = fields.Dict(
        allow_none=True, metadata={"description": "{code, message} of the record that was overturned (MANUAL: by hand)"}
    )


class RefundSchema(Schema):
    id = fields.String()
    order_id = fields.String()
    amount = fields.Integer()
    currency = fields.String()
    status = fields.String(
        metadata={
            "enum": ["pending", "unknown", "succeeded", "failed"],
            "description": (
                "pending: accepted by the provider and not settled yet (provider_refund_id set), or not "
                "answered yet; unknown: the provider's answer did not say; reconciliation settles both, "
                "never by guess"
            ),
        }
    )
    reason = fields.String(allow_none=True)
    reference = fields.String(allow_none=True, metadata={"description": "the client's reference, if it sent one"})
    provider_refund_id = fields.String(allow_none=True)
    provider_error = fields.Method("_provider_error", allow_none=True)
    discrepancy = fields.Nested(
        RefundDiscrepancySchema,
        allow_none=True,
        metadata={"description": "set when the provider contradicted the settled refund; the provider's answer won"},
    )
    created_at = UtcDateTime()
    settled_at = UtcDateTime(allow_none=True)

    def _provider_error(self, refund: Any) -> dict[str, str] | None:
        if not refund.failure_code:
            return None
        return {"code": refund.failure_code, "message": refund.failure_message or ""}


class NotifyPolicySchema(Schema):
    signature = fields.String()
    acknowledgement = fields.String()
    retries = fields.String()


class ProviderSchema(Schema):
    """An enabled provider (a `gateway.plugin.provider.Provider`), as `/v1/providers` shows it."""

    name = fields.String(attribute="info.name")
    display_name = fields.String(attribute="info.display_name")
    channels = fields.List(fields.String(), attribute="info.channels")
    channel_details = fields.Method(
        "_channel_details",
        metadata={
            "description": "[{name, next_actions, currencies, required_fields}] per channel: the next-action "
            "types its orders get (the first by default), its currencies, the fields an order must carry"
        },
    )
    currencies = fields.Method("_currencies", metadata={"description": "[{code, exponent}]: minor units per unit"})
    operations = fields.Method("_operations", metadata={"description": "query, refund, query_refund, ..."})
    notifications = fields.Nested(NotifyPolicySchema, allow_none=True, attribute="info.notifications")
    sandbox = fields.Boolean(attribute="info.sandbox")

    def _currencies(self, provider: Any) -> list[dict[str, Any]]:
        return [{"code": code, "exponent": exponent} for code, exponent in provider.info.currencies.items()]

    def _channel_details(self, provider: Any) -> list[dict[str, Any]]:
        details = []
        for name in provider.info.channels:
            channel = provider.info.channel(name)
            details.append(
                {
                    "name": name,
                    "next_actions": [str(kind) for kind in channel.next_actions],
                    "currencies": list(channel.currencies),
                    "required_fields": list(channel.required_fields),
                }
            )
        return details

    def _operations(self, provider: Any) -> list[str]:
        return sorted(str(operation) for operation in provider.operations)


class AccountProviderSchema(ProviderSchema):
    """One of a stored merchant's provider accounts, as `/v1/providers` shows it to that merchant's keys:
    the provider's fields as for the environment's merchant, and which account this is. No setting."""

    account = fields.String(metadata={"description": "the account's id: what orders' `account` shows"})
    account_name = fields.String(metadata={"description": "the account's name; POST /v1/orders takes either"})
    enabled = fields.Boolean(metadata={"description": "false once disabled: new orders cannot use it"})


class PayQuerySchema(Schema):
    """The reference endpoint for apps: GET /pay?channelid=<channel>&amount=28.56."""

    channelid = fields.String(required=True, validate=validate.Length(min=1, max=40))
    amount = fields.String(required=True, metadata={"description": "dollars as plain decimal text, e.g. 28.56"})
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO-4217 code such as CAD"))


class ApiErrorSchema(Schema):
    """The one error shape of every endpoint. Some errors add the fields below it."""

    class Meta:
        unknown = INCLUDE  # documents additionalProperties: true

    error = fields.String(metadata={"description": "stable machine-readable code"})
    message = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    provider_error = fields.Dict(metadata={"description": "502: {code, message} exactly as the provider sent them"})
    order_id = fields.String(metadata={"description": "502/504 on order creation: the order that was stored"})
    refund_id = fields.String(metadata={"description": "502/504 on a refund: the refund that was stored"})
