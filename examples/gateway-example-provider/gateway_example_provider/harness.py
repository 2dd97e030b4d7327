"""Example Pay's harness for the gateway's conformance kit (`gateway.testing`).

The kit drives the real gateway against the simulator below, served on a loopback port.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, make_server

from gateway.testing import HttpRequest, KnownAnswer, ProviderHarness
from gateway_example_provider.provider import SIGNATURE_HEADER, sign
from gateway_example_provider.simulator import ExampleSimulator

SECRET = "whsec_harness_5d1e0c7a9b3f"

# Computed outside this package, once, and written down:
#   printf '%s' "$KNOWN_BODY" | openssl dgst -sha256 -hmac whsec_known_answer_0001
# (python -c 'import hashlib, hmac; ...' gives the same hex).
KNOWN_SECRET = "whsec_known_answer_0001"
KNOWN_BODY = (
    b'{"event":"evt_0001","id":"pay_0001","reference":"KA-0001","amount":1250,"currency":"EUR","status":"paid"}'
)
KNOWN_SIGNATURE = "77a0a30af214adb9a15dd37de46aa99d68c4e026241c3e9746be23ef278041b1"


class ExampleHarness(ProviderHarness):
    provider_name = "example"
    plugin_name = "example"  # the entry point's name in pyproject.toml (the kit disables every other plugin)
    channel = "wallet"
    currency = "EUR"
    amount = 1250

    def __init__(self, state_dir: Path) -> None:
        self.state_path = state_dir / "example-simulator.sqlite3"

    def start(self) -> None:
        self.simulator = ExampleSimulator(SECRET, str(self.state_path), retry_delays=(0.05, 0.1, 0.2))
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, self.simulator, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self.simulator.close()

    def settings(self, public_url: str) -> Mapping[str, str]:
        return {"EXAMPLE_SECRET": SECRET, "EXAMPLE_API_URL": self.url}

    def timeout_settings(self, seconds: float) -> Mapping[str, str]:
        return {"EXAMPLE_TIMEOUT": str(seconds)}

    def secrets(self) -> Sequence[str]:
        return [SECRET]

    def paid_notification(
        self, order: Mapping[str, Any], *, amount: int | None = None, currency: str | None = None
    ) -> HttpRequest:
        return _event(order, "paid", amount=amount, currency=currency)

    def unpaid_notification(self, order: Mapping[str, Any]) -> HttpRequest:
        return _event(order, "failed")  # the payer's payment was declined

    def tamper(self, request: HttpRequest) -> HttpRequest:
        event = json.loads(request.body)
        event["amount"] += 1
        return HttpRequest(request.method, request.query, request.headers, json.dumps(event).encode())

    def unsigned(self, request: HttpRequest) -> HttpRequest:
        headers = {name: value for name, value in request.headers.items() if name != SIGNATURE_HEADER}
        return HttpRequest(request.method, request.query, headers, request.body)

    def delay_next(self, operation: str, seconds: float) -> None:
        self.simulator.delay_next(operation, seconds)  # it sleeps, then carries the call out

    def fail_next(self, operation: str) -> None:
        self.simulator.fail_next(operation)

    def refunded_amount(self, order: Mapping[str, Any]) -> int:
        response = requests.get(f"{self.url}/payments/{order['provider_order_id']}", timeout=5)
        assert response.status_code == 200, response.text
        refunded: int = response.json()["refunded"]
        return refunded

    def pay(self, order: Mapping[str, Any]) -> None:
        # The simulator refunds only payments it has seen paid; it then also sends its own notification.
        response = requests.post(f"{self.url}/pay", json={"id": order["provider_order_id"]}, timeout=5)
        assert response.status_code == 202, response.text

    def known_answers(self) -> Sequence[KnownAnswer]:
        settings = {"EXAMPLE_SECRET": KNOWN_SECRET}  # laid over settings()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: KNOWN_SIGNATURE}
        return [
            KnownAnswer("openssl HMAC-SHA256", settings, HttpRequest(headers=headers, body=KNOWN_BODY)),
            KnownAnswer(
                "a body changed after signing",
                settings,
                HttpRequest(headers=headers, body=KNOWN_BODY.replace(b"1250", b"1251")),
                valid=False,
            ),
        ]


def _event(
    order: Mapping[str, Any], status: str, *, amount: int | None = None, currency: str | None = None
) -> HttpRequest:
    event = {
        "event": f"evt_{uuid.uuid4().hex}",
        "id": order["provider_order_id"],
        "reference": order["merchant_order_no"],
        "amount": order["amount"] if amount is None else amount,
        "currency": currency or order["currency"],
        "status": status,
    }
    return _signed(json.dumps(event).encode(), SECRET)


def _signed(body: bytes, secret: str) -> HttpRequest:
    return HttpRequest(headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}, body=body)
