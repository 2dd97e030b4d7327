"""What each import costs a gateway worker, in RSS: where the idle worker's megabytes go.

    .venv/bin/python -m bench.imports [--optional] [--threads 128]
    .venv/bin/python -m bench.imports --server

Imports the libraries the app is built on one group at a time, in a fresh process, printing the
RSS each group adds (a group's figure leaves out what an earlier group already imported), then
builds the app as wsgi.py does with the bench's production settings (`GATEWAY_SANDBOX=0`), and
says which modules the request path never needs were imported by it anyway.

--optional: what each part the app imports on demand adds to a worker after create_app(), each in
a fresh process (the console's views, the simulators, Alembic, the scaffold ...).
--threads N: N threads each through a request and then held waiting on a socket, as a loaded
worker's 128 threads are: what their stacks and malloc arenas add.
--server: instead, the gateway on the server `gateway run` uses, as `make bench` starts it (a fresh
PostgreSQL database): each worker's RSS idle. The build needs no database; --server needs the
PostgreSQL of `make bench` (BENCH_POSTGRES_URL).
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# (group, modules): the order is the order a worker meets them, so that each figure is what the
# group adds on top of the ones above it.
GROUPS: list[tuple[str, list[str]]] = [
    ("werkzeug, flask, jinja2, click", ["werkzeug", "flask", "jinja2", "click"]),
    ("sqlalchemy (core and orm)", ["sqlalchemy", "sqlalchemy.orm"]),
    ("psycopg 3 and libpq", ["psycopg", "sqlalchemy.dialects.postgresql.psycopg"]),
    ("requests, urllib3", ["requests"]),
    ("marshmallow, webargs, apispec, flask-smorest", ["marshmallow", "flask_smorest"]),
    ("pluggy, prometheus_client", ["pluggy", "prometheus_client"]),
    ("limits (lockout, notify guard)", ["limits", "limits.storage", "limits.strategies"]),
    ("gateway core: plugin, store, domain", ["gateway.plugin", "gateway.store.db", "gateway.domain.core"]),
    ("gateway.web (API, app factory)", ["gateway.web.app"]),
    ("providers: gateway_iotpay, gateway_stripe", ["gateway_iotpay.plugin", "gateway_stripe.plugin"]),
]

# What the app imports only when asked for, and what each adds to a worker that does import it, are
# tests/support/lazy_imports.py's ON_DEMAND: the list tests/gateway/test_lazy_imports.py guards. It is
# imported where needed, never before the "python itself" figure, which must be bare Python's.


def _on_demand_priced() -> list[tuple[str, tuple[str, ...]]]:
    from tests.support.lazy_imports import ON_DEMAND

    return [(f"{part.package}: {part.when}", part.measured) for part in ON_DEMAND if part.measured]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def import_group(modules: list[str]) -> tuple[float, int]:
    before, loaded = rss_mb(), len(sys.modules)
    for name in modules:
        importlib.import_module(name)
    return rss_mb() - before, len(sys.modules) - loaded


def production_environ(database_url: str) -> dict[str, str]:
    from bench import servers

    work = tempfile.mkdtemp(prefix="gateway-bench-imports-")
    return servers.gateway_config(database_url, "http://127.0.0.1:9", Path(work))


def busy_threads(app: object, count: int) -> float:
    """`count` threads each inside a request that waits (a notify whose confirming query hangs), as
    a loaded worker's threads are; returns the RSS they add, measured while they wait."""
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(count)  # accepts nothing: every connect completes, every read waits
    before = rss_mb()
    release = threading.Event()
    client = app.test_client()  # type: ignore[attr-defined]

    def hold() -> None:
        client.get("/healthz")  # a request through the app in this thread: its malloc arena, if it gets one
        with socket.create_connection(listener.getsockname()):  # the stack and a socket, held while it waits
            release.wait()

    threads = [threading.Thread(target=hold) for _ in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    held = rss_mb() - before
    release.set()
    for thread in threads:
        thread.join()
    listener.close()
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--optional", action="store_true", help="also what the lazily imported parts add")
    parser.add_argument("--threads", type=int, default=0, help="hold N threads busy after building the app")
    parser.add_argument("--server", action="store_true", help="an idle worker of the real server instead")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # the fresh process
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one optional group, in a fresh process
    args = parser.parse_args()
    if args.one is not None:
        from gateway.ops.startup import app_or_exit

        app_or_exit()
        group, modules = _on_demand_priced()[args.one]
        added, count = import_group(list(modules))
        print(f"{'+ ' + group:<52} {added:+6.1f} MB  ({count} modules)")
        return
    if args.server:
        idle_server()
        return
    if not args.measure:
        # The measuring process must import nothing of its own first (bench.servers pulls in Flask,
        # requests ...): it gets the bench's settings in its environment and starts from bare Python.
        database_url = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        environ = {name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")}
        environ.update(production_environ(database_url))
        command = [sys.executable, "-m", "bench.imports", "--measure", *sys.argv[1:]]
        subprocess.run(command, env=environ, check=True)
        if args.optional:
            print("what each part imported on demand adds to a worker after create_app() (a fresh process each):")
            for index in range(len(_on_demand_priced())):
                subprocess.run([sys.executable, "-m", "bench.imports", "--one", str(index)], env=environ, check=True)
        return
    measure(args.threads)


def idle_server() -> None:
    """The gateway on the server `gateway run` uses (GATEWAY_SERVER), as `make bench` starts it, on a
    fresh PostgreSQL database: each worker's RSS once it has started, and after one request each."""
    import time

    import requests

    from bench import servers

    work = servers.workdir()
    with servers.postgres_database("imports") as url:
        config = servers.gateway_config(url, "http://127.0.0.1:9", work)
        with servers.deployed("wsgi:app", config, work, name="gateway-idle") as running:
            time.sleep(2)  # both workers up (the health check reached one)
            pids = running.worker_pids()
            print("idle workers:", ", ".join(f"{servers.rss_mb(pid):.1f} MB" for pid in pids))
            parts = ", ".join(f"{part} {mb:.1f} MB" for part, mb in servers.rss_parts(pids[0]).items())
            print(f"  of which ({pids[0]}): {parts}")
            for _ in range(20):
                requests.get(f"{running.url}/healthz", timeout=10)
            print("after 20 /healthz:", ", ".join(f"{servers.rss_mb(pid):.1f} MB" for pid in pids))


def measure(threads: int) -> None:
    start = rss_mb()
    print(f"{'python itself':<52} {start:6.1f} MB")
    for group, modules in GROUPS:
        added, count = import_group(modules)
        print(f"{group:<52} {added:+6.1f} MB  ({count} modules)")
    from gateway.ops.startup import app_or_exit

    before, loaded = rss_mb(), len(sys.modules)
    app = app_or_exit()
    added = rss_mb() - before
    modules = len(sys.modules) - loaded
    print(f"{'create_app(): what the groups above left out':<52} {added:+6.1f} MB  ({modules} modules)")
    print(f"{'a worker after create_app()':<52} {rss_mb():6.1f} MB  ({len(sys.modules)} modules)")
    from tests.support.lazy_imports import EAGER_BY_LIBRARIES, ON_DEMAND, loaded

    eager = loaded(sys.modules, [part.package for part in ON_DEMAND])
    print("imported at start that should wait until asked for:", ", ".join(eager) or "none")
    by_libraries = loaded(sys.modules, EAGER_BY_LIBRARIES)
    print("imported at start by libraries, unused by requests:", ", ".join(by_libraries) or "none")
    if threads:
        print(f"{f'{threads} threads held busy':<52} {busy_threads(app, threads):+6.1f} MB")


if __name__ == "__main__":
    main()
