"""Bearer API keys for /v1 (GATEWAY_API_KEYS). Unset means open, which start-up warns about."""

from __future__ import annotations

import hmac

from flask import request

from gateway.web.errors import ApiError


def require_api_key(keys: list[str]) -> None:
    if not keys:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise ApiError(401, "unauthorized", "Send 'Authorization: Bearer <API key>'.")
    presented_bytes = presented.strip().encode()
    # Compare against every key, without stopping early, so timing says nothing about which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented_bytes, key.encode())
    if not matched:
        raise ApiError(401, "unauthorized", "The API key is not valid.")
