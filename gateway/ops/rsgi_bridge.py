"""The gateway's WSGI app served over granian's RSGI interface, with the request body read on the event loop.

Why not granian's own WSGI interface: it calls the app as soon as the headers are in, and the app's
`wsgi.input.read()` then holds one of the worker's threads until the body arrives, with no time-out
(bench/README.md, "Which server"). Here the body is read first, on the worker's event loop, within
GATEWAY_CLIENT_BODY_TIMEOUT and with no read waiting longer than GATEWAY_CLIENT_IDLE_TIMEOUT; only a
complete request is handed to a thread. A client that trickles its body costs a coroutine, never a
thread, and is answered 408 at its deadline. One address has at most GATEWAY_CLIENT_CONNECTIONS of a
worker's requests in progress; the next is answered 429 at once (kept-alive connections that are idle
cost granian a few bytes in Rust and nothing here, so requests, not connections, are what is capped).

The app runs on GATEWAY_THREADS threads per worker, as under gunicorn: each holds one provider call
in flight. A response is sent whole when the app's iterable is done within its first chunks (every
answer of the API), and streamed chunk by chunk otherwise (the console's CSV export).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from granian._granian import RSGIProtocolClosed, RSGIProtocolError

from gateway.ops.client_limits import BODY_LIMIT, CUT_SHORT_MESSAGE, ClientLimits, ConnectionCounts, client_key

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Headers = list[tuple[str, str]]

# An answer no larger than this, when the app's iterable has ended by then, goes out in one piece.
WHOLE_ANSWER = 256 * 1024

_SPECIAL_HEADERS = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


def _error(status: int, code: str, message: str, *extra: tuple[str, str]) -> tuple[int, Headers, bytes]:
    """An answer in the API's one error shape, closing the connection."""
    body = f'{{"error": "{code}", "message": "{message}", "errors": {{}}}}'.encode()
    headers = [("content-type", "application/json"), ("connection", "close"), *extra]
    return status, headers, body


TOO_SLOW = _error(408, "request_timeout", "The request was not received in time.")
TOO_MANY = _error(429, "too_many_connections", "Too many requests in progress from this address.", ("retry-after", "1"))
TOO_LARGE = _error(413, "payload_too_large", "The request body is over 1 MiB.")
BAD_BODY = _error(400, "bad_request", "The request body could not be read.")
CUT_SHORT = _error(400, "bad_request", CUT_SHORT_MESSAGE)
BAD_PATH = _error(400, "bad_request", "The request path is not UTF-8.")
FAILED = _error(500, "internal_error", "The server could not answer this request.")


class _BodyTooLarge(Exception):
    pass


class _BodyCutShort(Exception):
    pass


class WSGIOverRSGI:
    """An RSGI application (granian `--interface rsgi`) that runs `app`, a WSGI app, on a thread pool."""

    def __init__(self, app: WSGIApp, *, threads: int, limits: ClientLimits) -> None:
        self.app = app
        self.threads = threads
        self.limits = limits
        self._executor: ThreadPoolExecutor | None = None
        self._in_progress = ConnectionCounts(limits.connections)  # requests, not connections; the loop's thread
        self._base_environ: dict[str, Any] = {
            "SCRIPT_NAME": "",
            "SERVER_SOFTWARE": "granian (gateway rsgi bridge)",
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }

    # granian calls these two in each worker, with the worker's event loop.
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="gateway-request")

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)  # requests in flight finish: granian's graceful stop

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":  # the gateway serves no websocket
            proto.close(1003)
            return
        key = client_key(_address(scope.client))
        if not self._in_progress.admit(key):
            _send(proto, TOO_MANY)
            return
        try:
            await self._serve(scope, proto)
        finally:
            self._in_progress.release(key)

    async def _serve(self, scope: Any, proto: Any) -> None:
        if "\ufffd" in scope.path:  # granian decoded bytes that are not UTF-8 lossily: PEP 3333 cannot be kept
            _send(proto, BAD_PATH)
            return
        headers = scope.headers.items()
        try:
            body = await self._body(proto, headers)
        except TimeoutError:
            _send(proto, TOO_SLOW)
            return
        except _BodyTooLarge:
            _send(proto, TOO_LARGE)
            return
        except _BodyCutShort:
            _send(proto, CUT_SHORT)
            return
        except Exception:  # the client went away or sent a broken chunked body: nothing to run
            with contextlib.suppress(Exception):
                _send(proto, BAD_BODY)
            return
        environ = self._environ(scope, headers, body)
        loop = asyncio.get_running_loop()
        assert self._executor is not None
        try:
            status, answer_headers, first, rest = await loop.run_in_executor(self._executor, self._call, environ)
        except Exception:
            log.exception("the app raised instead of answering %s %s", scope.method, scope.path)
            _send(proto, FAILED)
            return
        if rest is None:
            proto.response_bytes(status, answer_headers, first)
            return
        await self._stream(proto, status, answer_headers, first, rest)

    async def _body(self, proto: Any, headers: Headers) -> bytes:
        """The whole body, within the body deadline, no read idle past the idle time-out; b"" when there is
        none. Longer than the app's limit (1 MiB): _BodyTooLarge, without reading it."""
        length, chunked = None, False
        for name, value in headers:
            if name == "content-length":
                length = value
            elif name == "transfer-encoding":
                chunked = True
        if not chunked:
            if length is None or length.strip() == "0":
                return b""
            if not length.strip().isdigit():
                raise ValueError("content-length")
            if int(length) > BODY_LIMIT:
                raise _BodyTooLarge()
        parts: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_timeout
        idle = self.limits.idle_timeout
        # One timer for the whole body, moved on at each chunk: the body's deadline or the next read's,
        # whichever comes first (no task per read, as asyncio.wait_for would make).
        async with asyncio.timeout_at(min(deadline, loop.time() + idle)) as timer:
            async for chunk in proto:
                size += len(chunk)
                if size > BODY_LIMIT:
                    raise _BodyTooLarge()
                parts.append(chunk)
                timer.reschedule(min(deadline, loop.time() + idle))
        # granian ends the body quietly when the client closes early: never hand the app part of one. (A
        # chunked body cut short cannot be told from a whole one here; gunicorn's reader raises on it.)
        if not chunked and length is not None and size != int(length):
            raise _BodyCutShort()
        return b"".join(parts)

    def _environ(self, scope: Any, headers: Headers, body: bytes) -> dict[str, Any]:
        environ = dict(self._base_environ)
        server_host, _, server_port = scope.server.rpartition(":")
        client_host, _, client_port = scope.client.rpartition(":")
        environ.update(
            {
                "REQUEST_METHOD": scope.method,
                # WSGI's PATH_INFO is the path's bytes as latin-1; granian hands the path decoded as UTF-8
                "PATH_INFO": scope.path.encode("utf-8").decode("latin-1"),
                "QUERY_STRING": scope.query_string,
                "SERVER_NAME": server_host.strip("[]"),
                "SERVER_PORT": server_port,
                "REMOTE_ADDR": client_host.strip("[]"),
                "REMOTE_PORT": client_port,
                "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
                "wsgi.url_scheme": scope.scheme,
                "wsgi.input": io.BytesIO(body),
            }
        )
        for name, value in headers:
            if "_" in name:
                # WSGI spells `X-Forwarded-For` and `X_Forwarded_For` alike (HTTP_X_FORWARDED_FOR): a client
                # could slip the second past a proxy that strips the first. Dropped, as gunicorn does.
                continue
            key = _SPECIAL_HEADERS.get(name) or "HTTP_" + name.upper().replace("-", "_")
            if key in environ and key.startswith("HTTP_"):
                environ[key] += "," + value  # repeated headers, joined as RFC 9110 allows
            else:
                environ[key] = value
        if "CONTENT_LENGTH" not in environ and body:
            environ["CONTENT_LENGTH"] = str(len(body))  # a chunked body, read whole above
        return environ

    def _call(self, environ: dict[str, Any]) -> tuple[int, Headers, bytes, Iterator[bytes] | None]:
        """Run the app in a pool thread: its status, headers, and its answer whole (`rest` None), or the
        first chunks and an iterator of the rest."""
        started: list[Any] = []

        def start_response(status: str, headers: Headers, exc_info: Any = None) -> Callable[[bytes], None]:
            # Nothing is sent before the app returns, so an error page may always replace what came before.
            started[:] = [status, headers]
            return _no_write

        result = self.app(environ, start_response)
        chunks = iter(result)
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in chunks:
                parts.append(chunk)
                size += len(chunk)
                if size > WHOLE_ANSWER:
                    return _status(started), started[1], b"".join(parts), _closing(chunks, result)
        except BaseException:
            _close(result)
            raise
        _close(result)
        return _status(started), started[1], b"".join(parts), None

    async def _stream(self, proto: Any, status: int, headers: Headers, first: bytes, rest: Iterator[bytes]) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport = proto.response_stream(status, headers)
            await transport.send_bytes(first)
            while True:
                chunk = await loop.run_in_executor(self._executor, next, rest, None)
                if chunk is None:
                    break
                await transport.send_bytes(chunk)
        except (RSGIProtocolClosed, RSGIProtocolError):  # the client went away: nothing left to send it
            pass
        finally:
            await loop.run_in_executor(self._executor, _close, rest)


def _address(client: str) -> tuple[str, int] | None:
    """granian's "host:port" (IPv6 in brackets) as a socket address; None for a Unix socket's peer."""
    host, _, port = client.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _status(started: list[Any]) -> int:
    return int(str(started[0]).split(" ", 1)[0])


def _send(proto: Any, answer: tuple[int, Headers, bytes]) -> None:
    status, headers, body = answer
    proto.response_bytes(status, headers, body)


def _no_write(data: bytes) -> None:
    raise RuntimeError("the gateway's WSGI app does not use start_response's write()")


def _closing(chunks: Iterator[bytes], result: Iterable[bytes]) -> Iterator[bytes]:
    class Rest:
        def __iter__(self) -> Iterator[bytes]:
            return self

        def __next__(self) -> bytes:
            return next(chunks)

        def close(self) -> None:
            _close(result)

    return Rest()


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


def threads_from_environ(environ: Mapping[str, str] = os.environ) -> int:
    return int(environ.get("GATEWAY_THREADS") or 128)
