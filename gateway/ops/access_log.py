"""The access line on servers that write none the gateway can use (granian: its own has no response
headers, so no request id): one line per request on the `gateway.access` logger, in the format
GATEWAY_LOG_FORMAT chose, with the same fields as gunicorn_conf.access_log_format.

    127.0.0.1 "POST /v1/orders" 201 512 12ms 3f2c...   (peer, method and path, status, bytes, time, X-Request-Id)

The path without its query string, as under gunicorn: access logs outlive the app's own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("gateway.access")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class AccessLog:
    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        answer: list[Any] = []

        def remember(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            answer[:] = [status, headers]
            return start_response(status, headers, *rest)

        try:
            return self.app(environ, remember)
        finally:
            status, headers = answer if answer else ("500", [])
            found = {name.lower(): value for name, value in headers if name.lower() in _WANTED}
            request_id = found.get("x-request-id")
            peer = environ.get("REMOTE_ADDR", "-")  # read now: ProxyFix (GATEWAY_TRUSTED_PROXIES) rewrites it in place
            log.info(
                '%s "%s %s" %s %s %dms %s',
                peer, method, path, status.split(" ", 1)[0], found.get("content-length", "-"),
                (time.perf_counter() - started) * 1000, request_id or "-",
                extra={"request_id": request_id} if request_id else None,  # the line's id in JSON, as gunicorn's
            )  # fmt: skip


_WANTED = frozenset({"content-length", "x-request-id"})
