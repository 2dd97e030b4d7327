"""gateway.plugin.http: a provider's transport against real sockets that refuse, hang up, stall or never answer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Response

from gateway.plugin.http import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, ProviderHttp, Timeouts
from gateway.plugin.provider import NotSent, OutcomeUnknown, ProviderTimeout, ProviderUnreachable
from gateway.testing.live import LiveServer

SHORT = Timeouts(connect=0.3, read=0.3)


@pytest.fixture
def http() -> Iterator[ProviderHttp]:
    transport = ProviderHttp("Example Pay", "gateway-tests/1", SHORT)
    yield transport
    transport.close()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """Accepts connections (the kernel does) but never reads nor answers: a service that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture
def full_listener() -> Iterator[int]:
    """A listener whose accept queue is full: Linux drops new SYNs, so connecting times out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2):  # takes the one place in the queue
            yield port


@pytest.fixture
def hang_up_port() -> Iterator[int]:
    """Accepts, reads the request, and closes without a word: the connection breaks before an answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


def test_a_refused_connection_is_unreachable(http: ProviderHttp, closed_port: int) -> None:
    with pytest.raises(ProviderUnreachable) as raised:
        http.post(f"http://127.0.0.1:{closed_port}/v1/create_order", what="create_order", data=b"{}")
    assert str(raised.value) == "Example Pay create_order: ConnectionError"


def test_only_a_connection_never_made_is_not_sent(
    http: ProviderHttp, closed_port: int, full_listener: int, silent_listener: int, hang_up_port: int
) -> None:
    """NotSent lets routing try another account (docs/routing.md): only when no byte can have left."""

    def raised(port: int) -> Exception:
        with pytest.raises((ProviderUnreachable, ProviderTimeout)) as caught:
            http.post(f"http://127.0.0.1:{port}/v1/create_order", what="create_order", data=b"{}")
        return caught.value

    assert isinstance(raised(closed_port), NotSent)  # refused
    assert isinstance(raised(full_listener), NotSent)  # the connect time-out
    assert not isinstance(raised(silent_listener), NotSent)  # sent, never answered
    assert not isinstance(raised(hang_up_port), NotSent)  # sent, then the connection broke


def test_a_connection_that_cannot_be_made_in_time_is_unreachable(http: ProviderHttp, full_listener: int) -> None:
    with pytest.raises(ProviderUnreachable) as raised:
        http.get(f"http://127.0.0.1:{full_listener}/v1/query", what="query_order")
    assert str(raised.value) == "could not connect to Example Pay (query_order)"


def test_a_request_sent_but_never_answered_is_a_timeout(http: ProviderHttp, silent_listener: int) -> None:
    with pytest.raises(ProviderTimeout) as raised:
        http.post(f"http://127.0.0.1:{silent_listener}/v1/refund", what="refund", data=b"{}")
    # The service may have acted: a timeout, never a refusal.
    assert str(raised.value) == "Example Pay did not answer refund in 0.3s"
    assert raised.value.reason == "timeout"


def test_a_connection_broken_before_the_answer_is_an_unknown_outcome(http: ProviderHttp, hang_up_port: int) -> None:
    with pytest.raises(OutcomeUnknown) as raised:
        http.post(f"http://127.0.0.1:{hang_up_port}/v1/create_order", what="create_order", data=b"{}")
    assert raised.value.reason == "unreachable"


def test_every_answer_comes_back_whatever_its_status() -> None:
    """Judging a 500 or a 404 is the plugin's job: the transport raises only when no answer came."""
    server = LiveServer(Response("<html>oops</html>", 500, content_type="text/html"))
    transport = ProviderHttp("Example Pay", "gateway-tests/1", SHORT)
    try:
        answer = transport.post(f"{server.url}/v1/create_order", what="create_order", json={"a": 1})
        assert (answer.status_code, answer.text) == (500, "<html>oops</html>")
    finally:
        transport.close()
        server.stop()


def test_calls_carry_the_user_agent_and_are_never_retried() -> None:
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        calls.append(environ["HTTP_USER_AGENT"])
        return Response("busy", 503)(environ, start_response)

    server = LiveServer(app)
    transport = ProviderHttp("Example Pay", "gateway-example/1")
    try:
        assert transport.get(f"{server.url}/v1/x", what="x").status_code == 503
    finally:
        transport.close()
        server.stop()
    assert calls == ["gateway-example/1"]


@pytest.mark.parametrize(
    ("read", "expected"),
    [(2.0, Timeouts(2.0, 2.0)), (30.0, Timeouts(DEFAULT_CONNECT_TIMEOUT, 30.0))],
)
def test_the_connect_timeout_is_never_longer_than_the_read_timeout(read: float, expected: Timeouts) -> None:
    assert Timeouts.reading(read) == expected


def test_the_defaults_are_five_seconds_to_connect_and_fifteen_to_answer() -> None:
    assert ProviderHttp("Example Pay", "ua").timeouts == Timeouts(5.0, 15.0) == Timeouts.reading()
    assert (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT) == (5.0, 15.0)


# -- the environment: read once per origin, still obeyed ----------------------------------------------


@pytest.fixture
def forward_proxy() -> Iterator[tuple[int, list[str]]]:
    """A forward proxy that answers every request itself and keeps each request line it got."""
    lines: list[str] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                lines.append(head.split(b"\r\n", 1)[0].decode())
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nproxied")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], lines
    listener.close()


def test_a_proxy_from_the_environment_is_used_and_no_proxy_is_obeyed(
    forward_proxy: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, lines = forward_proxy
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("NO_PROXY", "direct.invalid")
    transport = ProviderHttp("Example Pay", "gateway-tests/1", SHORT)
    try:
        for _ in range(2):  # the second call uses what the first one read
            answer = transport.post("http://pay.invalid/v1/orders", what="create_order")
            assert answer.text == "proxied"
        assert lines == ["POST http://pay.invalid/v1/orders HTTP/1.1"] * 2
        with pytest.raises(ProviderUnreachable):  # NO_PROXY: straight to a host that does not exist
            transport.post("http://direct.invalid/v1/orders", what="create_order")
        assert len(lines) == 2
    finally:
        transport.close()


def test_a_ca_bundle_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    missing = tmp_path / "no-such-bundle.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(missing))
    transport = ProviderHttp("Example Pay", "gateway-tests/1", SHORT)
    try:
        # requests refuses a CA bundle path that does not exist before it connects anywhere.
        with pytest.raises(ProviderUnreachable):
            transport.get("https://127.0.0.1:9/v1", what="query")
        assert transport._from_environment("https://127.0.0.1:9/v1")["verify"] == str(missing)
    finally:
        transport.close()


def test_a_redirect_is_never_followed_even_when_the_caller_asks() -> None:
    followed: list[str] = []

    def target(environ: dict[str, Any], start_response: Any) -> Any:
        followed.append(environ["PATH_INFO"])
        return Response('{"status": "paid"}', 200)(environ, start_response)

    elsewhere = LiveServer(target)
    front = LiveServer(Response("", 307, headers={"Location": f"{elsewhere.url}/v1/refund?token=t0k3n"}))
    transport = ProviderHttp("Example Pay", "gateway-tests/1", SHORT)
    try:
        with pytest.raises(OutcomeUnknown) as raised:
            transport.post(f"{front.url}/v1/refund", what="refund", data=b"{}", allow_redirects=True)
    finally:
        transport.close()
        front.stop()
        elsewhere.stop()
    assert followed == []
    assert (raised.value.code, raised.value.message) == (
        "redirect",
        "Example Pay answered refund with HTTP 307, a redirect the gateway does not follow",
    )
