"""Provider answers the kit garbles itself: an HTML 404 or 500 page, a `200` that is not JSON or is `{}`,
the provider's own answer with a 5xx or 3xx status.

The kit does not need the harness for these: while `garbled_answers` is active, every answer the
provider's client receives over `requests` (any host but the gateway under test) is replaced,
after the simulator has acted on the call, by the reply asked for. What the provider then knows
is what it would know behind a broken proxy: nothing about the outcome.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import requests
from requests.adapters import HTTPAdapter

HTML_PAGE = b"<!DOCTYPE html><html><head><title>%d</title></head><body><h1>%d %s</h1><hr>nginx</body></html>"

# reply kind: (HTTP status, reason, content type, body)
REPLIES: dict[str, tuple[int, str, str, bytes]] = {
    "html_404": (404, "Not Found", "text/html", HTML_PAGE % (404, 404, b"Not Found")),
    "html_500": (500, "Internal Server Error", "text/html", HTML_PAGE % (500, 500, b"Internal Server Error")),
    "not_json_200": (200, "OK", "application/json", b"OK<br>upstream answered"),
    "empty_json_200": (200, "OK", "application/json", b"{}"),  # JSON, but none of the answer's fields
}


# The provider's own answer with its status changed to the one named: whatever a 5xx or a 3xx carries,
# it says nothing sure (a 3xx is no answer of the provider's API, whatever its body).
SAME_BODY = "same_body_"
SAME_BODY_503 = f"{SAME_BODY}503"
REDIRECT_STATUSES = (300, 301, 302, 303, 307, 308)
# The provider's own JSON answer with a field it may add any day: the answer must still be read.
EXTRA_FIELD = "extra_field"


def garbled(
    request: requests.PreparedRequest, reply: str, answer: requests.Response | None = None
) -> requests.Response:
    if reply.startswith(SAME_BODY) and answer is not None:
        changed = HTTPStatus(int(reply.removeprefix(SAME_BODY)))
        answer.status_code, answer.reason = changed.value, changed.phrase
        return answer
    if reply == EXTRA_FIELD and answer is not None:
        try:
            body = answer.json()
        except ValueError:
            return answer
        if isinstance(body, dict):
            answer._content = json.dumps({**body, "added_by_a_later_api_version": {"any": ["thing"]}}).encode()
        return answer
    status, reason, content_type, body = REPLIES[reply]
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    response.headers["Content-Type"] = content_type
    response._content = body
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response


@contextmanager
def garbled_answers(reply: str, *, spare: str) -> Iterator[list[str]]:
    """Every provider call made meanwhile gets `reply` instead of its answer; yields the URLs garbled.

    Calls to `spare` (the gateway's own URL) are left alone.
    """
    original = HTTPAdapter.send
    garbled_urls: list[str] = []

    def send(adapter: HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        answer = original(adapter, request, *args, **kwargs)  # the provider acted: only its answer is lost
        if (request.url or "").startswith(spare):
            return answer
        garbled_urls.append(request.url or "")
        return garbled(request, reply, answer)

    HTTPAdapter.send = send  # type: ignore[method-assign,assignment]
    try:
        yield garbled_urls
    finally:
        HTTPAdapter.send = original  # type: ignore[method-assign]
