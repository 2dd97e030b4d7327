"""What the benchmarks run against: gunicorn processes, throwaway PostgreSQL databases, the upstream."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gateway.ops import granian_conf
from gateway.store import migrate
from tests.support.processes import Gunicorn, free_port

MCH_ID, KEY = "10000701", "bench-key-0123456789abcdef012345"
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# The server the gateway and its own hello-world run on: GATEWAY_SERVER, as `gateway run` reads it.
SERVER = granian_conf.chosen_server()


@contextlib.contextmanager
def gunicorn(
    app: str, config: Mapping[str, str], work: Path, *extra_args: str, name: str = "server"
) -> Iterator[Gunicorn]:
    port = free_port()
    server = Gunicorn(
        {"GATEWAY_LOG_LEVEL": "warning", **config}, port, *extra_args, log_path=work / f"{name}.log", app=app
    )
    with _running(server):
        yield server


# What granian serves for each WSGI app: the app behind the gateway's RSGI bridge, built in each worker.
RSGI_FACTORIES = {"wsgi:app": "gateway.ops.startup:granian_app", "bench.hello:app": "bench.hello:rsgi_app"}


@contextlib.contextmanager
def deployed(
    app: str, config: Mapping[str, str], work: Path, *extra_args: str, name: str = "server", server: str = SERVER
) -> Iterator[Gunicorn]:
    """`app` on `server` (by default the one `gateway run` would use, GATEWAY_SERVER), with the gateway's settings."""
    if server == "gunicorn":
        with gunicorn(app, config, work, *extra_args, name=name) as running:
            yield running
        return
    port = free_port()
    config = {"GATEWAY_LOG_LEVEL": "warning", **config}
    environ = {**os.environ, **config}
    factory = RSGI_FACTORIES[app]
    command = granian_conf.granian_argv(factory, ["--bind", f"127.0.0.1:{port}", "--factory", *extra_args], environ)
    with _running(Gunicorn.command(command, config, port, log_path=work / f"{name}.log")) as running:
        yield running


@contextlib.contextmanager
def hello_sync(work: Path) -> Iterator[Gunicorn]:
    """The baseline users compare with: Flask's hello-world on gunicorn with 2 sync workers, gunicorn's
    defaults otherwise (no access log), as a Flask user deploys it without thinking."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--config", "python:bench", "--workers", "2", "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}", "bench.hello:app",
    ]  # fmt: skip
    with _running(Gunicorn.command(command, {}, port, log_path=work / "hello-sync.log")) as server:
        yield server


@contextlib.contextmanager
def _running(server: Gunicorn) -> Iterator[Gunicorn]:
    try:
        server.wait_until_healthy(60)
        yield server
    finally:
        server.stop()


# bench/creates.lua sends the same key.
API_KEY = "bench-api-key-0123456789abcdef"
WX_APP_ID = "wxbench000000001"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def gateway_config(database_url: str, upstream_url: str, work: Path) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_SANDBOX": "0",  # the production configuration: `make bench` inherits make's GATEWAY_SANDBOX=1
        "GATEWAY_PUBLIC_URL": "http://127.0.0.1:9",  # notify_url only: the upstream never calls it back here
        "GATEWAY_INSTANCE_PATH": str(work),
        "GATEWAY_API_KEYS": API_KEY,  # outside the sandbox the gateway never starts without one
        "IOTPAY_MCH_ID": MCH_ID,
        "IOTPAY_SECRET_KEY": KEY,
        "IOTPAY_API_URL": f"{upstream_url}/v1",
        "IOTPAY_WX_APP_ID": WX_APP_ID,  # the creates' channel, WX_APP (bench/run.py: ORDER_BODY)
        # The upstream shares the machine: when it is starved, a slow answer is the machine, not IOTPay.
        "IOTPAY_TIMEOUT": "60",
        # Notifies are confirmed by query (the default): bench/seed.py seeds the upstream's orders as paid too.
        # Every load connection comes from 127.0.0.1, as behind a proxy: the per-address cap (64 per
        # worker by default) would refuse the 256-connection row with too_many_connections.
        "GATEWAY_CLIENT_CONNECTIONS": "0",
    }


@contextlib.contextmanager
def upstream(work: Path) -> Iterator[Gunicorn]:
    """The simulator in one gevent worker of its own (bench/upstream.py).

    Its SQLite state lives in memory (/dev/shm): an fsync per create_order would block the one
    worker and make the upstream, not the gateway, what the slow-provider rows measure.
    """
    state = Path(tempfile.mkdtemp(prefix="gateway-bench-upstream-", dir=_memory_dir())) / "upstream.sqlite3"
    config = {"BENCH_UPSTREAM_STATE": str(state), "BENCH_MCH_ID": MCH_ID, "BENCH_KEY": KEY}
    with gunicorn(
        "bench.upstream:app", config, work, "--worker-class", "gevent", "--workers", "1",
        "--worker-connections", "2000", "--keep-alive", "75", "--access-logfile", "/dev/null", name="upstream",
    ) as server:  # fmt: skip
        try:
            UPSTREAM_STATE[server.url] = state
            yield server
        finally:
            shutil.rmtree(state.parent, ignore_errors=True)


UPSTREAM_STATE: dict[str, Path] = {}  # each upstream's state file, by its URL: bench/seed.py writes orders into it


def _memory_dir() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") else None


def set_latency(server: Gunicorn, seconds: float) -> None:
    requests.post(f"{server.url}/_bench/latency?seconds={seconds}", timeout=10).raise_for_status()


def upstream_stats(server: Gunicorn, reset: bool = False) -> dict[str, int]:
    stats: dict[str, int] = requests.get(f"{server.url}/_bench/stats{'?reset=1' if reset else ''}", timeout=10).json()
    return stats


def postgres_available() -> bool:
    try:
        engine = create_engine(ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def postgres_database(label: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database, dropped afterwards."""
    name = f"gateway_bench_{label}_{os.getpid()}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_database(work: Path) -> str:
    url = f"sqlite:///{work / 'gateway.sqlite3'}"
    migrate.upgrade(url)
    return url


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="gateway-bench-"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# glibc aligns the heaps of its extra malloc arenas (one per busy thread, up to 8 per core) to their
# maximum size, 64 MiB on 64-bit systems; a thread's stack sits right above a guard page or a few.
_ARENA_HEAP_ALIGN = 64 << 20
_STACK_GUARD_MAX = 64 << 10


def rss_parts(pid: int) -> dict[str, float]:
    """Where a process's RSS is, in MB, from /proc/<pid>/smaps: mapped files (Python, the C extensions
    and their libraries), thread stacks (anonymous mappings right above a small inaccessible guard, as
    glibc lays out a thread's stack), the extra malloc arenas glibc gives threads (anonymous mappings
    at a 64 MiB boundary; their inaccessible reserve above can look like a guard, so they are told
    apart first), and the rest of the anonymous memory (the main heap, Python's object allocator)."""
    parts = {"files": 0.0, "thread stacks": 0.0, "threads' malloc arenas": 0.0, "heap and other anonymous": 0.0}
    kind, previous = "", ("", 0, 0)  # the previous mapping's permissions, start and end
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:  # a mapping's header: address perms offset dev inode [path]
            start, end = (int(address, 16) for address in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            guarded = previous[0] == "---p" and previous[2] == start and previous[2] - previous[1] <= _STACK_GUARD_MAX
            if name.startswith("/"):
                kind = "files"
            elif name:
                kind = "heap and other anonymous"  # [heap], [stack], [vdso] ...
            elif start % _ARENA_HEAP_ALIGN == 0:
                kind = "threads' malloc arenas"
            elif guarded:
                kind = "thread stacks"
            else:
                kind = "heap and other anonymous"
            previous = (fields[1], start, end)
        elif fields[0] == "Rss:":
            parts[kind] += int(fields[1]) / 1024
    return parts
