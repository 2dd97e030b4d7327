"""HTTP transport to IOTPay v1 (docs/providers/iotpay.md#transport): `params=<json>` forms, JSON answers.

Sent through the core's `ProviderHttp`: one pooled session, a time-out on every call, TLS
verification on, and no automatic retries (create and refund are not idempotent at IOTPay's side).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests

from gateway.plugin import OutcomeUnknown, ProviderHttp, Timeouts

log = logging.getLogger(__name__)

_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class IotPayClient:
    def __init__(self, api_url: str, timeout: float, session: requests.Session | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.http = ProviderHttp("IOTPay", "gateway-iotpay/1", Timeouts.reading(timeout), session=session)

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """POST signed `params` to `{api}/{operation}` and return the JSON object it answers."""
        url = f"{self.api_url}/{operation}"
        # URL-encoded, so '&', '+' and '%' in a subject survive: the bytes requests makes of the form
        # {"params": ...}, made here because requests' checks of a dict (typing protocols) cost more.
        form = urlencode({"params": json.dumps(params, ensure_ascii=False, separators=(",", ":"))}).encode("ascii")
        return _json_object(operation, self.http.post(url, what=operation, data=form, headers=_FORM))

    def close(self) -> None:
        self.http.close()


def _json_object(operation: str, response: requests.Response) -> dict[str, Any]:
    if response.status_code != 200:
        log.warning("IOTPay %s answered HTTP %s", operation, response.status_code)
        raise OutcomeUnknown(f"HTTP_{response.status_code}", f"IOTPay answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        log.warning(
            "IOTPay %s answered something that is not a JSON object (%s)",
            operation,
            response.headers.get("content-type"),
        )
        raise OutcomeUnknown("INVALID_RESPONSE", "IOTPay's answer is not a JSON object")
    return data
