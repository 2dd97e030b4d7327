"""IOTPay v1 MD5 request/notify signatures (docs/providers/iotpay.md#signing).

Kept free of I/O and of the rest of the plugin so the exact byte string that gets
hashed can be pinned by known answers computed outside this project.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGN_FIELD = "sign"


def _text(name: str, value: object) -> str:
    # bool is an int subclass; IOTPay has no boolean fields, so a bool here is a bug upstream.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"IOTPay parameter {name!r} must be str or int, not {type(value).__name__}")
    return str(value)


def canonical_string(params: Mapping[str, object], key: str) -> str:
    """The exact text IOTPay hashes: non-empty params but `sign`, sorted by name, raw values."""
    pairs = []
    for name in sorted(params):
        value = params[name]
        if name == SIGN_FIELD or value is None:
            continue
        text = _text(name, value)
        if text == "":
            continue
        pairs.append(f"{name}={text}")
    pairs.append(f"key={key}")
    return "&".join(pairs)


def sign(params: Mapping[str, object], key: str) -> str:
    """Upper-case hex MD5 of the canonical string."""
    return hashlib.md5(canonical_string(params, key).encode("utf-8")).hexdigest().upper()


def is_valid(params: Mapping[str, object], key: str) -> bool:
    """True when `params["sign"]` matches a signature over every other received field.

    Compared in constant time; the received hex is accepted in either case (XxPay does).
    """
    received = params.get(SIGN_FIELD)
    if not isinstance(received, str) or not received:
        return False
    try:
        expected = sign(params, key)
    except TypeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), received.upper().encode("utf-8", "replace"))
