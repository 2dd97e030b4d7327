"""Slow clients cannot stop the server (gateway/ops/client_limits.py, gateway/ops/gunicorn_worker.py).

A real `gateway run` (2 workers x 128 threads, the defaults) on loopback. The attacker connects
from 127.0.0.2, everyone else from 127.0.0.1: two client addresses on one machine. Its 300
connections each send a request's headers and then the body a byte at a time, so that no single
read waits long: only the deadline for the whole body cuts them off. The deadlines are set short
here so that the test takes seconds.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import MCH_ID, MCH_KEY
from tests.iotpay.test_notify import NOTIFY_PATH, order_fields, signed_notify
from tests.support.processes import Gunicorn, free_port

pytestmark = pytest.mark.slow

ATTACKER = "127.0.0.2"
SLOW_CONNECTIONS = 300
PROMPT = 2.0  # seconds within which everyone else's requests must be answered
API_KEY = "slow-clients-test-key-0123456789"
BODY_TIMEOUT = 1.0
SHORT = {  # seconds: the whole body, the headers, any one read
    "GATEWAY_CLIENT_BODY_TIMEOUT": str(BODY_TIMEOUT),
    "GATEWAY_CLIENT_HEADER_TIMEOUT": "1",
    "GATEWAY_CLIENT_IDLE_TIMEOUT": "0.5",
}
SLOW_HEAD = (
    b"POST /v1/orders HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer " + API_KEY.encode() + b"\r\n"
    b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
)


@pytest.fixture(params=["gunicorn", "granian"])
def start_server(
    request: pytest.FixtureRequest, sqlite_url: str, simulator: Any, tmp_path: Path
) -> Iterator[Callable[..., Gunicorn]]:
    servers: list[Gunicorn] = []

    def start(**settings: str) -> Gunicorn:
        port = free_port()
        config = {
            "GATEWAY_SERVER": request.param,
            "GATEWAY_DATABASE_URL": sqlite_url,
            "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "GATEWAY_INSTANCE_PATH": str(tmp_path / "instance"),
            "GATEWAY_API_KEYS": API_KEY,
            "GATEWAY_SANDBOX": "0",
            "GATEWAY_LOG_LEVEL": "warning",
            "IOTPAY_MCH_ID": MCH_ID,
            "IOTPAY_SECRET_KEY": MCH_KEY,
            "IOTPAY_API_URL": f"{simulator.url}/v1",
            "IOTPAY_TIMEOUT": "5",
            **SHORT,
            **settings,
        }
        server = Gunicorn.gateway_run(config, port, log_path=tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        server.wait_until_healthy(60)
        return server

    yield start
    for server in servers:
        server.stop()


class SlowBodies:
    """`count` connections from ATTACKER that send headers, then one byte of body per connection
    every `every` seconds: each read gets a byte in time, the body never ends."""

    def __init__(self, url: str, count: int, every: float = 0.2) -> None:
        port = int(url.rsplit(":", 1)[1])
        self.sockets: list[socket.socket] = []
        self.refused = 0  # answered 429 (or closed) on connecting
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(ATTACKER, 0))
            try:
                sock.sendall(SLOW_HEAD)
            except OSError:
                sock.close()
                self.refused += 1
                continue
            self.sockets.append(sock)
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        for _ in range(200):  # 50 s at most
            if self._stop.wait(self._every):
                return
            for sock in self.sockets:
                with contextlib.suppress(OSError):  # cut off by the server: what it should do
                    sock.send(b" ")

    def answers(self, within: float) -> list[bytes]:
        """The first bytes each connection got back (b"" when closed without a word)."""
        deadline = time.monotonic() + within
        got = []
        for sock in self.sockets:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                got.append(sock.recv(512))
            except TimeoutError:
                got.append(b"(still open)")
            except OSError:
                got.append(b"")
        return got

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


def timed(call: Callable[[], requests.Response]) -> tuple[int | str, float]:
    started = time.monotonic()
    try:
        status: int | str = call().status_code
    except requests.RequestException as exc:
        status = type(exc).__name__
    return status, time.monotonic() - started


def everyone_else(url: str, simulator: Any) -> dict[str, tuple[int | str, float]]:
    """/healthz, a create and a genuine signed notify of that order, from 127.0.0.1 (IOTPay took the
    payment first: the gateway confirms each notify with IOTPay's query before applying it)."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    results = {"healthz": timed(lambda: requests.get(f"{url}/healthz", timeout=PROMPT))}
    order: dict[str, Any] = {}

    def create() -> requests.Response:
        response = requests.post(f"{url}/v1/orders", json=order_fields(), headers=auth, timeout=PROMPT)
        order.update(response.json() if response.status_code == 201 else {})
        return response

    results["create"] = timed(create)
    if order:
        paying = {"payOrderId": order["provider_order_id"], "notify": "false"}
        assert requests.post(f"{simulator.url}/pay", data=paying, timeout=10).status_code == 202
        notify = signed_notify(order)
        results["notify"] = timed(lambda: requests.post(f"{url}{NOTIFY_PATH}", params=notify, timeout=PROMPT))
    return results


def assert_prompt(results: dict[str, tuple[int | str, float]], server: Gunicorn) -> None:
    statuses = {name: status for name, (status, _) in results.items()}
    assert statuses == {"healthz": 200, "create": 201, "notify": 200}, f"{results}\n{server.output()[-3000:]}"
    slowest = max(seconds for _, seconds in results.values())
    assert slowest < PROMPT, results


def test_one_address_with_300_slow_bodies_leaves_the_server_to_everyone_else(
    start_server: Callable[..., Gunicorn],
    simulator: Any,
) -> None:
    server = start_server()
    attack = SlowBodies(server.url, SLOW_CONNECTIONS)
    try:
        time.sleep(0.5)  # every slow connection has reached a worker
        assert_prompt(everyone_else(server.url, simulator), server)
        # 64 per worker at most (GATEWAY_CLIENT_CONNECTIONS): the others were answered 429 at once.
        refused = [answer for answer in attack.answers(within=0.5) if answer.startswith(b"HTTP/1.1 429")]
        assert SLOW_CONNECTIONS - 2 * 64 <= len(refused) + attack.refused < SLOW_CONNECTIONS
    finally:
        attack.close()


def test_a_body_that_never_ends_is_answered_408_and_its_thread_freed(
    start_server: Callable[..., Gunicorn], simulator: Any
) -> None:
    # No cap: the body's deadline alone frees the 256 threads that the slow bodies take.
    server = start_server(GATEWAY_CLIENT_CONNECTIONS="0")
    attack = SlowBodies(server.url, SLOW_CONNECTIONS)
    try:
        assert len(attack.sockets) == SLOW_CONNECTIONS
        assert_prompt(everyone_else(server.url, simulator), server)  # waiting at most for the first ones' deadline
        # 256 are served at once, and the 44 others when the first ones are cut off.
        answers = attack.answers(within=3 * BODY_TIMEOUT)
        assert [answer[:12] for answer in answers] == [b"HTTP/1.1 408"] * SLOW_CONNECTIONS, set(answers)
        assert answers[0].endswith(
            b'{"error": "request_timeout", "message": "The request was not received in time.", "errors": {}}'
        )
    finally:
        attack.close()


def test_clients_that_never_close_after_the_answer_do_not_stall_the_server(
    start_server: Callable[..., Gunicorn],
    simulator: Any,
) -> None:
    """An HTTP/1.0 request is answered and the connection closed; gunicorn then waited up to 2 s on the
    worker's main thread for the client to close its side: 40 such clients stopped the server ~40 s."""
    server = start_server()
    port = int(server.url.rsplit(":", 1)[1])
    lingering = []
    try:
        for _ in range(40):
            sock = socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(ATTACKER, 0))
            sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            lingering.append(sock)
        time.sleep(0.3)  # all answered; none of them closes
        assert_prompt(everyone_else(server.url, simulator), server)
    finally:
        for sock in lingering:
            sock.close()


def exchange(url: str, request: bytes, *, wait_for_continue: bytes | None = None) -> bytes:
    """Send `request` on a new connection from 127.0.0.1 and read the answer until the server closes."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        if wait_for_continue is not None:
            answer = sock.recv(4096)  # the client sends its body only once told to
            sock.sendall(wait_for_continue)
        for _ in range(100):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_clients_that_send_in_time_are_served_whatever_the_framing(start_server: Callable[..., Gunicorn]) -> None:
    server = start_server()
    head = (
        f"POST /v1/orders HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {API_KEY}\r\n"
        "Content-Type: application/json\r\nConnection: close\r\n"
    ).encode()
    body = json.dumps(order_fields()).encode()

    waited = exchange(
        server.url,
        head + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body),
        wait_for_continue=body,
    )
    assert waited.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 "), waited[:200]

    chunked = exchange(
        server.url, head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    )
    assert chunked.startswith(b"HTTP/1.1 201 "), chunked[:200]

    huge = b"x" * (1024 * 1024 + 1)
    too_large = exchange(
        server.url, head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(huge), huge)
    )
    assert too_large.startswith(b"HTTP/1.1 413 "), too_large[:200]
    assert too_large.endswith(
        b'"error": "payload_too_large", "message": "The request body is over 1 MiB.", "errors": {}}'
    )


def test_a_body_cut_short_is_refused_and_never_reaches_the_app(start_server: Callable[..., Gunicorn]) -> None:
    """A client that closes before its body ends: the part that came is never acted on as a request."""
    server = start_server()
    port = int(server.url.rsplit(":", 1)[1])
    body = json.dumps(order_fields()).encode()
    head = (
        f"POST /v1/orders HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body) + 10}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert answer.endswith(
        b'{"error": "bad_request", "message": "The request body ended before its Content-Length.", "errors": {}}'
    )
