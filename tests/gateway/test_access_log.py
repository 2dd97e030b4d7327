"""A URL (or header) cannot write a line of its own into the text log: gunicorn's access line, as
`gateway run` and `make run` print it, escapes control characters."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from gateway.ops.gunicorn_conf import access_log_format
from gateway.telemetry import logs
from tests.support.flows import wait_for
from tests.support.processes import Gunicorn, free_port

FORGED = '[2026-12-06 00:00:00,000] [1] [INFO] gunicorn.access: 10.0.0.1 "POST /v1/orders" 201'


def access_record(path: str) -> logging.LogRecord:
    """An access line as gunicorn's logger makes it: the format, with the atoms as a mapping."""
    atoms = {"h": "127.0.0.1", "m": "GET", "U": path, "s": "404", "B": "10", "M": "1", "{x-request-id}o": "abc"}
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, access_log_format, (), None)
    record.args = atoms
    return record


@pytest.mark.parametrize("control", ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1b[31m", "\x85", "\u2028", "\x00"])
def test_a_control_character_in_the_path_is_escaped_on_the_access_line(control: str) -> None:
    text = logs.TextFormatter().format(access_record(f"/x{control}{FORGED}"))

    assert len(text.splitlines()) == 1, text
    assert control not in text
    assert "/x\\" in text


def test_a_traceback_still_follows_its_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("a\nb",), True)
        import sys

        record.exc_info = sys.exc_info()
    text = logs.TextFormatter().format(record)

    assert text.splitlines()[0].endswith("failed a\\nb")
    assert "ValueError: boom" in text


def test_under_gunicorn_a_percent_0a_in_the_url_cannot_write_a_line_of_its_own(tmp_path: Path) -> None:
    port = free_port()
    config = {
        "GATEWAY_SANDBOX": "1",
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_INSTANCE_PATH": str(tmp_path),
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
    }
    server = Gunicorn(config, port, "--workers", "1", "--threads", "2", log_path=tmp_path / "gunicorn.log")
    try:
        wait_for(lambda: _answers(port), timeout=30, what="gunicorn to listen")
        forged = FORGED.replace(" ", "%20").replace('"', "%22")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET /nothing%0A{forged}%0D%0A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 404")
        line = wait_for(lambda: _access_line(server.output()), timeout=10, what="the access line")
    finally:
        server.stop()

    assert "/nothing\\n[2026-12-06" in line and "\\r\\n" in line
    assert not [entry for entry in server.output().splitlines() if entry.startswith("[2026-12-06 00:00:00,000]")]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _access_line(output: str) -> str | None:
    return next((line for line in output.splitlines() if "gunicorn.access" in line and "/nothing" in line), None)
