"""A merchant's receiver for the gateway's webhooks: verify, dedupe by event id, then answer 2xx.

Standard library only, so it can be copied into any Python backend. tests/test_docs_examples.py
runs it against webhooks that the gateway's worker really signs and delivers.

Run it on its own:  GATEWAY_WEBHOOK_SECRET=whsec_... python docs/examples/webhook_receiver.py 9000
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

TOLERANCE = 300  # seconds: refuse a signature older or newer than this (a replayed request)
MAX_BODY = 1024 * 1024


def verify(secret: str, header: str, body: bytes, tolerance: int = TOLERANCE, now: float | None = None) -> bool:
    """Whether `header` (Gateway-Signature: t=<unix seconds>,v1=<hex>) signs exactly `body`.

    The HMAC-SHA256 is over "<t>." followed by the raw body bytes, never re-serialized JSON.
    Several v1 entries may be present (the sender may sign with an old and a new secret); any one
    matching is enough. Anything malformed is simply not valid: this never raises.
    """
    timestamps, signatures = [], []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not signatures:
        return False
    t = timestamps[0]
    # At most 12 digits: a longer "timestamp" would overflow the float comparison below, and is never genuine.
    if not (t.isascii() and t.isdigit() and len(t) <= 12):
        return False
    if abs((time.time() if now is None else now) - int(t)) > tolerance:
        return False
    expected = hmac.new(secret.encode("utf-8"), f"{t}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    matches = [hmac.compare_digest(expected.encode(), v.encode("utf-8", "replace")) for v in signatures]
    return any(matches)


Handler = Callable[[dict[str, Any]], None]


class WebhookReceiver:
    """A WSGI app for POST /webhooks. `handle(event)` runs once per event id.

    Delivery is at least once, so the same event can arrive again: the id is what dedupes it.
    This keeps seen ids in memory; a real backend records them in its database, in the same
    transaction as whatever `handle` changes.
    """

    def __init__(self, secret: str, handle: Handler) -> None:
        self.secret = secret
        self.handle = handle
        self.seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status, text = self.receive(environ)
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [text.encode()]

    def receive(self, environ: dict[str, Any]) -> tuple[str, str]:
        if environ.get("REQUEST_METHOD") != "POST":
            return "405 Method Not Allowed", "POST only"
        length = environ.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            return "413 Content Too Large", "body too large"
        body = environ["wsgi.input"].read(int(length))  # the raw bytes: the signature covers exactly these
        if not verify(self.secret, environ.get("HTTP_GATEWAY_SIGNATURE", ""), body):
            return "400 Bad Request", "bad signature"
        event = json.loads(body)
        with self._lock:  # one at a time per id; a database would use a unique constraint instead
            if event["id"] in self.seen:
                return "200 OK", "duplicate"
            self.handle(event)  # an exception here answers 500, and the gateway retries later
            self.seen.add(event["id"])
        return "200 OK", "ok"


def print_event(event: dict[str, Any]) -> None:
    print(event["type"], event["id"], json.dumps(event["data"])[:200], flush=True)


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    receiver = WebhookReceiver(os.environ["GATEWAY_WEBHOOK_SECRET"], print_event)
    make_server("127.0.0.1", port, receiver).serve_forever()
