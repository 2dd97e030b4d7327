"""Bearer API keys for /v1 (GATEWAY_API_KEYS). Unset means open, which only the sandbox allows.

Failed keys are counted per client address (gateway.web.lockout): past the limit, every
request from that address is a 429 until its window moves on."""

from __future__ import annotations

import hmac

from flask import request

from gateway.web import lockout
from gateway.web.errors import ApiError


def require_api_key(keys: list[str]) -> None:
    if not keys:
        return
    failures = lockout.lockout(lockout.API_KEY)
    wait = failures.retry_after()
    if wait is not None:
        raise lockout.refused(wait)
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        failures.failed()
        raise ApiError(401, "unauthorized", "Send 'Authorization: Bearer <API key>'.")
    presented_bytes = presented.strip().encode()
    # Compare against every key, without stopping early, so timing says nothing about which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented_bytes, key.encode())
    if not matched:
        failures.failed()
        raise ApiError(401, "unauthorized", "The API key is not valid.")
