"""Notify throughput and create-order latency of the gateway under gunicorn, against the simulator.

    .venv/bin/python bench/notify_throughput.py [--orders 200] [--concurrency 16] [--database URL]

Starts the IOTPay simulator (in this process) and gunicorn with the repository's gunicorn.conf.py,
creates --orders orders through POST /v1/orders, then sends every order's signed paid notify
twice (the second is a duplicate), --concurrency at a time, and prints latency percentiles and
rates. The database defaults to a fresh SQLite file; pass a PostgreSQL URL to measure that.
Targets (see bench/README.md) are checked by eye, not asserted: machines differ.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_iotpay import signing
from gateway_iotpay.sandbox.app import create_simulator

from gateway import migrate
from gateway.testing.live import LiveServer
from tests.support.processes import Gunicorn, free_port

MCH_ID, KEY = "10000701", "bench-key-0123456789abcdef012345"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {pick(0.5):.1f} ms, p95 {pick(0.95):.1f} ms, p99 {pick(0.99):.1f} ms"


def timed(call):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    database = args.database or f"sqlite:///{work / 'gateway.sqlite3'}"
    migrate.upgrade(database)
    simulator = create_simulator({MCH_ID: KEY}, str(work / "sim.sqlite3"))
    sim_server = LiveServer(simulator)
    port = free_port()
    config = {
        "GATEWAY_DATABASE_URL": database,
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_INSTANCE_PATH": str(work),
        "GATEWAY_LOG_LEVEL": "warning",
        "IOTPAY_MCH_ID": MCH_ID,
        "IOTPAY_SECRET_KEY": KEY,
        "IOTPAY_API_URL": f"{sim_server.url}/v1",
    }
    server = Gunicorn(config, port, "--workers", "2", "--threads", "8", log_path=work / "gunicorn.log")
    try:
        server.wait_until_healthy()
        session = requests.Session()
        body = {"channel": "ALIPAY_MOBILE", "amount": 2856, "currency": "CAD", "subject": "bench", "body": "bench"}

        def create(_: int) -> tuple[float, dict]:  # type: ignore[type-arg]
            return timed(lambda: session.post(f"{server.url}/v1/orders", json=body, timeout=30).json())

        with ThreadPoolExecutor(args.concurrency) as pool:
            started = time.perf_counter()
            created = list(pool.map(create, range(args.orders)))
            create_seconds = time.perf_counter() - started
        orders = [order for _, order in created]

        def notify(order: dict) -> tuple[float, str]:  # type: ignore[type-arg]
            params = {
                "payOrderId": order["provider_order_id"], "mchId": MCH_ID, "mchOrderNo": order["merchant_order_no"],
                "currency": "CAD", "amount": "2856", "status": "2", "backType": "2",
            }  # fmt: skip
            params["sign"] = signing.sign(params, KEY)
            return timed(lambda: session.post(f"{server.url}/notify/iotpay", params=params, timeout=30).text)

        with ThreadPoolExecutor(args.concurrency) as pool:
            started = time.perf_counter()
            notified = list(pool.map(notify, orders + orders))
            notify_seconds = time.perf_counter() - started
        assert all(text == "success" for _, text in notified), "a notify was not acknowledged"

        print(f"database: {database.split(':', 1)[0]}, orders: {args.orders}, concurrency: {args.concurrency}")
        print(f"create_order: {args.orders / create_seconds:.0f}/s, {percentiles([t for t, _ in created])}")
        print(
            f"notify (half duplicates): {len(notified) / notify_seconds:.0f}/s, {percentiles([t for t, _ in notified])}"
        )
        signing_seconds = statistics.mean(timed(lambda: signing.sign(params_sample(), KEY))[0] for _ in range(2000))
        print(f"signing: {signing_seconds * 1e6:.1f} us")
    finally:
        server.stop()
        sim_server.stop()
        simulator.close()


def params_sample() -> dict[str, str]:
    return {"mchId": MCH_ID, "mchOrderNo": "20261125000000abcdef012345", "amount": "2856", "status": "2"}


if __name__ == "__main__":
    main()
