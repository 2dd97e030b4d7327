"""CPU per request, in one process and one thread: where a notify's own time goes, with no GIL
contention, no server and no load generator in the way.

    .venv/bin/python -m bench.cpu [first|duplicate|create|direct|hello] [sqlite|postgresql] [--count 2000] [--profile]
    .venv/bin/python -m bench.cpu create postgresql --statements     what each request sends to PostgreSQL

Builds the gateway app exactly as wsgi.py does (against a fresh database seeded by bench/seed.py),
calls it as a WSGI server would, and prints microseconds of this process's CPU and of wall time per
request. `direct` is the create_order `make bench` compares `create` with, signed and sent straight
to the upstream: `create` less `direct` is the gateway's own CPU around the provider call.

With --profile, cProfile's top functions by their own time. With --statements (PostgreSQL), the
round trips each request makes, counted in psycopg itself (so BEGIN and COMMIT, which SQLAlchemy's
events do not see, and statements sent on a raw cursor count too). The numbers that bound the
throughput rows of `make bench` (CPU per request, summed over every process that serves it) are
these plus the server's and the database's share.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench import seed, servers
from bench.servers import KEY, MCH_ID

CREATE_BODY = json.dumps(
    {"channel": "WX_APP", "amount": 2856, "currency": "CAD", "subject": "bench", "body": "bench"}
).encode()


def _environ(path: str) -> dict[str, Any]:
    route, _, query = path.partition("?")
    body = CREATE_BODY if route == "/v1/orders" else b""
    return {
        "REQUEST_METHOD": "POST", "PATH_INFO": route, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": servers.AUTH["Authorization"],
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }  # fmt: skip


def call(app: Callable[..., Any], path: str) -> bytes:
    status: list[str] = []
    body = b"".join(app(_environ(path), lambda s, h, exc_info=None: status.append(s)))
    assert status[0][:3] in ("200", "201"), (status, body)
    return body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["first", "duplicate", "create", "direct", "hello"])
    parser.add_argument("database", choices=["sqlite", "postgresql"], nargs="?", default="postgresql")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--statements", action="store_true", help="count what each request sends to PostgreSQL")
    args = parser.parse_args()
    work = servers.workdir()
    if args.kind == "hello":
        from bench.hello import app as hello

        measure(args, hello, ["/hello"] * args.count)
        return
    if args.database == "sqlite":
        run(args, servers.sqlite_database(work), work)
    else:
        with servers.postgres_database("cpu") as url:
            run(args, url, work)


def run(args: argparse.Namespace, url: str, work: Any) -> None:
    if args.kind == "direct":  # the same create_order, signed and sent straight to the upstream
        with servers.upstream(work) as upstream:
            measure(args, _direct_create(upstream.url), ["/direct"] * args.count)
        return
    if args.kind == "create":
        with servers.upstream(work) as upstream:
            app = _app(url, upstream.url, work)
            measure(args, app, ["/v1/orders"] * args.count)
        return
    orders = args.count if args.kind == "first" else 200
    seed.seed_orders(url, orders, MCH_ID)
    paths = [seed.notify_path(i, MCH_ID, KEY) for i in range(orders)]
    with servers.upstream(work) as upstream:  # first-time notifies are confirmed by its query
        seed.seed_upstream(servers.UPSTREAM_STATE[upstream.url], 0, orders, MCH_ID)
        app = _app(url, upstream.url, work)
        if args.kind == "duplicate":
            for path in paths:
                call(app, path)
            paths = [paths[i % len(paths)] for i in range(args.count)]
        measure(args, app, paths)


def _direct_create(upstream_url: str) -> Callable[..., Any]:
    """What `make bench` compares the gateway's create with (its client, its signing, no gateway), as a
    WSGI app: `create` less `direct` is the gateway's own CPU around the provider call."""
    from gateway_iotpay import signing
    from gateway_iotpay.client import IotPayClient

    client = IotPayClient(f"{upstream_url}/v1", timeout=30)

    def create() -> None:
        params = {
            "mchId": MCH_ID, "mchOrderNo": f"D{time.time_ns()}", "channelId": "WX_APP", "currency": "CAD",
            "amount": 2856, "clientIp": "127.0.0.1", "device": "app", "notifyUrl": "http://127.0.0.1:9/notify/iotpay",
            "subject": "bench", "body": "bench", "extra": f'{{"type":"apppay","appId":"{servers.WX_APP_ID}"}}',
        }  # fmt: skip
        params["sign"] = signing.sign(params, KEY)
        assert client.call("create_order", params).get("payOrderId")

    def app(_environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        create()
        start_response("201 Created", [])
        return [b""]

    return app


def _app(url: str, upstream_url: str, work: Any) -> Callable[..., Any]:
    os.environ.update(servers.gateway_config(url, upstream_url, work))
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(work))
    from gateway import create_app

    return create_app()


def measure(args: argparse.Namespace, app: Callable[..., Any], paths: list[str]) -> None:
    for path in paths[:20] if args.kind != "first" else []:
        call(app, path)  # warm up
    profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not waiting
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    sent = _count_round_trips() if args.statements else None
    for path in paths:
        call(app, path)
    if profiler:
        profiler.disable()
    if sent is not None:
        _print_round_trips(sent, len(paths))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = len(paths)
    print(f"{args.kind}: {n} requests, {cpu / n * 1e6:.0f} us CPU and {wall / n * 1e6:.0f} us wall per request")
    if profiler:
        profiler.dump_stats(os.environ.get("BENCH_CPU_STATS", "/tmp/bench-cpu.pstats"))
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)


def _count_round_trips() -> Counter[str]:
    """Count, by their first words, the statements and commands psycopg sends from now on."""
    import psycopg
    from psycopg._connection_base import BaseConnection

    sent: Counter[str] = Counter()

    def name(query: Any) -> str:
        text = query.decode() if isinstance(query, bytes) else str(query)
        return " ".join(text.split()[:3])

    execute, executemany, command = psycopg.Cursor.execute, psycopg.Cursor.executemany, BaseConnection._exec_command

    def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent[name(query)] += 1
        return execute(self, query, *args, **kwargs)

    def counted_executemany(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent[name(query) + " (executemany)"] += 1
        return executemany(self, query, *args, **kwargs)

    def counted_command(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent[name(query)] += 1
        return (yield from command(self, query, *args, **kwargs))

    psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign,assignment]
    psycopg.Cursor.executemany = counted_executemany  # type: ignore[method-assign,assignment]
    BaseConnection._exec_command = counted_command  # type: ignore[method-assign,assignment]
    return sent


def _print_round_trips(sent: Counter[str], requests: int) -> None:
    print(f"sent to the database per request ({sum(sent.values()) / requests:.2f} in all):")
    for statement, count in sent.most_common():
        print(f"  {count / requests:5.2f}  {statement}")


if __name__ == "__main__":
    main()
