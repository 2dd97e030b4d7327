"""Stripe PaymentIntents as a gateway `Provider`: create, signed webhook events, query, refunds.

Amounts go to Stripe exactly as the gateway stores them: both count minor units the way
`info.currencies` says (¥500 is amount=500, $28.56 is amount=2856). Stripe has no per-payment
notify URL: the operator registers `{GATEWAY_PUBLIC_URL}/notify/stripe` as a webhook endpoint
(events payment_intent.succeeded, .payment_failed, .canceled) and sets its signing secret.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from marshmallow import Schema, ValidationError

from gateway.plugin import (
    MULTIPLE_REFUNDS,
    PARTIAL_REFUND,
    Acknowledgement,
    ChannelInfo,
    Clock,
    CreatedOrder,
    InboundRequest,
    InvalidOrder,
    NextAction,
    NextActionType,
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
    RefundFailed,
    RefundNotification,
    RefundRef,
    RefundRequest,
    RefundResult,
    Refused,
    Verdict,
    iso_currencies,
    message_texts,
)
from gateway_stripe import schemas, signing
from gateway_stripe.client import StripeClient
from gateway_stripe.config import NAME, StripeConfig

log = logging.getLogger(__name__)

# Stripe counts these as ISO 4217 does (docs.stripe.com/currencies): JPY, KRW and VND are
# zero-decimal (¥500 -> 500), BHD, JOD, KWD and OMR three-decimal with a last digit of 0, the rest
# two-decimal. Stripe's exceptions to ISO are left out because the gateway's currency table does
# not know them: ISK (ISO 0, Stripe 2: amounts in multiples of 100), UGX (Stripe 2 in the
# same way), HUF and TWD payouts (whole units only; TWD charges are two-decimal, so it is here).
CURRENCIES = iso_currencies(
    "AUD", "BHD", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "HKD", "IDR", "INR", "JOD", "JPY", "KRW",
    "KWD", "MXN", "MYR", "NOK", "NZD", "OMR", "PHP", "SEK", "SGD", "THB", "TWD", "USD", "VND",
)  # fmt: skip

MAX_REFUND_PAGES = 10  # 1,000 refunds of one payment: far beyond any real order, short of a loop

# Where a wire field's problem shows up in the public API.
_PUBLIC_FIELD = {"description": "subject", "payment_method_types": "channel"}


class StripeProvider(Provider):
    def __init__(self, config: StripeConfig, client: StripeClient, *, clock: Clock | None = None) -> None:
        self.config = config
        self.client = client
        if clock is not None:
            self.clock = clock  # else the gateway's (Provider.clock): the webhook tolerance is judged by it
        self.info = ProviderInfo(
            name=NAME,
            display_name="Stripe",
            channels=schemas.CHANNELS,
            currencies=CURRENCIES,
            # WeChat Pay and Alipay are confirmed at creation, so Stripe answers their next action at once;
            # a card is confirmed by Stripe's SDK with pay_params' client_secret.
            channel_info=(
                ChannelInfo("card", next_actions=(NextActionType.SDK_PARAMS,)),
                ChannelInfo("wechat_pay", next_actions=(NextActionType.DISPLAY_QR_CODE,)),
                ChannelInfo("alipay", next_actions=(NextActionType.REDIRECT_TO_URL,), required_fields=("return_url",)),
            ),
            sandbox=config.sandbox,
            # Stripe refunds any amount up to what is left, in as many refunds as needed.
            # Cancelling an unpaid PaymentIntent exists at Stripe but the gateway has no use for it yet.
            capabilities=frozenset({PARTIAL_REFUND, MULTIPLE_REFUNDS}),
            notifications=NotifyPolicy(
                signature="HMAC-SHA256 of '<t>.<raw body>' with the endpoint's signing secret (Stripe-Signature "
                "t=...,v1=...); timestamps more than 5 minutes off are refused",
                acknowledgement='any 2xx status (the gateway answers 200 {"received": true})',
                retries="re-sent with exponential backoff for up to 3 days (live mode) until a 2xx arrives",
            ),
        )

    # account_id stays None: the secret key *is* the account, so there is nothing to compare.

    # -- orders --

    def validate_order(self, draft: OrderDraft) -> None:
        problems: dict[str, list[str]] = {}
        if draft.return_url and draft.channel != "alipay":
            problems["return_url"] = [f"Stripe {draft.channel} does not send the payer's browser anywhere"]
        if draft.channel == "alipay" and not draft.return_url:
            problems["return_url"] = ["Stripe alipay needs it: the payer's browser comes back there"]
        if self.info.currencies.get(draft.currency) == 3 and draft.amount % 10:
            problems["amount"] = [f"Stripe needs {draft.currency} amounts to end in 0 (e.g. 5120 for 5.120)"]
        wire = self._create_params(draft, merchant_order_no="0", order_id="0")
        for name, messages in schemas.PaymentIntentCreate().validate(wire).items():
            problems.setdefault(_PUBLIC_FIELD.get(name, name), []).extend(message_texts(messages))
        if problems:
            raise InvalidOrder(problems)

    def create_order(self, request: OrderRequest) -> CreatedOrder:
        params = self._create_params(request.draft, request.merchant_order_no, request.order_id)
        schemas.PaymentIntentCreate().load(params)  # never send what Stripe would refuse
        # The order id as Idempotency-Key: should the gateway ever send this create again, Stripe
        # answers with the same PaymentIntent instead of making a second one.
        raw = self.client.post("/v1/payment_intents", params, idempotency_key=request.order_id)
        intent = _load(schemas.PaymentIntent(), raw, "PaymentIntent")
        asked = (request.merchant_order_no, params["amount"], params["currency"])
        if (intent["metadata"].get("merchant_order_no"), intent["amount"], intent["currency"]) != asked:
            raise OutcomeUnknown("invalid_response", "Stripe's PaymentIntent is not the one asked for")
        if not intent["client_secret"]:
            raise OutcomeUnknown("invalid_response", "Stripe's PaymentIntent has no client_secret")
        pay_params = {
            "client_secret": intent["client_secret"],
            "publishable_key": self.config.publishable_key,
            "payment_intent_id": intent["id"],
        }
        # pay_params stay for every channel: Stripe.js can also handle the next action with the client_secret.
        return CreatedOrder(
            provider_order_id=intent["id"],
            pay_params=pay_params,
            # Plain http addresses only from a provider served over plain http (a local simulator).
            next_action=_next_action(request.draft.channel, intent, pay_params, _schemes(self.client.api_url)),
        )

    def _create_params(self, draft: OrderDraft, merchant_order_no: str, order_id: str) -> dict[str, Any]:
        confirmation: dict[str, Any] = {}
        if draft.channel in schemas.CONFIRMED_AT_CREATION:
            confirmation = {"confirm": True, "payment_method_data": {"type": draft.channel}}
        if draft.channel == "wechat_pay":
            confirmation["payment_method_options"] = {"wechat_pay": {"client": "web"}}  # a QR code, not an app
        if draft.channel == "alipay" and draft.return_url:
            confirmation["return_url"] = draft.return_url
        return {
            "amount": draft.amount,
            "currency": draft.currency.lower(),
            "payment_method_types": [draft.channel],
            "description": draft.subject,
            "metadata": {"merchant_order_no": merchant_order_no, "gateway_order_id": order_id}
            | ({"gateway_instance": self.config.instance} if self.config.instance else {}),
        } | confirmation

    # -- query --

    def query_order(self, order: OrderRef) -> Notification:
        if not order.provider_order_id:
            # Our create call got no answer, so no client_secret ever reached the app: nobody can
            # pay this order. Saying so lets reconciliation expire it instead of asking forever.
            raise NotFound("no_payment_intent", "no PaymentIntent was handed out for this order")
        raw = self.client.get(f"/v1/payment_intents/{quote(order.provider_order_id, safe='')}")
        intent = _load(schemas.PaymentIntent(), raw, "PaymentIntent")
        if intent["metadata"].get("merchant_order_no") != order.merchant_order_no:
            raise OutcomeUnknown("invalid_response", "Stripe answered about another order")
        return _report(intent, paid=intent["status"] == schemas.SUCCEEDED)

    def check(self) -> str:
        """Retrieve a PaymentIntent that cannot exist: "resource_missing" comes only after the key
        was accepted, where a wrong key gets 401."""
        try:
            self.client.get(f"/v1/payment_intents/pi_gatewaycheck{secrets.token_hex(6)}")
        except NotFound:  # resource_missing, which Stripe only answers to a key it accepted
            return "Stripe accepted the secret key"
        raise OutcomeUnknown("invalid_response", "Stripe found a PaymentIntent that cannot exist")

    # -- refunds --

    def refund(self, request: RefundRequest) -> RefundResult:
        payment_intent = request.order.provider_order_id
        if not payment_intent:
            raise Refused("no_payment_intent", "the order has no PaymentIntent to refund")
        # Look first, create only when there is none: Stripe keeps an Idempotency-Key for 24 hours
        # only, and replays the *first* answer (a `pending` refund stays `pending` in the replay).
        # The listing shows the refund's current state, however long after the first attempt.
        refund = self._find_refund(payment_intent, request.refund_id) or self._create_refund(request, payment_intent)
        return _refund_state(refund, request.amount, request.currency, payment_intent)

    def query_refund(self, refund: RefundRef) -> RefundResult:
        """Retrieve the refund (by Stripe's id when known, else found by our refund id in the listing)."""
        payment_intent = refund.order.provider_order_id
        if not payment_intent:
            raise NotFound("no_payment_intent", "the order has no PaymentIntent, so Stripe has no refund of it")
        if refund.provider_refund_id:
            raw = self.client.get(f"/v1/refunds/{quote(refund.provider_refund_id, safe='')}")  # 404: NotFound
            found: dict[str, Any] | None = _load(schemas.Refund(), raw, "Refund")
        else:
            found = self._find_refund(payment_intent, refund.refund_id)
        if found is None:
            raise NotFound("no_such_refund", f"Stripe lists no refund {refund.refund_id} of {payment_intent}")
        return _refund_state(_own(found, refund.refund_id), refund.amount, refund.currency, payment_intent)

    def _find_refund(self, payment_intent: str, refund_id: str) -> dict[str, Any] | None:
        query: dict[str, Any] = {"payment_intent": payment_intent, "limit": 100}
        for _ in range(MAX_REFUND_PAGES):
            page = _load(schemas.RefundList(), self.client.get("/v1/refunds", query), "refund list")
            refunds = [_load(schemas.Refund(), item, "Refund") for item in page["data"]]
            for refund in refunds:
                if refund["metadata"].get("refund_id") == refund_id:
                    return refund
            if not page["has_more"] or not refunds:
                return None
            query["starting_after"] = refunds[-1]["id"]
        raise OutcomeUnknown("too_many_refunds", f"more than {MAX_REFUND_PAGES * 100} refunds listed")

    def _create_refund(self, request: RefundRequest, payment_intent: str) -> dict[str, Any]:
        if self.info.currencies.get(request.currency) == 3 and request.amount % 10:
            # Stripe's rule for three-decimal currencies applies to refunds as to payments.
            raise Refused("invalid_amount", f"{request.currency} refunds must end in 0 (Stripe)")
        metadata = {"refund_id": request.refund_id, "merchant_order_no": request.order.merchant_order_no}
        if request.reason:
            metadata["reason"] = request.reason[: schemas.METADATA_VALUE_LENGTH]
        params = {"payment_intent": payment_intent, "amount": request.amount, "metadata": metadata}
        try:
            schemas.RefundCreate().load(params)
        except ValidationError as exc:
            raise Refused("invalid_request", f"not a refund Stripe would take: {sorted(exc.messages)}") from None
        raw = self.client.post("/v1/refunds", params, idempotency_key=request.refund_id)
        # Two refunds of one payment and amount differ only in this id: an answer about the other is not this one's.
        return _own(_load(schemas.Refund(), raw, "Refund"), request.refund_id)

    # -- notifications --

    def verify_notification(self, request: InboundRequest) -> Notification | RefundNotification:
        try:
            header, secret = request.headers.get(signing.HEADER), self.config.webhook_secret
            signing.verify(header, request.body, secret, now=self.clock.timestamp())
        except signing.SignatureError as exc:
            raise NotificationRejected(Verdict.BAD_SIGNATURE, str(exc)) from None
        event = _event(request.body)
        if event["livemode"] != self.config.live:
            # A test-mode event can never pay a live order, nor a live one a test order.
            raise NotificationRejected(Verdict.MISMATCH, f"event {event['id']} is from the other mode (livemode)")
        obj = event["data"]["object_"]
        if obj.get("object") == "refund" or event["type"] == schemas.EVENT_CHARGE_REFUNDED:
            return self._refund_notification(event, obj)
        if obj.get("object") != "payment_intent":
            # Genuine, but about something else (a charge, a refund...): acknowledged so Stripe stops.
            raise NotificationRejected(Verdict.IGNORED, f"event {event['id']} ({event['type']}) is not about a payment")
        try:
            intent = schemas.loaded(schemas.PaymentIntentEvent(), obj)
        except ValidationError as exc:
            raise NotificationRejected(Verdict.MALFORMED, f"invalid PaymentIntent: {sorted(exc.messages)}") from None
        if not intent["metadata"].get("merchant_order_no"):
            # The account's other PaymentIntents (dashboard, other software) reach this endpoint too.
            raise NotificationRejected(Verdict.IGNORED, f"PaymentIntent {intent['id']} was not created by the gateway")
        instance = intent["metadata"].get("gateway_instance")
        if instance and instance != self.config.instance:
            # Another deployment's payment on a shared account: acknowledged, so Stripe does not
            # retry it here for days and flag this endpoint as failing.
            raise NotificationRejected(Verdict.IGNORED, f"PaymentIntent {intent['id']} belongs to another gateway")
        paid = event["type"] == schemas.EVENT_SUCCEEDED
        if paid and intent["status"] != schemas.SUCCEEDED:
            raise NotificationRejected(Verdict.MALFORMED, f"{event['type']} with status {intent['status']!r}")
        paid_at = datetime.fromtimestamp(event["created"], UTC) if paid else None
        return _report(intent, paid=paid, event_id=event["id"], paid_at=paid_at)

    def _refund_notification(self, event: Mapping[str, Any], obj: Mapping[str, Any]) -> RefundNotification:
        """refund.created / refund.updated / refund.failed carry the refund; charge.refunded the charge, whose
        newest refund (Stripe lists them newest first) is the one the event is about."""
        if obj.get("object") == "charge":
            listed = (obj.get("refunds") or {}).get("data") or []
            if not listed or not isinstance(listed[0], dict):
                raise NotificationRejected(Verdict.IGNORED, f"event {event['id']} lists no refund of the charge")
            obj = listed[0]
        try:
            refund = schemas.loaded(schemas.Refund(), obj)
        except ValidationError as exc:
            raise NotificationRejected(Verdict.MALFORMED, f"invalid Refund: {sorted(exc.messages)}") from None
        refund_id, merchant_order_no = refund["metadata"].get("refund_id"), refund["metadata"].get("merchant_order_no")
        if not refund_id or not merchant_order_no:
            # Refunds made in the dashboard or by other software: not the gateway's to settle.
            raise NotificationRejected(Verdict.IGNORED, f"refund {refund['id']} was not made by the gateway")
        status = refund["status"]
        outcome = (
            "succeeded"
            if status == schemas.REFUND_SUCCEEDED
            else "failed"
            if status in schemas.REFUND_FAILED
            else "pending"
        )
        reason = refund["failure_reason"] or "no reason given"
        return RefundNotification(
            merchant_order_no=merchant_order_no,
            refund_id=refund_id,
            amount=refund["amount"],
            currency=refund["currency"].upper(),
            outcome=outcome,
            provider_refund_id=refund["id"],
            event_id=event["id"],
            failure_code=f"refund_{status}" if outcome == "failed" else None,
            failure_message=f"Stripe refund {refund['id']} {status}: {reason}" if outcome == "failed" else None,
        )

    def acknowledge(self, verdict: Verdict) -> Acknowledgement:
        # Stripe stops re-sending on any 2xx; the body is for people reading its dashboard.
        if verdict.accepted:
            return Acknowledgement(200, json.dumps({"received": True}), "application/json")
        return Acknowledgement(400, json.dumps({"received": False, "verdict": verdict.value}), "application/json")


def _report(
    intent: Mapping[str, Any], *, paid: bool, event_id: str | None = None, paid_at: datetime | None = None
) -> Notification:
    # Unpaid intents have amount_received 0: report the amount asked, so the core's amount check
    # compares like with like. A paid one reports what was received, which must be the whole amount.
    return Notification(
        merchant_order_no=intent["metadata"]["merchant_order_no"],
        amount=intent["amount_received"] if paid else intent["amount"],
        currency=intent["currency"].upper(),
        paid=paid,
        provider_order_id=intent["id"],
        event_id=event_id,
        paid_at=paid_at,
        cancelled=intent["status"] == schemas.CANCELED,
    )


def _event(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise NotificationRejected(Verdict.MALFORMED, "body is not JSON") from None
    try:
        return schemas.loaded(schemas.Event(), payload)
    except ValidationError as exc:
        raise NotificationRejected(Verdict.MALFORMED, f"not a Stripe event: {sorted(_keys(exc.messages))}") from None


def _own(refund: dict[str, Any], refund_id: str) -> dict[str, Any]:
    """Stripe's refund, when it is the gateway's refund `refund_id` (its metadata); unclear otherwise."""
    if refund["metadata"].get("refund_id") != refund_id:
        raise OutcomeUnknown("invalid_response", f"Stripe refund {refund['id']} is another refund")
    return refund


def _refund_state(refund: dict[str, Any], amount: int, currency: str, payment_intent: str) -> RefundResult:
    """Stripe's refund object as the contract's answer: settled, pending, or RefundFailed."""
    if (refund["amount"], refund["currency"].upper(), refund["payment_intent"]) != (amount, currency, payment_intent):
        raise OutcomeUnknown("invalid_response", f"Stripe refund {refund['id']} is not the one asked for")
    status = refund["status"]
    if status == schemas.REFUND_SUCCEEDED:
        return RefundResult(provider_refund_id=refund["id"])
    if status in schemas.REFUND_FAILED:
        reason = refund["failure_reason"] or "no reason given"
        raise RefundFailed(f"refund_{status}", f"Stripe refund {refund['id']} {status}: {reason}")
    # `pending` (or `requires_action`): accepted, and it may still succeed or fail. Calling it a
    # success could count money that never leaves, so it is pending until Stripe settles it.
    return RefundResult(provider_refund_id=refund["id"], pending=True)


def _schemes(api_url: str) -> tuple[str, ...]:
    """The address schemes a payer may be sent to: https, and plain http only beside a plain http API."""
    return ("https://", "http://") if api_url.startswith("http://") else ("https://",)


def _next_action(
    channel: str, intent: Mapping[str, Any], pay_params: Mapping[str, Any], schemes: tuple[str, ...]
) -> NextAction:
    """The payer's next step; for a confirmed channel, read from Stripe's next_action or unclear."""
    kind = schemas.CONFIRMED_AT_CREATION.get(channel)
    if kind is None:
        return NextAction(NextActionType.SDK_PARAMS, params=pay_params)
    answered = intent.get("next_action") or {}
    details = answered.get(kind) if answered.get("type") == kind else None
    if intent["status"] != schemas.REQUIRES_ACTION or not isinstance(details, dict):
        # Created and confirmed, but not waiting for the payer as asked: whether it can be paid is unclear.
        raise OutcomeUnknown("invalid_response", f"Stripe's PaymentIntent has no {kind} next action")
    if kind == "wechat_pay_display_qr_code":
        data = details.get("data")
        if not isinstance(data, str) or not data or len(data) > 2048:
            raise OutcomeUnknown("invalid_response", "Stripe's WeChat Pay QR code has no data")
        return NextAction(NextActionType.DISPLAY_QR_CODE, data=data)
    url = details.get("url")
    if not isinstance(url, str) or not url.startswith(schemes) or not url.isprintable():
        raise OutcomeUnknown("invalid_response", "Stripe's Alipay redirect has no usable url")
    return NextAction(NextActionType.REDIRECT_TO_URL, url=url)


def _load(schema: Schema, raw: Any, what: str) -> dict[str, Any]:
    try:
        return schemas.loaded(schema, raw)
    except ValidationError as exc:
        raise OutcomeUnknown(
            "invalid_response", f"Stripe's {what} is malformed: {sorted(_keys(exc.messages))}"
        ) from None


def _keys(messages: Any) -> list[str]:
    return [str(name) for name in messages] if isinstance(messages, dict) else ["_schema"]
