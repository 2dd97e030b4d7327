"""Example Pay as a gateway `Provider`: typed requests in, signed calls out, verified notifications back.

Example Pay's API takes signed JSON (see signing.py and client.py). Amounts travel as decimal
text in the currency's major unit ("12.50" USD, "1250" JPY), as many providers' APIs do:
`info.currencies` says how many decimals each currency has, so it must agree with ISO 4217.
"""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError

from gateway.plugin import (
    MULTIPLE_REFUNDS,
    PARTIAL_REFUND,
    Acknowledgement,
    CreatedOrder,
    InboundRequest,
    NotFound,
    Notification,
    NotificationRejected,
    NotifyPolicy,
    OrderRef,
    OrderRequest,
    OutcomeUnknown,
    Provider,
    ProviderInfo,
    RefundFailed,
    RefundRequest,
    RefundResult,
    Refused,
    Verdict,
    iso_currencies,
)
from gateway_example_provider import schemas
from gateway_example_provider.client import ExampleClient
from gateway_example_provider.config import NAME, ExampleConfig
from gateway_example_provider.signing import SIGNATURE_HEADER, is_valid

MAX_MINOR_UNITS = 2**63  # the gateway keeps amounts in signed 64-bit integers
DUPLICATE_REFERENCE = "duplicate_reference"  # Example Pay's 409: it already has a payment with this reference


class ExampleProvider(Provider):
    def __init__(self, config: ExampleConfig) -> None:
        self._secret = config.secret
        self.client = ExampleClient(config)
        self.info = ProviderInfo(
            name=NAME,
            display_name="Example Pay",
            channels=("wallet",),
            currencies=iso_currencies("USD", "JPY"),  # Example Pay counts decimals as ISO 4217 does
            capabilities=frozenset({PARTIAL_REFUND, MULTIPLE_REFUNDS}),
            notifications=NotifyPolicy(
                signature=f"HMAC-SHA256 of the raw JSON body with EXAMPLE_SECRET, hex, in {SIGNATURE_HEADER}",
                acknowledgement="any 2xx answer",
                retries="re-sent a few times, with growing delays, until acknowledged",
            ),
            sandbox=config.sandbox,
        )

    def create_order(self, request: OrderRequest) -> CreatedOrder:
        draft = request.draft
        fields = {
            "reference": request.merchant_order_no,
            "amount": self._decimal(draft.amount, draft.currency),
            "currency": draft.currency,
            "description": draft.subject,
            "notify_url": request.notify_url,
        }
        try:
            payment = self.client.call("create_order", fields)
        except Refused as exc:
            if exc.code == DUPLICATE_REFERENCE:
                # A refusal that can follow acceptance: a payment under this reference exists, perhaps this
                # very one. Never "nothing happened", after which the gateway may create it at another account.
                raise OutcomeUnknown(exc.code, exc.message) from None
            raise
        payment_id = payment.get("id")
        if not isinstance(payment_id, str) or not 0 < len(payment_id) <= schemas.ID_LENGTH:
            raise OutcomeUnknown("INVALID_RESPONSE", "Example Pay's answer has no payment id")
        return CreatedOrder(provider_order_id=payment["id"], pay_params={"payment_id": payment["id"]})

    def query_order(self, order: OrderRef) -> Notification:
        answer = self.client.call("query_order", {"reference": order.merchant_order_no})
        try:
            payment: dict[str, Any] = schemas.Payment().load(answer)
            notification = self._notification(payment)
        except (ValidationError, ValueError):
            raise OutcomeUnknown("INVALID_RESPONSE", "Example Pay's answer is not a payment") from None
        # An answer about another payment must never settle this order.
        if payment["reference"] != order.merchant_order_no or (
            order.provider_order_id is not None and payment["id"] != order.provider_order_id
        ):
            raise OutcomeUnknown("INVALID_RESPONSE", "Example Pay answered about another payment")
        return notification

    def refund(self, request: RefundRequest) -> RefundResult:
        # Example Pay refunds once per refund_id, so a retry of the same refund can never pay twice.
        answer = self.client.call(
            "refund",
            {
                "payment_id": request.order.provider_order_id,
                "refund_id": request.refund_id,
                "amount": self._decimal(request.amount, request.currency),
            },
        )
        try:
            refund: dict[str, Any] = schemas.RefundAnswer().load(answer)
        except ValidationError:
            raise OutcomeUnknown("INVALID_RESPONSE", "Example Pay's answer is not a refund") from None
        if refund["refund_id"] != request.refund_id or not self._says(refund["amount"], request):
            raise OutcomeUnknown("INVALID_RESPONSE", "Example Pay answered about another refund")
        if refund["status"] == "failed":
            raise RefundFailed("refund_failed", "Example Pay reports this refund as failed")
        if refund["status"] == "pending":
            return RefundResult(provider_refund_id=refund["id"], pending=True)  # settled later, by a retry
        return RefundResult(provider_refund_id=refund["id"])

    def check(self) -> str:
        """For `gateway check`: query a payment that cannot exist. Example Pay checks the signature
        first, so its "not found" proves the API is reachable and takes the gateway's secret."""
        try:
            self.client.call("query_order", {"reference": f"gateway-check-{secrets.token_hex(6)}"})
        except NotFound:
            return "Example Pay accepted the gateway's signature"
        raise OutcomeUnknown("INVALID_RESPONSE", "Example Pay found a payment that cannot exist")

    def verify_notification(self, request: InboundRequest) -> Notification:
        signature = request.headers.get(SIGNATURE_HEADER.lower())
        if not signature:
            raise NotificationRejected(Verdict.BAD_SIGNATURE, f"no {SIGNATURE_HEADER} header")
        if not is_valid(self._secret, request.body, signature):  # over the bytes received, never re-serialised
            raise NotificationRejected(Verdict.BAD_SIGNATURE, "signature does not match")
        try:
            return self._notification(schemas.Payment().loads(request.body))
        except (ValidationError, ValueError):
            raise NotificationRejected(Verdict.MALFORMED, "not a payment event") from None

    def acknowledge(self, verdict: Verdict) -> Acknowledgement:
        return Acknowledgement(200, "ok") if verdict.accepted else Acknowledgement(400, "rejected")

    # -- Example Pay's formats --

    def _notification(self, payment: dict[str, Any]) -> Notification:
        return Notification(
            merchant_order_no=payment["reference"],
            amount=self._minor_units(payment["amount"], payment["currency"]),
            currency=payment["currency"],
            paid=payment["status"] == schemas.PAID,
            provider_order_id=payment["id"],
            event_id=payment.get("event"),
            cancelled=payment["status"] == schemas.CANCELLED,
        )

    def _says(self, amount: str, request: RefundRequest) -> bool:
        """Whether a refund answer's amount is the one asked for (another is another refund's, or a mix-up)."""
        try:
            return self._minor_units(amount, request.currency) == request.amount
        except ValueError:
            return False

    def _decimal(self, amount: int, currency: str) -> str:
        """1250 USD -> "12.50"; 1250 JPY -> "1250"."""
        return str(Decimal(amount).scaleb(-self.info.currencies[currency]))

    def _minor_units(self, text: str, currency: str) -> int:
        """ "12.50" USD -> 1250. ValueError for a currency not taken, or digits it cannot hold."""
        places = self.info.currencies.get(currency)
        if places is None:
            raise ValueError(f"Example Pay takes no {currency}")
        try:
            minor = Decimal(text).scaleb(places)
            whole = minor.is_finite() and minor == minor.to_integral_value()
        except InvalidOperation:
            whole = False
        if not whole:
            raise ValueError(f"amount {text!r} is not {currency} with at most {places} decimals")
        if not 0 < minor < MAX_MINOR_UNITS:  # no payment is free, negative or past any real amount
            raise ValueError(f"amount {text!r} is not an amount Example Pay takes")
        return int(minor)
