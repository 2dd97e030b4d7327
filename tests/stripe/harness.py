"""Stripe's conformance harness: the plugin's simulator on a real port, and webhook events signed
the way Stripe's documentation says, by a recipe written here (not gateway_stripe.signing).

Stripe refuses timestamps more than five minutes old, so a known answer cannot be a fixed
header: `stripe_v1` is the documented recipe spelt out independently, itself pinned to an
OpenSSL-computed value in tests/stripe/test_stripe_signing.py, and signs with the current time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import requests
from gateway_stripe.sandbox.app import Simulator, create_simulator

from gateway.testing import (
    HttpRequest,
    InvalidOrderExample,
    InvalidRefundExample,
    KnownAnswer,
    ProviderAnswer,
    ProviderHarness,
    ValidOrderExample,
)
from gateway.testing.live import Environ, Interceptor, LiveServer

# Made up, in Stripe's formats, and unlike every other key in the test suite.
SECRET_KEY = "sk_test_51GwHarness0nly4kQ2mN8pL3xR7vT9wY1zA5"
PUBLISHABLE_KEY = "pk_test_51GwHarness0nly6bC8dE0fG2hJ4kM6nP8qS"
WEBHOOK_SECRET = "whsec_Harness0nly9c1e3a5b7d9f2e4c6a8b0d2f4e6a"
# A second Stripe account (its own simulator), for the kit's two-account check.
SECOND_ACCOUNT = (
    "sk_test_51GwSecond0nly2hJ4kM6nP8qS0tU2vW4xY6",
    "pk_test_51GwSecond0nly8zYxWvUtSrQpOnMlKjIhG",
    "whsec_Second0nly4b6d8f0a2c4e6b8d0f2a4c6e8b0d",
)
DOCS_SECRET = "whsec_test_secret"  # stripe-python's dummy secret, for the known answers
KNOWN_AT = 1_764_111_189  # when the known answers were signed (2025-11-25 22:53:09 UTC): the kit's clock then
MINUTE = timedelta(minutes=1)


def stripe_v1(secret: str, timestamp: int, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, "<t>." + body)): Stripe's documented v1 signature."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_event(body: bytes, secret: str, timestamp: int | None = None) -> HttpRequest:
    at = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": f"t={at},v1={stripe_v1(secret, at, body)}",
    }
    return HttpRequest(method="POST", headers=headers, body=body)


def succeeded_event(
    payment_intent: str, merchant_order_no: str, amount: int, currency: str, metadata: Mapping[str, str] | None = None
) -> bytes:
    """payment_intent.succeeded as Stripe's API reference shows an event (pretty-printed, as Stripe sends it)."""
    return intent_event(
        "payment_intent.succeeded", "succeeded", payment_intent, merchant_order_no, amount, currency, metadata
    )


def failed_event(
    payment_intent: str, merchant_order_no: str, amount: int, currency: str, metadata: Mapping[str, str] | None = None
) -> bytes:
    """payment_intent.payment_failed: the payment was declined; the intent wants another payment method."""
    return intent_event(
        "payment_intent.payment_failed",
        "requires_payment_method",
        payment_intent,
        merchant_order_no,
        amount,
        currency,
        metadata,
    )


def intent_event(
    event_type: str,
    status: str,
    payment_intent: str,
    merchant_order_no: str,
    amount: int,
    currency: str,
    metadata: Mapping[str, str] | None = None,
) -> bytes:
    """An event about the PaymentIntent; `metadata` as the simulator holds it (else only merchant_order_no)."""
    seed = f"{merchant_order_no}:{amount}:{currency}"
    if event_type != "payment_intent.succeeded":
        seed += f":{event_type}"
    event_id = "evt_" + hashlib.sha256(seed.encode()).hexdigest()[:24]
    intent = {
        "id": payment_intent,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "capture_method": "automatic",
        "client_secret": f"{payment_intent}_secret_harness",
        "created": int(time.time()) - 30,
        "currency": currency.lower(),
        "livemode": False,
        "metadata": {**(metadata or {}), "merchant_order_no": merchant_order_no},
        "payment_method_types": ["card"],
        "status": status,
    }
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "data": {"object": intent},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event, indent=2).encode()


class StripeHarness(ProviderHarness):
    provider_name = "stripe"
    display_name = "Stripe"  # what its own pages call it
    channel = "card"
    currency = "USD"
    required_settings = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")
    timestamp_tolerance = timedelta(minutes=5)  # Stripe's default tolerance for Stripe-Signature's t=
    # Stripe's errors reference: 429 lock_timeout / rate_limit ("try again"), 500 api_error (Stripe's own fault),
    # 424 a dependency outside Stripe failed.
    busy_answers = (
        ProviderAnswer(
            429,
            '{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"This object '
            'cannot be accessed right now because another API request or Stripe process is accessing it."}}',
        ),
        ProviderAnswer(
            429,
            '{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests '
            'hit the API too quickly."}}',
        ),
        ProviderAnswer(500, '{"error":{"type":"api_error","message":"Something went wrong on Stripe\'s end."}}'),
        # 409 idempotency_key_in_use: the first request with this Idempotency-Key is still being processed.
        ProviderAnswer(
            409,
            '{"error":{"type":"idempotency_error","code":"idempotency_key_in_use","message":"There is currently '
            'another in-progress request using this idempotent key."}}',
        ),
        # 424: "the request couldn't be completed due to a failure in a dependency external to Stripe".
        ProviderAnswer(424, '{"error":{"type":"api_error","message":"An external dependency failed."}}'),
    )
    # Stripe's errors reference (docs.stripe.com/api/errors): a 400 turns the request down, nothing done; `code`,
    # `message` and `param` are nullable strings, so one refusal has them null.
    refusal_answers = (
        ProviderAnswer(
            400,
            '{"error":{"type":"invalid_request_error","code":"parameter_invalid_integer","message":"Invalid '
            'integer: abc","param":"amount"}}',
        ),
        ProviderAnswer(400, '{"error":{"type":"invalid_request_error","code":null,"message":null,"param":null}}'),
    )
    # A key Stripe refuses (401) or one without the permission a call needs (403): every call fails alike.
    misconfiguration_answers = (
        ProviderAnswer(
            401, '{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****0000"}}'
        ),
        ProviderAnswer(
            403,
            '{"error":{"type":"invalid_request_error","message":"The provided key does not have the required '
            'permissions for this endpoint."}}',
        ),
    )
    # A refund's statuses (Stripe's API reference): `pending` and `requires_action` may still go either way.
    refund_states = MappingProxyType(
        {
            "status": MappingProxyType(
                {
                    "succeeded": "succeeded",
                    "pending": "pending",
                    "requires_action": "pending",
                    "failed": "failed",
                    "canceled": "failed",
                }
            )
        }
    )
    # The same statuses, in a refund event's refund (refund.created, refund.updated, refund.failed).
    refund_notification_states = MappingProxyType({"data.object.status": refund_states["status"]})
    # A PaymentIntent's statuses (Stripe's API reference): only `succeeded` has the money; `requires_capture` holds it
    # uncaptured (the plugin leaves capture_method at Stripe's automatic default), and `canceled` can never be paid.
    query_states = MappingProxyType(
        {
            "status": MappingProxyType(
                {
                    "requires_payment_method": "pending",
                    "requires_confirmation": "pending",
                    "requires_action": "pending",
                    "processing": "pending",
                    "requires_capture": "pending",
                    "canceled": "closed",
                    "succeeded": "paid",
                }
            )
        }
    )
    accepted_reply = ProviderAnswer(200, '{"received": true}')  # any 2xx stops Stripe; the body is for its dashboard
    # Orders Stripe refuses that the plugin refuses before any call (docs/providers/stripe.md): a return_url where
    # the payer's browser goes nowhere, and a three-decimal amount whose last digit is not 0.
    invalid_orders = (
        InvalidOrderExample(
            "return_url on a card order", {"channel": "card", "return_url": "https://shop.example/r"}, "return_url"
        ),
        InvalidOrderExample("KWD 1.001: not a multiple of 10", {"currency": "KWD", "amount": 1001}, "amount"),
    )
    # Stripe's three-decimal rule holds for refunds too (docs/providers/stripe.md).
    invalid_refunds = (
        InvalidRefundExample(
            "KWD 0.005: not a multiple of 10", {"currency": "KWD", "amount": 2000}, 5, "invalid_amount"
        ),
    )
    # Close to those, and taken: Stripe's description is any text of one character or more.
    valid_orders = (ValidOrderExample("a one-character subject (Stripe's description)", {"subject": "T"}),)
    # What Stripe.js needs to confirm a card payment, and the PaymentIntent's id (docs/providers/stripe.md).
    sdk_params = ("client_secret", "publishable_key", "payment_intent_id")
    notifications_carry_paid_time = True  # the event's `created`
    paid_time_unit = timedelta(seconds=1)  # `created`: epoch seconds
    notifications_reach_every_endpoint = True  # every event of the account goes to each webhook endpoint
    api_url_setting = "STRIPE_API_URL"  # the simulator is served over plain http
    failed_refund_codes = ("refund_failed", "refund_canceled")  # docs/providers/stripe.md
    not_found_codes = ("no_payment_intent", "no_such_refund", "resource_missing")  # docs/providers/stripe.md
    invalid_answer_code = "invalid_response"  # docs/providers/stripe.md
    # A PaymentIntent and a Refund always carry these (Stripe's API reference): without one, an answer says neither
    # which object it is, nor its amount, currency or state, and the plugin compares each with what it asked.
    required_answer_fields = MappingProxyType(
        {"create_order": ("id", "amount", "currency", "status"), "refund": ("id", "amount", "currency", "status")}
    )
    confirms_notifications = False  # the webhook's HMAC over its exact body decides (docs/providers/stripe.md)
    status_answer_code = "http_{status}"  # an error status without Stripe's error object (docs/providers/stripe.md)
    answer_kind_field = "object"  # every Stripe API object names its kind: "payment_intent", "refund", "list"
    largest_amount = 99_999_999  # Stripe's PaymentIntent docs: "The amount value supports up to eight digits"
    largest_notified_amount = 2**63 - 1  # an event's amount past any order is a mismatch up to what a record holds
    refunds_per_page = 100  # the plugin lists a PaymentIntent's refunds with limit=100, Stripe's largest page

    def __init__(
        self, state_dir: Path, keys: tuple[str, str, str] = (SECRET_KEY, PUBLISHABLE_KEY, WEBHOOK_SECRET)
    ) -> None:
        self._state_path = state_dir / "stripe-simulator.sqlite3"
        self._simulator: Simulator | None = None
        self._server: LiveServer | None = None
        self.secret_key, self.publishable_key, self.webhook_secret = keys
        self._second: StripeHarness | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "StripeHarness not started"
        return self._server.url

    def start(self) -> None:
        self._simulator = create_simulator(
            self.secret_key,
            self.webhook_secret,
            "http://127.0.0.1:9/unset",
            str(self._state_path),
            webhook_retry_delays=(0.05, 0.1),
        )
        self._interceptor = Interceptor(self._simulator)
        self._server = LiveServer(self._interceptor)

    def stop(self) -> None:
        if self._second is not None:
            self._second.stop()
        if self._server is not None:
            self._server.stop()
        if self._simulator is not None:
            self._simulator.close()

    def settings(self, public_url: str) -> Mapping[str, str]:
        assert self._simulator is not None, "StripeHarness not started"
        self._simulator.webhook_url = f"{public_url}/notify/stripe"  # the endpoint set in Stripe's dashboard
        return {
            "STRIPE_SECRET_KEY": self.secret_key,
            "STRIPE_PUBLISHABLE_KEY": self.publishable_key,
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
            "STRIPE_API_URL": self.url,
        }

    def timeout_settings(self, seconds: float) -> Mapping[str, str]:
        return {"STRIPE_TIMEOUT": str(seconds)}

    def secrets(self) -> Sequence[str]:
        return [self.secret_key, self.webhook_secret]  # the publishable key is public by design

    def second_account(self) -> StripeHarness:
        """Another Stripe account: its own keys at its own simulator, stopped with this harness."""
        if self._second is None:
            directory = self._state_path.parent / "second-account"
            directory.mkdir(exist_ok=True)
            self._second = StripeHarness(directory, SECOND_ACCOUNT)
            self._second.start()
        return self._second

    def paid_notification(
        self, order: Mapping[str, Any], *, amount: int | None = None, currency: str | None = None
    ) -> HttpRequest:
        body = succeeded_event(
            _payment_intent(order),
            order["merchant_order_no"],
            order["amount"] if amount is None else amount,
            currency or order["currency"],
            self._metadata(order),
        )
        return signed_event(body, self.webhook_secret)

    def unpaid_notification(self, order: Mapping[str, Any]) -> HttpRequest:
        metadata = self._metadata(order)
        body = failed_event(
            _payment_intent(order), order["merchant_order_no"], order["amount"], order["currency"], metadata
        )
        return signed_event(body, self.webhook_secret)

    def _metadata(self, order: Mapping[str, Any]) -> Mapping[str, str]:
        """The PaymentIntent's metadata as the simulator holds it (Stripe's events carry all of it), or none."""
        if not order.get("provider_order_id"):
            return {}
        response = requests.get(f"{self.url}/test/payment_intents/{order['provider_order_id']}", timeout=5)
        if response.status_code != 200:  # an order the simulator never saw
            return {}
        metadata: Mapping[str, str] = response.json().get("metadata") or {}
        return metadata

    def signed_notification(self, request: HttpRequest) -> HttpRequest:
        return signed_event(request.body, self.webhook_secret)  # a new Stripe-Signature, at the current time

    def tamper(self, request: HttpRequest) -> HttpRequest:
        event = json.loads(request.body)
        event["data"]["object"]["amount_received"] += 1
        return HttpRequest(request.method, request.query, request.headers, json.dumps(event, indent=2).encode())

    def unsigned(self, request: HttpRequest) -> HttpRequest:
        headers = {name: value for name, value in request.headers.items() if name.lower() != "stripe-signature"}
        return HttpRequest(request.method, request.query, headers, request.body)

    def delay_next(self, operation: str, seconds: float) -> None:
        fault: dict[str, Any] = {"operation": operation, "mode": "delay", "seconds": seconds}
        response = requests.post(f"{self.url}/test/faults", json=fault, timeout=5)
        assert response.status_code == 201, response.text

    def fail_next(self, operation: str) -> None:
        # Stripe's own error answer (400, invalid_request_error): a refusal, nothing was done.
        fault = {"operation": operation, "mode": "error", "message": "Simulated refusal."}
        response = requests.post(f"{self.url}/test/faults", json=fault, timeout=5)
        assert response.status_code == 201, response.text

    def event_id(self, request: HttpRequest) -> str | None:
        event_id: str = json.loads(request.body)["id"]
        return event_id

    def garble_next(self, operation: str, reply: str) -> None:
        fault = {"operation": {"query_order": "query"}.get(operation, operation), "mode": reply}
        response = requests.post(f"{self.url}/test/faults", json=fault, timeout=5)
        assert response.status_code == 201, response.text

    def pend_next_refund(self) -> None:
        response = requests.post(f"{self.url}/test/faults", json={"operation": "refund", "mode": "pending"}, timeout=5)
        assert response.status_code == 201, response.text

    def settle_pending_refunds(self, order: Mapping[str, Any], status: str) -> None:
        # Stripe ends a refund that did not happen as `failed` or `canceled`: refund_notification() says `failed`, so
        # a refund settled here says `canceled`, and the plugin meets both.
        status = {"failed": "canceled"}.get(status, status)
        intent = requests.get(f"{self.url}/test/payment_intents/{order['provider_order_id']}", timeout=5).json()
        for refund in intent["refunds"]:
            if refund["status"] == "pending":
                response = requests.post(f"{self.url}/test/refunds/{refund['id']}", json={"status": status}, timeout=5)
                assert response.status_code == 200, response.text

    def forget_idempotency_keys(self) -> None:
        response = requests.delete(f"{self.url}/test/idempotency_keys", timeout=5)  # a day later, at Stripe
        assert response.status_code == 200, response.text

    def pay_without_notifying(self, order: Mapping[str, Any]) -> None:
        self._pay(order, notify=False)

    def close(self, order: Mapping[str, Any]) -> None:
        self._pay(order, outcome="canceled")

    def misdirect_next_query(self, order: Mapping[str, Any], other: Mapping[str, Any]) -> None:
        asked = f"/v1/payment_intents/{order['provider_order_id']}"

        def about_other(environ: Environ) -> Environ | None:
            if environ["REQUEST_METHOD"] != "GET" or environ["PATH_INFO"] != asked:
                return None
            return {**environ, "PATH_INFO": f"/v1/payment_intents/{other['provider_order_id']}"}

        self._interceptor.once(about_other)

    def refunded_amount(self, order: Mapping[str, Any]) -> int:
        response = requests.get(f"{self.url}/test/payment_intents/{order['provider_order_id']}", timeout=5)
        assert response.status_code == 200, response.text
        refunds = response.json()["refunds"]
        return sum(refund["amount"] for refund in refunds if refund["status"] not in ("failed", "canceled"))

    def refunds_at_provider(self, order: Mapping[str, Any]) -> Mapping[str, int]:
        response = requests.get(f"{self.url}/test/payment_intents/{order['provider_order_id']}", timeout=5)
        assert response.status_code == 200, response.text
        refunds = response.json()["refunds"]
        return {refund["id"]: refund["amount"] for refund in refunds if refund["status"] not in ("failed", "canceled")}

    def pay(self, order: Mapping[str, Any]) -> None:
        # The simulator refunds only what it has seen paid; it then also sends its own signed event.
        self._pay(order)

    def _pay(self, order: Mapping[str, Any], **extra: Any) -> None:
        body = {"payment_intent": order["provider_order_id"], **extra}
        response = requests.post(f"{self.url}/test/pay", json=body, timeout=5)
        assert response.status_code == 202, response.text

    def refund_notification(self, order: Mapping[str, Any], refund: Mapping[str, Any], outcome: str) -> HttpRequest:
        """refund.updated, as Stripe's API reference shows a refund: the refund made for our refund id; for a
        refund that succeeded, charge.refunded as an endpoint on an API version before 2022-11-15 receives it
        (webhooks follow the endpoint's version, not the plugin's): the charge with its refunds listed."""
        refund_id = refund["id"]
        seed = refund_id or f"{refund['amount']}:{outcome}"
        stripe_id = refund.get("provider_refund_id") or "re_" + hashlib.sha256(seed.encode()).hexdigest()[:24]
        # An order no gateway made (no merchant_order_no): a dashboard refund of a charge other software made
        # with Stripe's Charges API, which has no PaymentIntent (Stripe's refund.payment_intent is then null).
        outside = not order.get("merchant_order_no")
        made_up = hashlib.sha256(seed.encode()).hexdigest()[:24]
        charge = made_up if outside else _payment_intent(order).removeprefix("pi_")
        obj = {
            "id": stripe_id,
            "object": "refund",
            "amount": refund["amount"],
            "charge": f"ch_{charge}",
            "currency": refund["currency"].lower(),
            "status": outcome,
            "payment_intent": None if outside else _payment_intent(order),
            "metadata": {} if outside else {"refund_id": refund_id, "merchant_order_no": order["merchant_order_no"]},
            "failure_reason": "expired_or_canceled_card" if outcome == "failed" else None,
        }
        event_type = "refund.updated"
        if outcome == "succeeded":
            event_type, obj = (
                "charge.refunded",
                {
                    "id": obj["charge"],
                    "object": "charge",
                    "amount": order["amount"],
                    "amount_refunded": refund["amount"],
                    "currency": obj["currency"],
                    # The PaymentIntent's metadata, which Stripe copies onto the charge it makes.
                    "metadata": {} if outside else {"merchant_order_no": order["merchant_order_no"]},
                    "payment_intent": obj["payment_intent"],
                    "refunded": refund["amount"] == order["amount"],
                    "refunds": {"object": "list", "data": [obj], "has_more": False, "url": "/v1/refunds"},
                },
            )
        event = {
            "id": "evt_" + hashlib.sha256(f"{seed}:{outcome}".encode()).hexdigest()[:24],
            "object": "event",
            "api_version": "2019-12-03" if event_type == "charge.refunded" else "2024-06-20",
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "type": event_type,
        }
        return signed_event(json.dumps(event, indent=2).encode(), WEBHOOK_SECRET)

    def known_answers(self) -> Sequence[KnownAnswer]:
        body = succeeded_event("pi_3MtwBwLkdIwHu7ix28a3tqPa", "20261125225309a14ebec474a1", 2856, "USD")
        genuine = signed_event(body, DOCS_SECRET, KNOWN_AT)
        header = genuine.headers["Stripe-Signature"]
        one_off = header[:-1] + ("0" if header[-1] != "0" else "1")
        broken = HttpRequest(genuine.method, genuine.query, {**genuine.headers, "Stripe-Signature": one_off}, body)
        settings = {"STRIPE_WEBHOOK_SECRET": DOCS_SECRET}
        signed = datetime.fromtimestamp(KNOWN_AT, UTC)
        return [
            KnownAnswer("payment_intent.succeeded, signed by Stripe's documented recipe", settings, genuine, at=signed),
            KnownAnswer("the same, last hex digit of v1 changed", settings, broken, valid=False, at=signed),
            KnownAnswer("the genuine one, 6 minutes later", settings, genuine, valid=False, at=signed + 6 * MINUTE),
        ]


def _payment_intent(order: Mapping[str, Any]) -> str:
    # An order the gateway never created has no PaymentIntent: make one up, stable per order.
    return (
        order.get("provider_order_id") or "pi_" + hashlib.sha256(order["merchant_order_no"].encode()).hexdigest()[:24]
    )
