"""How long a client of the server may take to send a request, and how many connections one address may
hold: the settings, and the pieces the gunicorn worker (gateway/ops/gunicorn_worker.py) builds from them.

Why: every request holds one of a worker's threads while its line, headers and body are read, and
gunicorn's gthread reads them with no time-out. 300 connections sending their bodies a byte at a
time held all 256 threads, and every endpoint, /notify included, stopped answering for as long
as the client liked. Now a client that stalls is answered 408 and cut off, which frees its thread,
and one address cannot hold more than a set number of a worker's connections.

Read from the environment by the server, like GATEWAY_THREADS (docs/operations.md#slow-clients).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gunicorn.http.errors import NoMoreData
from gunicorn.http.unreader import SocketUnreader

from gateway.plugin.settings import ConfigError

HEADER_TIMEOUT = "GATEWAY_CLIENT_HEADER_TIMEOUT"
BODY_TIMEOUT = "GATEWAY_CLIENT_BODY_TIMEOUT"
IDLE_TIMEOUT = "GATEWAY_CLIENT_IDLE_TIMEOUT"
CONNECTIONS = "GATEWAY_CLIENT_CONNECTIONS"

# The largest body read ahead of the app: the app's own limit (MAX_CONTENT_LENGTH, gateway/web/app.py).
# A longer declared body is left to the app, which refuses it with 413 without reading it.
BODY_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class ClientLimits:
    header_timeout: float = 10.0  # the request line and headers, from their first byte
    body_timeout: float = 20.0  # the whole body, from the end of the headers
    idle_timeout: float = 5.0  # any one read or write on the socket
    connections: int = 64  # per client address, per worker; 0: no cap

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> ClientLimits:
        """The limits the environment sets; a ConfigError names a value that is not a number in range.

        Behind proxies (GATEWAY_TRUSTED_PROXIES above 0) every connection comes from a proxy's
        address, so the cap is off unless GATEWAY_CLIENT_CONNECTIONS is set.
        """
        default = cls()
        behind_proxies = _integer(environ, "GATEWAY_TRUSTED_PROXIES", 0, 0, 100) > 0
        return cls(
            header_timeout=_seconds(environ, HEADER_TIMEOUT, default.header_timeout),
            body_timeout=_seconds(environ, BODY_TIMEOUT, default.body_timeout),
            idle_timeout=_seconds(environ, IDLE_TIMEOUT, default.idle_timeout),
            connections=_integer(environ, CONNECTIONS, 0 if behind_proxies else default.connections, 0, 100_000),
        )


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    text = (environ.get(name) or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(name, "must be a number of seconds") from None
    if not 0.01 <= value <= 600:
        raise ConfigError(name, "must be between 0.01 and 600 seconds")
    return value


def _integer(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = (environ.get(name) or "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(name, "must be a whole number") from None
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low} and {high}")
    return value


def client_key(address: Any) -> str | None:
    """Whose connection this is, for the cap: the socket peer's IPv4 address, or its IPv6 /64 (one
    host usually holds a whole /64). None (no cap) for a Unix socket."""
    if not isinstance(address, tuple) or not address:
        return None
    try:
        ip = ipaddress.ip_address(address[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class ConnectionCounts:
    """Open connections per client key in one worker. The worker's main thread alone uses it."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: dict[str, int] = {}

    def admit(self, key: str | None) -> bool:
        if not self.cap or key is None:
            return True
        held = self._open.get(key, 0)
        if held >= self.cap:
            return False
        self._open[key] = held + 1
        return True

    def release(self, key: str | None) -> None:
        if not self.cap or key is None or key not in self._open:
            return
        held = self._open[key] - 1
        if held:
            self._open[key] = held
        else:
            del self._open[key]

    def held(self, key: str) -> int:
        return self._open.get(key, 0)


def error_answer(*, status: int, reason: str, code: str, message: str, headers: tuple[str, ...] = ()) -> bytes:
    """A complete HTTP/1.1 answer in the API's one error shape, closing the connection."""
    body = f'{{"error": "{code}", "message": "{message}", "errors": {{}}}}'.encode()
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    head += [*headers, "Connection: close"]
    return "\r\n".join(head).encode() + b"\r\n\r\n" + body


TOO_SLOW = error_answer(
    status=408, reason="Request Timeout", code="request_timeout", message="The request was not received in time."
)
# A body that ended (the client closed its side) before its Content-Length: never handed to the app, which
# would otherwise act on the part that came (a form parses whatever fields arrived).
CUT_SHORT_MESSAGE = "The request body ended before its Content-Length."
CUT_SHORT = error_answer(status=400, reason="Bad Request", code="bad_request", message=CUT_SHORT_MESSAGE)
TOO_MANY = error_answer(
    status=429,
    reason="Too Many Requests",
    code="too_many_connections",
    message="Too many open connections from this address.",
    headers=("Retry-After: 1",),
)


class ClientTooSlow(NoMoreData):  # type: ignore[misc]  # gunicorn ships no type hints
    """A deadline passed while reading a request: the client was answered 408 and its socket closed.

    A NoMoreData, so that gthread ends the connection quietly (a debug line) instead of logging a
    socket error with its traceback.
    """

    def __str__(self) -> str:
        return "client too slow: answered 408 and closed"


class DeadlineReader(SocketUnreader):  # type: ignore[misc]
    """gunicorn's socket reader, with a time-out on every read and a deadline for each phase.

    `start(seconds)` sets the deadline of the phase about to be read (the headers, the body);
    `stop()` leaves only the per-read time-out. Past either, the client is answered 408, the
    socket is closed and ClientTooSlow is raised: the thread is free at once.
    """

    def __init__(self, sock: socket.socket, limits: ClientLimits, max_chunk: int = 8192) -> None:
        super().__init__(sock, max_chunk)
        self.limits = limits
        self.deadline: float | None = None
        self.cut_off = False

    def start(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def stop(self) -> None:
        self.deadline = None
        self.sock.settimeout(self.limits.idle_timeout)  # also bounds writing the answer

    def chunk(self, size_hint: int | None = None) -> bytes:
        wait = self.limits.idle_timeout
        if self.deadline is not None:
            wait = min(wait, self.deadline - time.monotonic())
            if wait <= 0:
                self._give_up()
        self.sock.settimeout(wait)
        try:
            data: bytes = super().chunk(size_hint)
        except TimeoutError:  # socket.timeout: no byte for `wait` seconds
            self._give_up()
        return data

    def _give_up(self) -> None:
        self.cut_off = True
        answer_and_close(self.sock, TOO_SLOW)
        raise ClientTooSlow()


def answer_and_close(sock: socket.socket, answer: bytes) -> None:
    """Send `answer` if the client takes it within half a second (it fits the send buffer unless the
    client has read nothing at all), then close: from a worker thread, never the main one."""
    try:
        sock.settimeout(0.5)
        sock.sendall(answer)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sock.close()
