"""The gunicorn worker `gateway run` uses: gthread, except that a worker whose threads are all busy
stops accepting connections, so that the next one goes to a worker with a free thread.

Why: gthread's main loop accepts every connection it can (up to `worker_connections`) and queues the
request for a thread. When many clients connect at once (a burst of checkouts, a proxy opening its
pool), one worker can take far more connections than it has threads while another's threads sit
idle: measured with 256 clients and 2 x 128 threads, 162 and 94 connections, so 34 requests waited
for a thread and only 222 provider calls were in flight. A kept-alive connection stays with the
worker that accepted it, so the imbalance lasted. With this worker: 128 and 128.

Kept-alive connections that are idle do not count as busy: a worker keeps accepting while it has a
free thread, whatever idle connections it holds (gunicorn's `worker_connections` still caps those).

Slow clients (gateway/ops/client_limits.py): a request's line and headers, and then its body, must
arrive within a deadline, with no read waiting longer than the idle time-out; the body is read
whole before the app runs, so a stalled client is answered 408 and cut off by the worker itself
and never reaches the app half-read. One client address holds at most GATEWAY_CLIENT_CONNECTIONS
of a worker's connections; the next is answered 429 at once, without taking a thread.
"""

from __future__ import annotations

import contextlib
import errno
import io
import socket
from typing import Any

from gunicorn import util
from gunicorn.http.body import LengthReader
from gunicorn.http.parser import RequestParser
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from gateway.ops.client_limits import (
    BODY_LIMIT,
    CUT_SHORT,
    TOO_MANY,
    ClientLimits,
    ConnectionCounts,
    DeadlineReader,
    answer_and_close,
    client_key,
    error_answer,
)

TOO_LARGE = error_answer(
    status=413, reason="Payload Too Large", code="payload_too_large", message="The request body is over 1 MiB."
)


class GuardedConn(TConn):  # type: ignore[misc]  # gunicorn ships no type hints
    """A connection whose reads have deadlines (DeadlineReader), counted against its address's cap."""

    def __init__(self, *args: Any, limits: ClientLimits, counts: ConnectionCounts, key: str | None) -> None:
        super().__init__(*args)
        self.limits = limits
        self._counts: ConnectionCounts | None = counts
        self.key = key

    def init(self) -> None:
        fresh = not self.initialized
        super().init()
        parser = self.parser
        if fresh and isinstance(parser, RequestParser) and type(parser.unreader) is SocketUnreader:
            reader = DeadlineReader(parser.unreader.sock, self.limits, parser.unreader.mxchunk)
            reader.buf = parser.unreader.buf
            parser.unreader = reader
            reader.start(self.limits.header_timeout)  # the first byte has arrived (gthread waited for it)

    @property
    def reader(self) -> DeadlineReader | None:
        unreader = getattr(self.parser, "unreader", None)
        return unreader if isinstance(unreader, DeadlineReader) else None

    def close(self, graceful: bool = False) -> None:
        """gthread calls this on its main thread, which must never wait for a client.

        gunicorn's graceful close lingers up to 2 s for the client to close its side: measured, 40
        HTTP/1.0 requests whose clients never closed stopped the server for about 40 s. Here the
        write side is shut (the client sees the end of the answer) and only what the client has
        already sent is drained, so that closing does not reset the connection over unread bytes.
        """
        if self._counts is not None:  # once, whichever path closes it
            self._counts.release(self.key)
            self._counts = None
        if self.sock.fileno() < 0:  # already closed by a worker thread (408, 413)
            return
        if graceful:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)
                self.sock.setblocking(False)
                for _ in range(16):  # at most 64 KiB
                    if not self.sock.recv(4096):
                        break
        util.close(self.sock)


class BalancedThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._busy = 0  # requests handed to the thread pool and not finished; main thread only
        self.limits = ClientLimits.from_environ()
        self.counts = ConnectionCounts(self.limits.connections)  # main thread only

    def accept(self, listener: Any) -> None:
        """gthread's accept, with the per-address cap and GuardedConn."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        key = client_key(client_addr)
        if not self.counts.admit(key):
            _refuse(client_sock)
            return
        self.nr_conns += 1
        client_sock.setblocking(True)
        conn = GuardedConn(
            self.cfg, client_sock, client_addr, listener.getsockname(), limits=self.limits, counts=self.counts, key=key
        )
        self.enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        if conn.initialized and (reader := conn.reader) is not None:
            reader.start(self.limits.header_timeout)  # a kept-alive connection's next request
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        """Read the whole body under its deadline before the app sees the request."""
        reader = conn.reader
        if reader is not None:
            body = req.body.reader
            small = not isinstance(body, LengthReader) or body.length <= BODY_LIMIT
            if small:  # a longer declared body is the app's to refuse (413), unread
                if req._expected_100_continue:  # the client waits for this before it sends the body
                    conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    req._expected_100_continue = False
                reader.start(self.limits.body_timeout)
                declared = body.length if isinstance(body, LengthReader) else None  # read() counts it down
                data = req.body.read(BODY_LIMIT + 1)
                if len(data) > BODY_LIMIT:  # chunked, and over the limit
                    answer_and_close(conn.sock, TOO_LARGE)
                    return False
                if declared is not None and len(data) < declared:  # gunicorn's reader stops at EOF quietly
                    answer_and_close(conn.sock, CUT_SHORT)
                    return False
                req.body = io.BytesIO(data)
            reader.stop()
        return super().handle_request(req, conn)

    def enqueue_req(self, conn: Any) -> None:
        self._busy += 1
        super().enqueue_req(conn)
        self.set_accept_enabled(self._accepting)  # re-checked: maybe the last free thread just went

    def finish_request(self, conn: Any, fs: Any) -> None:
        self._busy -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gthread's loop asks for accepting whenever it holds fewer than worker_connections.
        super().set_accept_enabled(enabled and self._busy < self.cfg.threads)


def _refuse(sock: socket.socket) -> None:
    """Answer 429 without waiting (the main thread must never block on a client) and close."""
    try:
        sock.setblocking(False)
        sock.send(TOO_MANY)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.close()
