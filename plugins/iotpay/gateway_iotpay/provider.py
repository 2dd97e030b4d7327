"""IOTPay as a gateway `Provider`: signed create_order, verified notifies (docs/providers/iotpay.md)."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from marshmallow import Schema, ValidationError, fields, validate

from gateway.plugin import (
    MULTIPLE_REFUNDS,
    PARTIAL_REFUND,
    Acknowledgement,
    ChannelInfo,
    CreatedOrder,
    InboundRequest,
    InvalidOrder,
    LeanSchema,
    NotFound,
    Notification,
    NotificationRejected,
    NotifyPolicy,
    OrderDraft,
    OrderRef,
    OrderRequest,
    OutcomeUnknown,
    Provider,
    ProviderInfo,
    ProviderMisconfigured,
    RefundRequest,
    RefundResult,
    Refused,
    Verdict,
    iso_currencies,
)
from gateway_iotpay import channels, checkout, schemas, signing, splitting
from gateway_iotpay.checkout import wire_client_ip
from gateway_iotpay.client import IotPayClient
from gateway_iotpay.config import NAME, IotPayConfig

log = logging.getLogger(__name__)
# Built once: a schema's fields are set up in its constructor, which costs more than a load.
_PAYMENT_NOTIFY = schemas.PaymentNotify()
_QUERY_ORDER_RESPONSE = schemas.QueryOrderResponse()  # every confirmed notify loads one

# errCodes that say IOTPay refused the request before acting on it (its error-code table): POST
# required, empty post data, signature error, parameter error, merchant does not exist. For a query
# they say nothing about the order, so they never let reconciliation expire one. Every other code,
# documented or not (0010 system error, 0110 third-party time-out, 0111 third-party exception,
# 0118 DB error, anything new), may have left the request half done: never a definite refusal,
# because treating a refund that went through as failed would let it be refunded again.
REFUSAL_CODES = frozenset({"0011", "0012", "0013", "0014", "0015"})
# Refusals of the gateway itself (signature error, merchant does not exist): every call fails alike.
CONFIGURATION_CODES = frozenset({"0013", "0015"})
# "merchant order id does not exist": the one answer that says IOTPay has no such order.
NO_SUCH_ORDER = "0112"

# Where a wire field's problem shows up in the public API (`extra` depends on the channel).
_PUBLIC_FIELD = {
    "subject": "subject",
    "body": "body",
    "currency": "currency",
    "clientIp": "client_ip",
    "returnUrl": channels.RETURN_URL,
    "osType": channels.OS_TYPE,
    "device": "provider_options.device",
    "param1": "provider_options.param1",
    "param2": "provider_options.param2",
    "remarks": "provider_options.remarks",
    "qrcode_pay": "provider_options.qrcode_pay",
}
_EXTRA_FIELD = {"WX_APP": channels.APP_ID, "WX_NATIVE": "provider_options.product_id", "WX_JSAPI": channels.OPEN_ID}
# provider_options that only some channels take; given to another one, they are refused, not ignored.
_OPTION_CHANNELS = {
    "os_type": ("ALIPAY_MOBILE", "ALIPAY_WAP"),
    "app_id": ("WX_APP", "WX_JSAPI"),
    "open_id": ("WX_JSAPI",),
    "product_id": ("WX_NATIVE",),
    "qrcode_pay": ("WX_JSAPI_BROWSER",),
}
# Schemas are built once (building one costs more than a load) and hold no state between loads.
_REQUEST_SCHEMAS: dict[str, Schema] = {
    "create_order": schemas.CreateOrderRequest(),
    "payForSubmit": schemas.PayForSubmitRequest(),
}
_RESPONSE_SCHEMAS: dict[str, Schema] = {
    "create_order": schemas.CreateOrderResponse(),
    "payForSubmit": schemas.PayForSubmitResponse(),
}


# The fields of an order's request that check_order fills with stand-ins, and start_checkout with its own.
_PER_ORDER = ("mchOrderNo", "notifyUrl", "sign")


class _Checked(threading.local):
    """Per thread: the last order request check_order found valid, but for its _PER_ORDER fields."""

    last: tuple[str, tuple[tuple[str, Any], ...]] | None = None


def _but_per_order(params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((name, value) for name, value in params.items() if name not in _PER_ORDER))


def _check_request(operation: str, params: Mapping[str, Any], checked: _Checked) -> None:
    """Load `params` with the request's schema (ValidationError if IOTPay would refuse them).

    When check_order has just found the very same fields valid (the core validates every order before
    creating it), only the per-order ones are new: loading those alone costs a third of the whole load.
    The schema's verdict on the same fields is the same, so nothing goes unchecked."""
    schema = _REQUEST_SCHEMAS[operation]
    if checked.last == (operation, _but_per_order(params)):
        schema.load({name: params[name] for name in _PER_ORDER if name in params}, partial=True)
    else:
        schema.load(params)


class IotPayOptions(LeanSchema):
    """`provider_options` accepted by IOTPay orders."""

    os_type = fields.String(
        validate=validate.OneOf(("IOS", "ANDROID")),
        metadata={"description": "the payer's phone: required by ALIPAY_WAP, taken by ALIPAY_MOBILE"},
    )
    app_id = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "WX_APP: WeChat open-platform app id (default IOTPAY_WX_APP_ID); WX_JSAPI: mini program"
        },
    )
    open_id = fields.String(
        validate=validate.Length(min=1, max=128), metadata={"description": "WX_JSAPI: the payer's openid"}
    )
    product_id = fields.String(
        validate=validate.Length(min=1, max=32),
        metadata={"description": "WX_NATIVE: WeChat product id (default: the order's merchant_order_no)"},
    )
    qrcode_pay = fields.Boolean(
        metadata={"description": "WX_JSAPI_BROWSER: a QR code to open in WeChat instead of a redirect"}
    )
    device = fields.String(validate=validate.Length(max=64))
    param1 = fields.String(validate=validate.Length(max=64))
    param2 = fields.String(validate=validate.Length(max=64))
    remarks = fields.String(validate=validate.Length(max=200))


_OPTIONS = IotPayOptions()


_ENVELOPE = schemas.Envelope()


def _refusal_envelope(raw: Any, *, result_required: bool) -> dict[str, Any] | None:
    """The envelope of an answer that reports a failure, or None (malformed, or it claims success)."""
    try:
        envelope: dict[str, Any] = _ENVELOPE.load(raw)
    except ValidationError:
        return None
    if envelope["ret_code"] != "SUCCESS":
        return envelope
    if envelope.get("res_code") is None:
        return None if not result_required else envelope
    return None if envelope["res_code"] == "SUCCESS" else envelope


class IotPayProvider(Provider):
    def __init__(self, config: IotPayConfig, client: IotPayClient) -> None:
        self.config = config
        self.client = client
        self._checked = _Checked()
        offered = list(channels.CHANNELS.values())
        self.info = ProviderInfo(
            name=NAME,
            display_name="IOTPay",
            channels=tuple(channel.name for channel in offered),
            # Every currency some channel takes; each channel's own list is checked per order.
            currencies=iso_currencies(*dict.fromkeys(code for channel in offered for code in channel.currencies)),
            channel_info=tuple(
                ChannelInfo(
                    channel.name,
                    next_actions=(channel.action, *channels.ALSO.get(channel.name, ())),
                    currencies=channel.currencies,
                    required_fields=self.required_fields(channel),
                )
                for channel in offered
            ),
            sandbox=config.sandbox,
            # IOTPay v1 has no order-cancel API; refunds take any amount up to what is left.
            capabilities=frozenset({PARTIAL_REFUND, MULTIPLE_REFUNDS}),
            confirm_notifications=config.confirm_notify_by_query,
            notifications=NotifyPolicy(
                signature="MD5 over every received field but sign, with the merchant key (upper-case hex)",
                acknowledgement="HTTP body exactly 'success'",
                retries="re-sent periodically, several times (about 6 over 15 minutes) until acknowledged",
            ),
        )

    @property
    def account_id(self) -> str:
        return self.config.mch_id

    # -- orders --

    def options_schema(self) -> Schema:
        return _OPTIONS

    def required_fields(self, channel: channels.Channel) -> tuple[str, ...]:
        """Public fields an order on `channel` must carry, given this configuration."""
        if channel.name == "WX_APP" and not self.config.wx_app_id:
            return (*channel.required, channels.APP_ID)
        return channel.required

    def validate_order(self, draft: OrderDraft) -> None:
        self.check_order(draft)

    def check_order(self, draft: OrderDraft) -> None:
        """Raise InvalidOrder for anything IOTPay would refuse that `info` does not already declare
        (the core refuses a channel's currency from `info.channel_info`), naming the public field at fault."""
        channel = channels.CHANNELS.get(draft.channel)
        if channel is None:
            raise InvalidOrder({"channel": [f"IOTPay takes one of: {', '.join(channels.CHANNELS)}"]})
        # A channel's currencies are IOTPay's rule, stated once: in `info.channel_info`, checked by the core.
        errors: dict[str, list[str]] = {}
        return_url = draft.return_url
        given = {name for name, value in draft.options.items() if value not in (None, "", False)}
        if return_url:
            given.add(channels.RETURN_URL)
        for field in self.required_fields(channel):
            if field.removeprefix("provider_options.") not in given and field not in given:
                errors[field] = [f"{channel.name} needs it"]
        for option, takers in _OPTION_CHANNELS.items():
            if option in given and channel.name not in takers:
                errors[f"provider_options.{option}"] = [f"{channel.name} does not take it"]
        if return_url and not channel.takes_return_url:
            errors[channels.RETURN_URL] = [f"{channel.name} does not send the payer's browser anywhere"]
        if channel.operation == "payForSubmit" and "param1" in given:
            errors["provider_options.param1"] = [f"{channel.name}: IOTPay uses param1 itself"]
        if errors:
            raise InvalidOrder(errors)
        wire = checkout.order_params(
            channel,
            draft,
            self.config,
            merchant_order_no="0",
            notify_url="https://validation.invalid/n",
        )
        problems = _REQUEST_SCHEMAS[channel.operation].validate({**wire, "sign": "0" * 32})
        for name in splitting.echo_problems(wire):
            problems.setdefault(name, []).append(splitting.ECHO_MESSAGE)
        if problems:
            public = {**_PUBLIC_FIELD, "extra": _EXTRA_FIELD.get(channel.channel_id, "provider_options")}
            raise InvalidOrder({public.get(name, name): list(msgs) for name, msgs in problems.items()})
        self._checked.last = (channel.operation, _but_per_order(wire))

    def create_order(self, request: OrderRequest) -> CreatedOrder:
        started = self.start_checkout(request)
        return CreatedOrder(provider_order_id=started.provider_order_id, next_action=started.payer)

    def start_checkout(self, request: OrderRequest) -> checkout.Checkout:
        """Create the order at IOTPay through the call its channel uses, and read the payer's next step."""
        channel = channels.CHANNELS[request.draft.channel]
        if channel.deprecated:
            log.warning("%s (order %s)", channel.deprecated, request.order_id)
        params = checkout.order_params(
            channel,
            request.draft,
            self.config,
            merchant_order_no=request.merchant_order_no,
            notify_url=request.notify_url,
        )
        if splitting.echo_problems(params):  # validate_order refuses it; never send it, whoever calls
            raise Refused("ECHOED_PAIR", f"{', '.join(splitting.echo_problems(params))} {splitting.ECHO_MESSAGE}")
        params["sign"] = signing.sign(params, self.config.secret_key)
        _check_request(channel.operation, params, self._checked)  # never send what IOTPay would refuse
        try:
            answer = self._business_call(channel.operation, params, _RESPONSE_SCHEMAS[channel.operation])
        except Refused as exc:
            if _order_number_taken(exc):
                # A refusal that can follow acceptance: an order under this number exists, perhaps this
                # very one. Never "nothing happened", which would let routing create it elsewhere too.
                raise OutcomeUnknown(exc.code, f"{exc.message} (an order with this number exists)") from None
            raise
        pay_order_id = answer.get("pay_order_id") or None
        if pay_order_id is None and channel.operation == "create_order":
            raise OutcomeUnknown("INVALID_RESPONSE", "IOTPay's answer has no payOrderId")
        payer = checkout.payer_action(
            channel,
            answer,
            qrcode_pay=bool(request.draft.options.get("qrcode_pay")),
            secure=self.config.api_url.startswith("https://"),
        )
        return checkout.Checkout(provider_order_id=pay_order_id, payer=payer)

    def _business_call(
        self, operation: str, params: Mapping[str, Any], schema: Schema, *, result_required: bool = True
    ) -> dict[str, Any]:
        """The answer of a SUCCESS/SUCCESS call; ProviderError otherwise.

        retCode is the communication result and resCode the business result: success needs both.

        `result_required=False` lets an answer without `resCode` through (refund answers document
        only retCode/retMsg), for the caller to judge from what it echoes.
        """
        raw = self.client.call(operation, params)
        self._check_response_sign(operation, raw)  # before anything in the answer is believed, a refusal too
        try:
            answer: dict[str, Any] = schema.load(raw)
        except ValidationError as exc:
            # A refusal is judged by its envelope alone: what else it carries (an empty payOrderId, a 0
            # amount) is no answer to believe, and must not turn "refused" or "no such order" into unclear.
            envelope = _refusal_envelope(raw, result_required=result_required)
            if envelope is None:
                malformed = f"IOTPay's answer is malformed: {sorted(exc.messages)}"
                raise OutcomeUnknown("INVALID_RESPONSE", malformed) from None
            answer = envelope
        if answer["ret_code"] != "SUCCESS":
            # Communication-level failure: the request was refused before any business processing.
            raise Refused(answer["ret_code"], answer.get("ret_msg") or "communication failed")
        if answer.get("res_code") is None:
            if result_required:  # no business result: an answer the plugin cannot use
                raise OutcomeUnknown("INVALID_RESPONSE", "IOTPay's answer has no resCode")
            self._require_response_sign(operation, raw)
            return answer
        if answer["res_code"] != "SUCCESS":
            code = answer.get("err_code") or answer["res_code"]
            text = answer.get("err_code_des") or answer.get("ret_msg") or "IOTPay gave no business result"
            if code in CONFIGURATION_CODES:
                raise ProviderMisconfigured(code, text)
            kind = NotFound if code == NO_SUCH_ORDER else Refused if code in REFUSAL_CODES else OutcomeUnknown
            raise kind(code, text)
        self._require_response_sign(operation, raw)
        return answer

    # What IOTPay is known to sign: every notify (documented), over every field received but `sign`.
    # Whether its API answers carry a `sign` is not documented; the open-source gateway IOTPay v1 derives
    # from signs successful answers over their top-level scalars (payParams, an object, is left out)
    # and not refusals. So a `sign`, wherever present, must verify; its absence is tolerated unless
    # IOTPAY_REQUIRE_RESPONSE_SIGN=1, and then only on successful answers.

    def _check_response_sign(self, operation: str, raw: Mapping[str, Any]) -> None:
        """A `sign` that does not verify makes the whole answer unknown: the provider may have acted."""
        if "sign" not in raw:
            return
        scalars = {
            name: value for name, value in raw.items() if isinstance(value, (str, int)) and not isinstance(value, bool)
        }
        if "sign" in scalars and signing.is_valid(scalars, self.config.secret_key):
            return
        log.error("IOTPay %s answer has a signature that does not verify: outcome unknown", operation)
        raise OutcomeUnknown("INVALID_SIGN", f"IOTPay's {operation} answer has a wrong signature")

    def _require_response_sign(self, operation: str, raw: Mapping[str, Any]) -> None:
        if "sign" not in raw and self.config.require_response_sign:
            raise OutcomeUnknown(
                "UNSIGNED_RESPONSE", f"IOTPay's {operation} answer has no signature (IOTPAY_REQUIRE_RESPONSE_SIGN=1)"
            )

    # -- query and refund --

    def query_order(self, order: OrderRef) -> Notification:
        params: dict[str, Any] = {"mchId": self.config.mch_id}
        if order.provider_order_id:
            params["payOrderId"] = order.provider_order_id
        else:
            params["mchOrderNo"] = order.merchant_order_no
        params["sign"] = signing.sign(params, self.config.secret_key)
        answer = self._business_call("query_order", params, _QUERY_ORDER_RESPONSE)
        if answer.get("mch_order_no") != order.merchant_order_no or answer.get("mch_id") != self.config.mch_id:
            raise OutcomeUnknown("INVALID_RESPONSE", "IOTPay answered about another order")
        if answer.get("amount") is None or not answer.get("currency") or answer.get("status") is None:
            raise OutcomeUnknown("INVALID_RESPONSE", "IOTPay's answer lacks amount, currency or status")
        status = answer["status"]
        # amount and currency are checked against the stored order by the core before anything moves.
        return Notification(
            merchant_order_no=order.merchant_order_no,
            amount=answer["amount"],
            currency=answer["currency"],
            paid=status in schemas.PAID_STATUSES,
            cancelled=status in (schemas.STATUS_CANCELLED_BY_SYSTEM, schemas.STATUS_CANCELLED_BY_USER),
            account_id=answer.get("mch_id"),
            provider_order_id=answer.get("pay_order_id"),
            paid_at=_epoch_ms(answer.get("pay_succ_time")),
        )

    def check(self) -> str:
        """Query an order that cannot exist: "no such order" (0112) is only said to a signed request
        from a known merchant, whereas a wrong key or mchId gets 0013/0014/0015."""
        params: dict[str, Any] = {"mchId": self.config.mch_id, "mchOrderNo": "gatewaycheck" + secrets.token_hex(6)}
        params["sign"] = signing.sign(params, self.config.secret_key)
        try:
            self._business_call("query_order", params, _QUERY_ORDER_RESPONSE)
        except NotFound:  # 0112, which IOTPay only answers once the signature and merchant passed
            return f"IOTPay accepted the signature of merchant {self.config.mch_id}"
        raise OutcomeUnknown("INVALID_RESPONSE", "IOTPay found an order that cannot exist")

    def refund(self, request: RefundRequest) -> RefundResult:
        if not request.order.provider_order_id:
            raise Refused("NO_PAY_ORDER_ID", "IOTPay refunds need the order's payOrderId")
        params: dict[str, Any] = {
            "mchId": self.config.mch_id,
            "mchRefundNo": refund_number(request.refund_id),
            "payOrderId": request.order.provider_order_id,
            "refundAmount": request.amount,
            "currency": request.currency,
            "clientIp": wire_client_ip(request.order.client_ip),
            "device": checkout.DEVICE,
            "loginName": self.config.job_no,
        }
        params = {name: value for name, value in params.items() if value not in (None, "")}
        params["sign"] = signing.sign(params, self.config.secret_key)
        schemas.RefundOrderRequest().load(params)
        answer = self._business_call("refund_order", params, schemas.RefundOrderResponse(), result_required=False)
        echoed = (answer.get("mch_refund_no"), answer.get("refund_amount"))
        if echoed != (params["mchRefundNo"], request.amount) and (answer.get("res_code") is None or any(echoed)):
            # Success must be about this refund: an answer that names another one, or (without
            # resCode) does not name this one, proves nothing either way.
            raise OutcomeUnknown("INVALID_RESPONSE", "IOTPay's refund answer does not echo this refund")
        return RefundResult(provider_refund_id=answer.get("refund_order_id"))

    # -- notifications --

    def verify_notification(self, request: InboundRequest) -> Notification:
        params = _notify_params(request)
        if not signing.is_valid(params, self.config.secret_key):
            reason = "no sign" if not params.get("sign") else "signature does not match"
            raise NotificationRejected(Verdict.BAD_SIGNATURE, reason)
        # The signature covers a text, not a set of fields: is this the one way IOTPay split it?
        problem = splitting.notify_problem(params)
        if problem is not None:
            raise NotificationRejected(Verdict.MALFORMED, problem)
        try:
            notify = _PAYMENT_NOTIFY.load(params)
        except ValidationError as exc:
            raise NotificationRejected(Verdict.MALFORMED, f"invalid fields: {sorted(exc.messages)}") from None
        if notify["back_type"] == schemas.BACK_TYPE_BROWSER:
            # A payer's browser coming back from IOTPay carries the same signed fields (backType=1),
            # but a browser can be replayed, stopped or sent anywhere: only IOTPay's own call counts.
            raise NotificationRejected(Verdict.IGNORED, "backType 1 is the payer's browser, not IOTPay's server notify")
        if notify["back_type"] != schemas.BACK_TYPE_SERVER:
            raise NotificationRejected(Verdict.MALFORMED, f"backType {notify['back_type'][:10]!r} is not 2")
        return Notification(
            merchant_order_no=notify["mch_order_no"],
            amount=notify["amount"],
            currency=notify["currency"],
            paid=notify["status"] in schemas.PAID_STATUSES,
            account_id=notify["mch_id"],
            provider_order_id=notify["pay_order_id"],
            paid_at=_epoch_ms(notify.get("pay_succ_time")),
        )

    def acknowledge(self, verdict: Verdict) -> Acknowledgement:
        # IOTPay stops re-sending only on the exact body `success`.
        if verdict.accepted:
            return Acknowledgement(200, "success")
        return Acknowledgement(400, "fail")


def _order_number_taken(exc: Refused) -> bool:
    """IOTPay's parameter error for a mchOrderNo it already has (the simulator's "already exists")."""
    return exc.code == "0014" and "mchorderno" in exc.message.lower() and "exist" in exc.message.lower()


def refund_number(refund_id: str) -> str:
    """mchRefundNo (String(30)) derived from the gateway's refund id, the same on every retry."""
    return refund_id.replace("-", "")[:30]


def _notify_params(request: InboundRequest) -> dict[str, str]:
    """Fields from the query string and a form body; the same name twice must agree."""
    pairs = list(request.query)
    content_type = request.headers.get("content-type", "").lower()  # media types ignore case
    if request.body and content_type.startswith("application/x-www-form-urlencoded"):
        try:
            # Parsed as the gateway parses the query string (and as the URL standard parses a form):
            # empty pairs skipped, a blank or bare name kept as a blank field. The same fields must mean
            # the same thing wherever they arrive.
            pairs += parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            raise NotificationRejected(Verdict.MALFORMED, "form body is not valid") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if params.get(name, value) != value:
            raise NotificationRejected(Verdict.MALFORMED, f"field {name!r} sent twice with different values")
        params[name] = value
    return params


def _epoch_ms(text: str | None) -> datetime | None:
    if not text or not text.isdigit():
        return None
    if not int(text):  # 0 is no time IOTPay was paid at, but the epoch itself
        return None
    try:
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    except (OverflowError, ValueError, OSError):
        return None
