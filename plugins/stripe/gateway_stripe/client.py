"""HTTP transport to Stripe's API: form-encoded requests, JSON answers, Stripe's error shape.

Sent through the core's `ProviderHttp` (one pooled session, a time-out on every call, TLS
verification on, no automatic retries), with Bearer auth by the secret key. Every POST carries
an `Idempotency-Key` chosen by the caller, so the gateway's own retries (reconciliation) are
safe at Stripe's side.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from marshmallow import ValidationError

from gateway.plugin import (
    NotFound,
    OutcomeUnknown,
    ProviderHttp,
    ProviderMisconfigured,
    Refused,
    Timeouts,
)
from gateway_stripe import schemas

log = logging.getLogger(__name__)

# Pinned so the objects we parse keep the shape we tested, whatever the account's default version.
API_VERSION = "2024-06-20"
# 409: the same Idempotency-Key is still being processed. 424: a dependency of Stripe's failed.
# 429: rate limited. With these (and 5xx) the request may or may not have taken effect.
INDEFINITE_STATUSES = frozenset({409, 424, 429})


def form_pairs(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's bracket notation: {"metadata": {"a": "1"}, "types": ["card"]} -> metadata[a]=1, types[]=card."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        key = f"{prefix}[{name}]" if prefix else str(name)
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs += form_pairs(value, key)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            pairs += [(f"{key}[]", _scalar(item)) for item in value]
        else:
            pairs.append((key, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    raise TypeError(f"cannot form-encode {type(value).__name__} for Stripe")


class StripeClient:
    def __init__(self, api_url: str, secret_key: str, timeout: float, session: requests.Session | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.http = ProviderHttp("Stripe", "gateway-stripe/1", Timeouts.reading(timeout), session=session)
        self._secret_key = secret_key
        self._auth = {"Authorization": f"Bearer {secret_key}", "Stripe-Version": API_VERSION}

    def __repr__(self) -> str:
        return f"StripeClient(api_url={self.api_url!r})"

    def post(self, path: str, params: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """POST form-encoded `params`; the same key with the same params gets Stripe's first answer again."""
        headers = {**self._auth, "Idempotency-Key": idempotency_key}
        return self._send("POST", path, headers=headers, data=form_pairs(params))

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._send("GET", path, headers=self._auth, params=form_pairs(params or {}))

    def close(self) -> None:
        self.http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        what = f"{method} {path}"
        response = self.http.request(method, f"{self.api_url}{path}", what=what, **kwargs)
        if response.headers.get("Idempotent-Replayed") == "true":
            log.info("Stripe %s: answer replayed for a repeated Idempotency-Key", what)
        return _answer(what, response, self._secret_key)


def _answer(what: str, response: requests.Response, secret_key: str) -> dict[str, Any]:
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        data = None
    request_id = response.headers.get("Request-Id", "-")
    if 200 <= status < 300:
        if not isinstance(data, dict):
            log.warning("Stripe %s answered %s with something that is not a JSON object", what, status)
            raise OutcomeUnknown("invalid_response", "Stripe's answer is not a JSON object")
        return data
    try:
        error = schemas.loaded(schemas.Error(), data)["error"]
    except ValidationError:  # not Stripe's error shape: a proxy's page, an empty body
        log.warning("Stripe %s answered HTTP %s without a Stripe error (request %s)", what, status, request_id)
        raise OutcomeUnknown(f"http_{status}", f"Stripe answered HTTP {status}") from None
    # Stripe's words reach the log, the merchant and the record: an error that quotes the key back must not.
    code = (error["code"] or error["type"]).replace(secret_key, "[secret key]")
    message = (error["message"] or f"Stripe answered HTTP {status}").replace(secret_key, "[secret key]")
    log.warning("Stripe %s answered HTTP %s %s (request %s)", what, status, code, request_id)
    if status in (401, 403):  # the key itself is refused or lacks a permission: every call fails alike
        raise ProviderMisconfigured(code, message)
    if status == 404:  # the object asked for does not exist (for a query: no such order or refund)
        raise NotFound(code, message)
    if 400 <= status < 500 and status not in INDEFINITE_STATUSES:  # nothing happened
        raise Refused(code, message)
    raise OutcomeUnknown(code, message)
