"""Example Pay's harness for the gateway's conformance kit (`gateway.testing`).

The kit drives the real gateway against the simulator (sandbox/app.py), served on a loopback
port. Notifications are built here from Example Pay's documented format, not by the provider's
code, so a provider that reads them wrongly fails.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import requests

from gateway.testing import HttpRequest, KnownAnswer, ProviderAnswer, ProviderHarness
from gateway.testing.live import LiveServer
from gateway_example_provider.sandbox import ExampleSimulator
from gateway_example_provider.sandbox.app import DECIMALS
from gateway_example_provider.signing import sign

SIGNATURE_HEADER = "X-Example-Signature"  # Example Pay's documented header, spelled out: not the plugin's constant
SECRET = "whsec_harness_5d1e0c7a9b3f"

# Computed outside this package, once, and written down:
#   printf '%s' "$KNOWN_BODY" | openssl dgst -sha256 -hmac whsec_known_answer_0001
KNOWN_SECRET = "whsec_known_answer_0001"
KNOWN_BODY = (
    b'{"event":"evt_0001","id":"pay_0001","reference":"KA-0001","amount":"12.50","currency":"USD","status":"paid"}'
)
KNOWN_SIGNATURE = "69a43aa6c173a39dd4ab2f5ae7a504e72081d86c462ce70641c784368446bae7"


class ExampleHarness(ProviderHarness):
    provider_name = "example"
    display_name = "Example Pay"  # what its own pages call it
    plugin_name = "example"  # the entry point's name in pyproject.toml (the kit disables every other plugin)
    channel = "wallet"
    currency = "USD"
    amount = 1250
    required_settings = ("EXAMPLE_SECRET", "EXAMPLE_API_URL")
    api_url_setting = "EXAMPLE_API_URL"  # the simulator is served over plain http
    confirms_notifications = False  # a notification's HMAC-SHA256 signature decides
    # Example Pay's "busy, try again": a 503 in its own error format (its client reads any 5xx as unclear).
    busy_answers = (ProviderAnswer(503, '{"error":{"code":"busy","message":"Example Pay is busy, try again"}}'),)
    accepted_reply = ProviderAnswer(200, "ok", "text/plain")  # Example Pay re-sends until a 200 "ok"
    # 4xx with Example Pay's error object: a call turned down, nothing done.
    refusal_answers = (ProviderAnswer(400, '{"error":{"code":"invalid_request","message":"amount is not valid"}}'),)
    # 401: Example Pay refused the gateway's own signature (its secret is wrong): every call fails alike.
    misconfiguration_answers = (ProviderAnswer(401, '{"error":{"code":"bad_signature","message":"bad signature"}}'),)
    # A payment's states, in a query's answer and in a notification: "failed" is a declined attempt (the payer
    # may try again), "cancelled" is for good.
    query_states = MappingProxyType(
        {"status": MappingProxyType({"pending": "pending", "paid": "paid", "failed": "pending", "cancelled": "closed"})}
    )
    notification_states = query_states
    refund_states = MappingProxyType(
        {"status": MappingProxyType({"succeeded": "succeeded", "pending": "pending", "failed": "failed"})}
    )
    queries_find_orders_by_reference = True  # query_order asks by the order's reference
    largest_notified_amount = 2**63 - 1  # the most a record holds: more is malformed, not an amount
    smallest_amount = 1  # 0.01 USD: Example Pay takes any amount above zero
    smallest_notified_amount = 1  # a notification of 0 is no payment: malformed

    def __init__(self, state_dir: Path, secret: str = SECRET, account: str = "example") -> None:
        """An Example Pay account is its secret: `account` names this one's simulator state file."""
        self.state_dir, self.secret = state_dir, secret
        self.state_path = state_dir / f"{account}-simulator.sqlite3"
        self.others: list[ExampleHarness] = []  # accounts started by this harness, stopped with it

    def start(self) -> None:
        self.simulator = ExampleSimulator(self.secret, str(self.state_path), retry_delays=(0.05, 0.1, 0.2))
        self.server = LiveServer(self.simulator)
        self.url = self.server.url

    def stop(self) -> None:
        for other in self.others:
            other.stop()
        self.server.stop()
        self.simulator.close()

    def settings(self, public_url: str) -> Mapping[str, str]:
        return {"EXAMPLE_SECRET": self.secret, "EXAMPLE_API_URL": self.url}

    def timeout_settings(self, seconds: float) -> Mapping[str, str]:
        return {"EXAMPLE_TIMEOUT": str(seconds)}

    def secrets(self) -> Sequence[str]:
        return [self.secret]

    def second_account(self) -> ExampleHarness:
        """Another Example Pay account: another secret, with a simulator of its own (started here)."""
        second = ExampleHarness(self.state_dir, f"{self.secret}_second", account=f"example-{len(self.others) + 2}")
        second.start()
        self.others.append(second)
        return second

    # -- notifications, as Example Pay sends them --

    def paid_notification(
        self, order: Mapping[str, Any], *, amount: int | None = None, currency: str | None = None
    ) -> HttpRequest:
        return event(order, "paid", amount=amount, currency=currency, secret=self.secret)

    def unpaid_notification(self, order: Mapping[str, Any]) -> HttpRequest:
        return event(order, "failed", secret=self.secret)  # the payment was declined; the payer may try again

    def event_id(self, request: HttpRequest) -> str | None:
        event_id: str = json.loads(request.body)["event"]
        return event_id

    def tamper(self, request: HttpRequest) -> HttpRequest:
        body = json.loads(request.body)
        body["amount"] = str(Decimal(body["amount"]) + 1)
        return HttpRequest(request.method, request.query, request.headers, json.dumps(body).encode())

    def signed_notification(self, request: HttpRequest) -> HttpRequest:
        return HttpRequest(
            request.method,
            request.query,
            {**request.headers, SIGNATURE_HEADER: sign(self.secret, request.body)},
            request.body,
        )

    def unsigned(self, request: HttpRequest) -> HttpRequest:
        headers = {name: value for name, value in request.headers.items() if name != SIGNATURE_HEADER}
        return HttpRequest(request.method, request.query, headers, request.body)

    def known_answers(self) -> Sequence[KnownAnswer]:
        settings = {"EXAMPLE_SECRET": KNOWN_SECRET}  # laid over settings()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: KNOWN_SIGNATURE}
        return [
            KnownAnswer("openssl HMAC-SHA256", settings, HttpRequest(headers=headers, body=KNOWN_BODY)),
            KnownAnswer(
                "a body changed after signing",
                settings,
                HttpRequest(headers=headers, body=KNOWN_BODY.replace(b"12.50", b"12.51")),
                valid=False,
            ),
        ]

    # -- the simulator's side --

    def delay_next(self, operation: str, seconds: float) -> None:
        self.simulator.fault_next(operation, "delay", seconds)  # it carries the call out, then answers late

    def fail_next(self, operation: str) -> None:
        self.simulator.fault_next(operation, "refuse")

    def garble_next(self, operation: str, reply: str) -> None:
        self.simulator.fault_next(operation, reply)

    def misdirect_next_query(self, order: Mapping[str, Any], other: Mapping[str, Any]) -> None:
        self.simulator.fault_next("query_order", "misdirect", other["merchant_order_no"])

    def pend_next_refund(self) -> None:
        self.simulator.fault_next("refund", "pending")

    def settle_pending_refunds(self, order: Mapping[str, Any], status: str) -> None:
        for refund in self.payment(order)["refunds"]:
            if refund["status"] == "pending":
                response = requests.post(f"{self.url}/refunds/{refund['id']}", json={"status": status}, timeout=5)
                assert response.status_code == 200, response.text

    def pay(self, order: Mapping[str, Any]) -> None:
        # The simulator refunds only payments it has seen paid; it then also sends its own notification.
        self._control("/pay", payer_pays(order))

    def pay_without_notifying(self, order: Mapping[str, Any]) -> None:
        self._control("/pay", {**payer_pays(order), "notify": False})

    def close(self, order: Mapping[str, Any]) -> None:
        self._control("/cancel", {"id": order["provider_order_id"]})

    def refunded_amount(self, order: Mapping[str, Any]) -> int:
        return minor_units(self.payment(order)["refunded"], order["currency"])

    def refunds_at_provider(self, order: Mapping[str, Any]) -> Mapping[str, int]:
        refunds = self.payment(order)["refunds"]
        return {
            refund["id"]: minor_units(refund["amount"], order["currency"])
            for refund in refunds
            if refund["status"] != "failed"
        }

    def payment(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """The payment as the simulator sees it: `status`, `refunded` (decimal text), `refunds`, `notified` ..."""
        response = requests.get(f"{self.url}/payments/{order['provider_order_id']}", timeout=5)
        assert response.status_code == 200, response.text
        payment: dict[str, Any] = response.json()
        return payment

    def _control(self, path: str, body: Mapping[str, Any]) -> None:
        response = requests.post(f"{self.url}{path}", json=body, timeout=5)
        assert response.status_code == 202, response.text


def payer_pays(order: Mapping[str, Any]) -> dict[str, str]:
    """The payment the payer pays: the one in the pay_params the checkout was handed (the payer has
    nothing else); for an order whose create answer was lost, the one a query found, or, before any
    query found it, the one with the order's reference."""
    pay_params = order.get("pay_params")
    if pay_params:
        return {"id": pay_params["payment_id"]}
    if order.get("provider_order_id"):
        return {"id": order["provider_order_id"]}
    return {"reference": order["merchant_order_no"]}


def event(
    order: Mapping[str, Any],
    status: str,
    *,
    amount: int | None = None,
    currency: str | None = None,
    secret: str = SECRET,
) -> HttpRequest:
    """A signed Example Pay notification about `order` (the gateway's order JSON), signed with `secret`."""
    currency = currency or order["currency"]
    body = {
        "event": f"evt_{uuid.uuid4().hex}",
        "id": order["provider_order_id"],
        "reference": order["merchant_order_no"],
        "amount": decimal_text(order["amount"] if amount is None else amount, currency),
        "currency": currency,
        "status": status,
    }
    raw = json.dumps(body).encode()
    return HttpRequest(headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw)}, body=raw)


def decimal_text(minor: int, currency: str) -> str:
    """Minor units as Example Pay writes them, by ISO 4217's decimals (not the provider's declaration)."""
    return str(Decimal(minor).scaleb(-DECIMALS.get(currency, 2)))


def minor_units(text: str, currency: str) -> int:
    return int(Decimal(text).scaleb(DECIMALS[currency]))
