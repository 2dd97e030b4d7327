"""Can one address lock everyone else out with connections that send nothing? (bench/README.md, "Which server")

    .venv/bin/python -m bench.idle_connections gunicorn 2100
    .venv/bin/python -m bench.idle_connections granian 2100

`gateway run` on the server named (sandbox, SQLite, its default settings), then COUNT connections from
127.0.0.2 that are opened and left silent, then one `/healthz` from 127.0.0.1: how long it waits.
"""

from __future__ import annotations

import socket
import sys
import time

import requests

from bench import servers
from tests.support.processes import Gunicorn, flask_cli, free_port

ATTACKER = "127.0.0.2"
WAIT = 30.0


def probe(server_name: str, count: int) -> str:
    work = servers.workdir()
    port = free_port()
    config = {
        "GATEWAY_SERVER": server_name,
        "GATEWAY_SANDBOX": "1",
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_INSTANCE_PATH": str(work),
        "GATEWAY_LOG_LEVEL": "warning",
    }
    migrated = flask_cli(config, "db", "upgrade")
    if migrated.returncode != 0:
        raise SystemExit(migrated.stderr)
    server = Gunicorn.gateway_run(config, port, log_path=work / "server.log")
    silent: list[socket.socket] = []
    try:
        server.wait_until_healthy(60)
        for _ in range(count):
            silent.append(socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(ATTACKER, 0)))
        time.sleep(1)  # every connection accepted by a worker
        started = time.monotonic()
        try:
            outcome = str(requests.get(f"http://127.0.0.1:{port}/healthz", timeout=WAIT).status_code)
        except requests.RequestException as exc:
            outcome = f"no answer ({type(exc).__name__})"
        waited = time.monotonic() - started
        return f"{server_name}: {count} silent connections from {ATTACKER}: /healthz {outcome} after {waited:.2f} s"
    finally:
        for sock in silent:
            sock.close()
        server.stop()


if __name__ == "__main__":
    print(probe(sys.argv[1], int(sys.argv[2])))
