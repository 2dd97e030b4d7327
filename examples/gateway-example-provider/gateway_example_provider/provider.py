"""Example Pay as a gateway `Provider`.

Example Pay's API takes signed JSON: every request and every notification carries
``X-Example-Signature: <hex HMAC-SHA256 of the raw body, keyed by the shared secret>``.
Calls are ``POST {api_url}/v1/<operation>`` for create_order, query_order and refund; errors
come back as 4xx ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import requests
from marshmallow import EXCLUDE, Schema, ValidationError, fields

from gateway.fields import StrictInt
from gateway.provider import (
    MULTIPLE_REFUNDS,
    PARTIAL_REFUND,
    QUERY,
    REFUND,
    Acknowledgement,
    CreatedOrder,
    InboundRequest,
    Notification,
    NotificationRejected,
    NotifyPolicy,
    OrderRef,
    OrderRequest,
    Provider,
    ProviderError,
    ProviderInfo,
    ProviderTimeout,
    ProviderUnreachable,
    RefundRequest,
    RefundResult,
    Verdict,
)

SIGNATURE_HEADER = "X-Example-Signature"


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body).encode(), signature.encode())


class PaymentEvent(Schema):
    """A payment as Example Pay describes it, in a notification or a query answer."""

    class Meta:
        unknown = EXCLUDE  # messages from the provider may grow fields

    id = fields.String(required=True)
    reference = fields.String(required=True)
    amount = StrictInt(required=True)
    currency = fields.String(required=True)
    status = fields.String(required=True)
    event = fields.String()  # notifications only: the same on every re-send


class ExampleProvider(Provider):
    def __init__(self, secret: str, api_url: str, timeout: float = 10.0, sandbox: bool = False) -> None:
        self._secret = secret
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self.info = ProviderInfo(
            name="example",
            display_name="Example Pay",
            channels=("wallet",),
            currencies={"EUR": 2, "JPY": 0},
            operations=frozenset({QUERY, REFUND, PARTIAL_REFUND, MULTIPLE_REFUNDS}),
            notifications=NotifyPolicy(
                signature=f"HMAC-SHA256 of the raw JSON body with EXAMPLE_SECRET, hex, in {SIGNATURE_HEADER}",
                acknowledgement="any 2xx answer",
                retries="re-sent a few times, with growing delays, until acknowledged",
            ),
            sandbox=sandbox,
        )

    def create_order(self, request: OrderRequest) -> CreatedOrder:
        draft = request.draft
        payment = self._call(
            "create_order",
            {
                "reference": request.merchant_order_no,
                "amount": draft.amount,
                "currency": draft.currency,
                "description": draft.subject,
                "notify_url": request.notify_url,
            },
        )
        if not isinstance(payment.get("id"), str):
            raise ProviderError("INVALID_RESPONSE", "Example Pay's answer has no payment id", definite=False)
        return CreatedOrder(provider_order_id=payment["id"], pay_params={"payment_id": payment["id"]})

    def query_order(self, order: OrderRef) -> Notification:
        payment = self._payment(self._call("query_order", {"reference": order.merchant_order_no}))
        if payment["reference"] != order.merchant_order_no:
            raise ProviderError("INVALID_RESPONSE", "Example Pay answered about another payment", definite=False)
        return self._notification(payment)

    def refund(self, request: RefundRequest) -> RefundResult:
        # Example Pay refunds once per refund_id, so a retry of the same refund can never pay twice.
        answer = self._call(
            "refund",
            {"payment_id": request.order.provider_order_id, "refund_id": request.refund_id, "amount": request.amount},
        )
        return RefundResult(provider_refund_id=answer.get("id"))

    def verify_notification(self, request: InboundRequest) -> Notification:
        signature = request.headers.get(SIGNATURE_HEADER.lower())
        if not signature:
            raise NotificationRejected(Verdict.BAD_SIGNATURE, f"no {SIGNATURE_HEADER} header")
        if not is_valid(self._secret, request.body, signature):
            raise NotificationRejected(Verdict.BAD_SIGNATURE, "signature does not match")
        try:
            payment = PaymentEvent().loads(request.body)
        except (ValidationError, ValueError):
            raise NotificationRejected(Verdict.MALFORMED, "not a payment event") from None
        return self._notification(payment)

    def acknowledge(self, verdict: Verdict) -> Acknowledgement:
        return Acknowledgement(200, "ok") if verdict.accepted else Acknowledgement(400, "rejected")

    # -- HTTP --

    def _notification(self, payment: dict[str, Any]) -> Notification:
        return Notification(
            merchant_order_no=payment["reference"],
            amount=payment["amount"],
            currency=payment["currency"],
            paid=payment["status"] == "paid",
            provider_order_id=payment["id"],
            event_id=payment.get("event"),
        )

    def _payment(self, answer: dict[str, Any]) -> dict[str, Any]:
        try:
            payment: dict[str, Any] = PaymentEvent().load(answer)
        except ValidationError:
            raise ProviderError("INVALID_RESPONSE", "Example Pay's answer is not a payment", definite=False) from None
        return payment

    def _call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, body)}
        try:
            response = self._session.post(
                f"{self.api_url}/v1/{operation}", data=body, headers=headers, timeout=self.timeout
            )
        except requests.ConnectTimeout as exc:  # nothing was sent
            raise ProviderUnreachable(f"could not connect to Example Pay ({operation})") from exc
        except requests.Timeout as exc:  # sent, and perhaps acted on
            raise ProviderTimeout(f"Example Pay did not answer {operation} in {self.timeout}s") from exc
        except requests.RequestException as exc:
            raise ProviderUnreachable(f"Example Pay {operation}: {type(exc).__name__}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ProviderError(f"HTTP_{response.status_code}", "Example Pay's answer is not JSON", definite=False)
        error = answer.get("error")
        if 400 <= response.status_code < 500 and isinstance(error, dict):
            # A refusal: Example Pay did nothing. Keep its own code and message.
            raise ProviderError(str(error.get("code", "error")), str(error.get("message", "")))
        if response.status_code != 200:
            raise ProviderError(f"HTTP_{response.status_code}", "Example Pay failed", definite=False)
        return answer
