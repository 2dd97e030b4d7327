"""Example Pay's signature: hex HMAC-SHA256 of the raw body, keyed by the shared secret.

Always over the bytes as sent or received: JSON re-serialised by anyone (spacing, key order,
escapes) is other bytes, and its signature another.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Example-Signature"


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid(secret: str, body: bytes, signature: str) -> bool:
    """Compared in constant time, so the time taken says nothing about how much of it matched."""
    return hmac.compare_digest(sign(secret, body).encode(), signature.encode())
