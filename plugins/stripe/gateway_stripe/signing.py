"""Stripe's webhook signature scheme (docs.stripe.com/webhooks#verify-manually).

    Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=<hex>]

Each v1 is hex(HMAC-SHA256(key=the endpoint's signing secret, message=f"{t}." + raw body)).
Several v1 entries appear while a signing secret is being rolled (one per active secret), and
any one matching is enough. Other schemes (v0) are ignored. A timestamp more than `TOLERANCE`
seconds away from now is refused, so a captured request cannot be replayed later; Stripe signs
every delivery attempt afresh, so its own retries always carry a current timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"
TOLERANCE = 300  # seconds; Stripe's libraries default to five minutes
HEADER = "stripe-signature"  # InboundRequest headers are lower-cased


class SignatureError(Exception):
    """The signature header is missing, malformed, wrong or too old; the message says which."""


def compute(secret: str, timestamp: int, body: bytes) -> str:
    signed_payload = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest()


def header(secrets: str | list[str], body: bytes, timestamp: int | None = None) -> str:
    """A Stripe-Signature value for `body`: one v1 per secret (the simulator, and tests, sign with this)."""
    at = int(time.time()) if timestamp is None else timestamp
    chosen = [secrets] if isinstance(secrets, str) else secrets
    return ",".join([f"t={at}", *(f"{SCHEME}={compute(secret, at, body)}" for secret in chosen)])


def verify(value: str | None, body: bytes, secret: str, *, now: float | None = None, tolerance: int = TOLERANCE) -> int:
    """Check `value` (the header) against `body`; return its timestamp, or raise SignatureError."""
    if not value or not value.strip():
        raise SignatureError("no Stripe-Signature header")
    timestamp, signatures = _parse(value)
    expected = compute(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError(f"none of the {len(signatures)} v1 signature(s) matches the body")
    drift = abs((time.time() if now is None else now) - timestamp)
    if drift > tolerance:
        raise SignatureError(f"timestamp is {int(drift)}s away from now (tolerance {tolerance}s)")
    return timestamp


def _parse(value: str) -> tuple[int, list[str]]:
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in value.split(","):
        name, sep, text = item.strip().partition("=")
        if not sep:
            raise SignatureError("Stripe-Signature is not a list of name=value items")
        if name == "t":
            timestamps.append(text.strip())
        elif name == SCHEME:
            # Compared as ASCII text: anything else cannot be one of our hex digests anyway.
            signatures.append(text.strip() if text.strip().isascii() else "")
    if len(timestamps) != 1 or not (timestamps[0].isascii() and timestamps[0].isdigit()) or len(timestamps[0]) > 12:
        raise SignatureError("Stripe-Signature needs exactly one numeric t= timestamp")
    if not signatures:
        raise SignatureError("Stripe-Signature has no v1 signature")
    return int(timestamps[0]), signatures
