"""The provider's calls on the wire, seen and changed by the kit without the harness's help.

While `intercepted` is active, every request the provider's client sends over `requests` (to any
host but the gateway under test) goes through a function of the kit's, which may let it reach the
simulator and change what comes back: lose the answer after the simulator acted, put the provider's
own busy answer in its place, or rewrite the addresses in it. `fields_of` reads what a request
carried, as a provider would parse it (query string, form or JSON body).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import HTTPAdapter

# (index of the call while intercepting, the request, the real send) -> the answer the provider gets
Change = Callable[[int, requests.PreparedRequest, Callable[[], requests.Response]], requests.Response]


@dataclass(frozen=True)
class Sent:
    """One request the provider sent, as it went out."""

    method: str
    url: str
    body: bytes

    @property
    def text(self) -> str:
        return self.url + "\n" + self.body.decode("utf-8", "replace")


@contextmanager
def intercepted(change: Change, *, spare: str) -> Iterator[list[Sent]]:
    """Every provider call made meanwhile goes through `change`; yields the calls, in order.

    Calls to `spare` (the gateway's own URL) are left alone.
    """
    original = HTTPAdapter.send
    sent: list[Sent] = []

    def send(adapter: HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if (request.url or "").startswith(spare):
            return original(adapter, request, *args, **kwargs)
        raw = request.body
        body = raw if isinstance(raw, bytes) else raw.encode() if isinstance(raw, str) else b""
        sent.append(Sent(request.method or "", request.url or "", body))
        return change(len(sent) - 1, request, lambda: original(adapter, request, *args, **kwargs))

    HTTPAdapter.send = send  # type: ignore[method-assign,assignment]
    try:
        yield sent
    finally:
        HTTPAdapter.send = original  # type: ignore[method-assign]


def answer(request: requests.PreparedRequest, status: int, body: bytes, content_type: str) -> requests.Response:
    """An answer built by the kit, as `requests` would have read it off the wire."""
    response = requests.Response()
    response.status_code = status
    response.reason = "Kit"
    response.headers["Content-Type"] = content_type
    response._content = body
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response


def fields_of(sent: Sent) -> list[tuple[str, str]]:
    """Every (name, value) the request carried: its query string, and its form or JSON body (nested
    JSON names joined with dots, a form value that is itself a JSON object read as one), as the
    provider's server would parse them."""
    found = parse_qsl(urlsplit(sent.url).query, keep_blank_values=True)
    try:
        found += _flattened(json.loads(sent.body), "")
    except ValueError:
        found += parse_qsl(sent.body.decode("utf-8", "replace"), keep_blank_values=True)
    return [pair for name, value in found for pair in _nested(name, value)]


def _nested(name: str, value: str) -> list[tuple[str, str]]:
    if value.startswith("{"):  # IOTPay's `params={...}`: a form field holding a JSON object
        try:
            return [(name, value), *_flattened(json.loads(value), name)]
        except ValueError:
            pass
    return [(name, value)]


def _flattened(value: Any, name: str) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in _flattened(item, f"{name}.{key}" if name else key)]
    if isinstance(value, list):
        return [pair for item in value for pair in _flattened(item, name)]
    return [(name, value if isinstance(value, str) else json.dumps(value))]
