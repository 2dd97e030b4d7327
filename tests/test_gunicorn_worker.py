"""gateway.ops.gunicorn_worker: a burst of clients is shared between workers, so every thread gets a request."""

from __future__ import annotations

import collections
import socket
import threading
import time
from pathlib import Path

from tests.support.processes import Gunicorn, free_port

WORKERS, THREADS = 2, 8
CLIENTS = WORKERS * THREADS


def _slow_request(port: int, ready: threading.Barrier, answers: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        ready.wait()  # every client is connected before any sends
        client.sendall(b"GET /slow HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk
    answers.append(answer.decode().rsplit("\r\n\r\n", 1)[1])


def test_a_burst_of_clients_gets_every_thread_of_every_worker(tmp_path: Path) -> None:
    port = free_port()
    server = Gunicorn(
        {}, port, "--workers", str(WORKERS), "--threads", str(THREADS), log_path=tmp_path / "gunicorn.log",
        app="tests.support.slow_app:app",
    )  # fmt: skip
    try:
        server.wait_until_healthy(60)
        answers: list[str] = []
        ready = threading.Barrier(CLIENTS)
        clients = [threading.Thread(target=_slow_request, args=(port, ready, answers)) for _ in range(CLIENTS)]
        started = time.monotonic()
        for client in clients:
            client.start()
        for client in clients:
            client.join(30)
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    # Each worker took as many requests as it has threads, so all of them ran at once: one second.
    assert sorted(collections.Counter(answers).values()) == [THREADS] * WORKERS, server.output()
    assert elapsed < 1.8
