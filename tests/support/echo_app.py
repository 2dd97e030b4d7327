"""A WSGI app that answers with what it was given, for tests of the RSGI bridge (gateway/ops/rsgi_bridge.py):
granian serves it with `--factory tests.support.echo_app:rsgi_app`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from gateway.ops.client_limits import ClientLimits
from gateway.ops.rsgi_bridge import WSGIOverRSGI, threads_from_environ

STREAMED_CHUNKS = 64
CHUNK = b"x" * 8192  # 64 x 8 KiB: past the size the bridge sends whole, so it streams


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    if environ["PATH_INFO"] == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _chunks()
    if environ["PATH_INFO"] == "/fail":
        raise RuntimeError("the app failed")
    body = environ["wsgi.input"].read()
    seen = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"],
        "remote": environ["REMOTE_ADDR"],
        "length": environ.get("CONTENT_LENGTH"),
        "type": environ.get("CONTENT_TYPE"),
        "x_repeated": environ.get("HTTP_X_REPEATED"),
        "body": body.decode("latin-1"),
    }
    answer = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]


def _chunks() -> Iterator[bytes]:
    for _ in range(STREAMED_CHUNKS):
        yield CHUNK


def rsgi_app() -> WSGIOverRSGI:
    return WSGIOverRSGI(app, threads=threads_from_environ(), limits=ClientLimits.from_environ())
