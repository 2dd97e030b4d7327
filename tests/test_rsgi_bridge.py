"""The RSGI bridge (gateway/ops/rsgi_bridge.py) hands a WSGI app what a WSGI server would: a real granian
serving tests/support/echo_app.py, spoken to over HTTP. The slow-client limits are in test_slow_clients.py,
on every server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gateway.ops.granian_conf import granian_argv
from tests.support.echo_app import CHUNK, STREAMED_CHUNKS
from tests.support.processes import Gunicorn, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    config = {"GATEWAY_WORKERS": "1", "GATEWAY_THREADS": "4", "GATEWAY_SANDBOX": "1"}
    command = granian_argv("tests.support.echo_app:rsgi_app", ["--bind", f"127.0.0.1:{port}", "--factory"], config)
    log_path: Path = tmp_path_factory.mktemp("echo") / "granian.log"
    server = Gunicorn.command(command, config, port, log_path=log_path)
    try:
        server.wait_until_healthy(60)
        yield server.url
    finally:
        server.stop()


def raw(url: str, request: bytes, *, then_close: bool = False) -> bytes:
    """Send `request` (and, with `then_close`, close our side) and read the answer until the server closes."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        if then_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_the_app_gets_the_path_as_wsgi_wants_it_and_the_query_string_untouched(echo: str) -> None:
    seen = requests.get(f"{echo}/orders/caf%C3%A9%20au%20lait?x=%20y&x=2", timeout=5).json()
    # PEP 3333: the path decoded, its bytes as latin-1 characters; the query string as it was sent.
    assert seen["path"] == "/orders/café au lait".encode().decode("latin-1")
    assert seen["query"] == "x=%20y&x=2"
    assert seen["remote"] == "127.0.0.1"


def test_the_body_and_its_headers_arrive_whole(echo: str) -> None:
    seen = requests.post(f"{echo}/echo", data={"amount": "12.50"}, timeout=5).json()
    assert (seen["body"], seen["length"]) == ("amount=12.50", "12")
    assert seen["type"] == "application/x-www-form-urlencoded"
    chunked = requests.post(f"{echo}/echo", data=iter([b"a=1", b"&b=2"]), timeout=5).json()
    assert (chunked["body"], chunked["length"]) == ("a=1&b=2", "7")


def test_a_repeated_header_is_one_value_joined_by_commas(echo: str) -> None:
    answer = raw(echo, b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Repeated: 1\r\nX-Repeated: 2\r\nConnection: close\r\n\r\n")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["x_repeated"] == "1,2"


def test_a_header_name_with_an_underscore_never_stands_in_for_one_with_a_dash(echo: str) -> None:
    # HTTP_X_REPEATED would be both `X-Repeated` and `X_Repeated`: a proxy strips only the first.
    answer = raw(echo, b"GET /echo HTTP/1.1\r\nHost: x\r\nX_Repeated: forged\r\nConnection: close\r\n\r\n")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["x_repeated"] is None


def test_a_long_answer_is_streamed_whole(echo: str) -> None:
    answer = requests.get(f"{echo}/stream", timeout=10)
    assert answer.status_code == 200
    assert answer.content == CHUNK * STREAMED_CHUNKS


def test_an_app_that_raises_is_a_500_in_the_api_shape_and_the_server_goes_on(echo: str) -> None:
    failed = requests.get(f"{echo}/fail", timeout=5)
    assert failed.status_code == 500
    assert failed.json()["error"] == "internal_error"
    assert requests.get(f"{echo}/echo", timeout=5).status_code == 200


def test_a_body_cut_short_never_reaches_the_app(echo: str) -> None:
    answer = raw(echo, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 24\r\n\r\namount=12", then_close=True)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    assert b"The request body ended before its Content-Length." in answer  # the echo app would show the body


def test_a_path_that_is_not_utf8_is_refused_rather_than_guessed(echo: str) -> None:
    answer = raw(echo, b"GET /a%FF HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]


def test_a_declared_body_over_the_limit_is_refused_unread(echo: str) -> None:
    answer = raw(echo, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"error": "payload_too_large"' in answer
    refused = raw(echo, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 400 "), refused[:100]
