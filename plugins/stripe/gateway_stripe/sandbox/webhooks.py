"""The Stripe simulator's webhook sender: signed event deliveries, retried until a 2xx arrives.

Each delivery runs in a background thread (the webhook URL may be the gateway served by this very
process) and each attempt is signed afresh, with the current time, as Stripe does.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import requests

from gateway_stripe import signing
from gateway_stripe.sandbox.store import Json, SimulatorStore

log = logging.getLogger(__name__)


class WebhookSender:
    def __init__(
        self, secret: str, url: str, store: SimulatorStore, retry_delays: Sequence[float], timeout: float
    ) -> None:
        self._secret = secret
        self.url = url  # Stripe's dashboard setting for the endpoint; tests may point it elsewhere
        self.store = store
        self._retry_delays = tuple(retry_delays)
        self._timeout = timeout
        self._stopping = threading.Event()
        self._deliveries: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def send(self, event: Json) -> None:
        thread = threading.Thread(
            target=self._deliver, args=(event,), name=f"stripe-webhook-{event['id']}", daemon=True
        )
        with self._lock:
            self._deliveries = {t for t in self._deliveries if t.is_alive()} | {thread}
        thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop retrying and wait for deliveries in flight (tests, orderly shutdown)."""
        self._stopping.set()
        with self._lock:
            threads = list(self._deliveries)
        for thread in threads:
            thread.join(timeout)

    def _deliver(self, event: Json) -> None:
        body = json.dumps(event, indent=2).encode()  # Stripe pretty-prints its event bodies
        try:
            with requests.Session() as session:
                for delay in (0.0, *self._retry_delays):
                    if self._stopping.wait(delay):
                        return
                    if self._attempt(session, event["id"], body):
                        return
            log.warning("Stripe simulator gave up delivering %s to %s", event["id"], self.url)
        except Exception:  # a background thread has nobody to raise to
            log.exception("Stripe simulator delivery of %s crashed", event["id"])

    def _attempt(self, session: requests.Session, event_id: str, body: bytes) -> bool:
        """One signed POST; True on any 2xx, which is all Stripe asks for."""
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signing.header(self._secret, body),
        }
        try:
            response = session.post(self.url, data=body, headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            self.store.record_attempt(event_id, at, None, f"{type(exc).__name__}: {exc}"[:200])
            return False
        self.store.record_attempt(event_id, at, response.status_code, None)
        return 200 <= response.status_code < 300
