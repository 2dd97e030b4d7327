"""Bearer API keys for /v1: GATEWAY_API_KEYS (the default merchant's) and merchants' stored keys.

Unset GATEWAY_API_KEYS with no key presented means open, as the default merchant, which only the
sandbox allows. A stored key makes its merchant the caller, limited to its scopes. Failed keys are
counted per client address (gateway.web.lockout): past the limit, every request from that address
is a 429 until its window moves on."""

from __future__ import annotations

import hmac

from flask import g, request

from gateway.domain.core import Gateway
from gateway.domain.merchants import ENVIRONMENT_CALLER, Caller, authenticate
from gateway.web import lockout
from gateway.web.errors import ApiError


def require_api_key(keys: list[str], gateway: Gateway | None = None) -> Caller:
    """The caller, also kept as `flask.g.caller`; 401 when no valid key is presented where one is needed."""
    header = request.headers.get("Authorization", "")
    if not keys and not header:
        g.caller = ENVIRONMENT_CALLER
        return ENVIRONMENT_CALLER
    failures = lockout.lockout(lockout.API_KEY)
    wait = failures.retry_after()
    if wait is not None:
        raise lockout.refused(wait)
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        failures.failed()
        raise ApiError(401, "unauthorized", "Send 'Authorization: Bearer <API key>'.")
    presented_bytes = presented.strip().encode()
    # Compare against every key, without stopping early, so timing says nothing about which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented_bytes, key.encode())
    caller: Caller | None = ENVIRONMENT_CALLER if matched else None
    if caller is None and gateway is not None:
        caller = authenticate(gateway, presented.strip())
    if caller is None:
        failures.failed()
        raise ApiError(401, "unauthorized", "The API key is not valid.")
    g.caller = caller
    return caller


def current_caller() -> Caller:
    caller: Caller = g.caller
    return caller


def require_scope(scope: str) -> Caller:
    caller = current_caller()
    if scope not in caller.scopes:
        raise ApiError(403, "insufficient_scope", f"This API key lacks the scope {scope!r}.")
    return caller
