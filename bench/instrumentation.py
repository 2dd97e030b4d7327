"""What metrics, request ids and the console's call records cost, measured inside one process.

    .venv/bin/python -m bench.instrumentation

Logging is on at INFO, every line formatted as JSON (to /dev/null).

1. Notify: 2 x 800 signed notifies (first-time, then duplicates) through the app on SQLite under
   cProfile; prints the share of CPU time spent in the instrumentation (gateway.telemetry.logs,
   gateway.telemetry.metrics, gateway.domain.instrument, gateway.web.request_ids, gateway.web.observe and
   prometheus_client), own time plus what the request-id hooks call. A share, not a wall-clock
   difference: other processes on the machine cancel out.
2. create_order: p50 with and without the provider-call record (one INSERT), in alternating batches
   against the IOTPay simulator; on SQLite, or on BENCH_DATABASE_URL (an empty database).
"""

from __future__ import annotations

import cProfile
import logging
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway_iotpay.sandbox.app import create_simulator

from bench import seed
from bench.servers import AUTH, KEY, MCH_ID, gateway_config
from gateway import create_app
from gateway.domain import instrument
from gateway.store import migrate
from gateway.telemetry.logs import JsonFormatter
from gateway.testing.live import LiveServer

INSTRUMENTATION = (
    "gateway/telemetry/logs.py",
    "gateway/telemetry/metrics.py",
    "gateway/domain/instrument.py",
    "gateway/web/observe.py",
)
REQUEST_ID_HOOKS = "views/request_ids.py"
NOTIFIES = 800


def notify_share(work: Path) -> str:
    url = f"sqlite:///{work / 'notify.sqlite3'}"
    migrate.upgrade(url)
    seed.seed_orders(url, NOTIFIES + 50, MCH_ID)
    app = create_app(gateway_config(url, "http://127.0.0.1:9", work))
    client = app.test_client()
    paths = [seed.notify_path(i, MCH_ID, KEY) for i in range(NOTIFIES + 50)]
    for path in paths[NOTIFIES:]:  # warm-up: connections, caches
        client.post(path)
    profile = cProfile.Profile()
    profile.enable()
    for path in paths[:NOTIFIES] * 2:
        assert client.post(path).data == b"success"
    profile.disable()
    stats: Any = pstats.Stats(profile)
    total = stats.total_tt
    own = sum(
        row[2]
        for (file, _line, _name), row in stats.stats.items()
        if any(part in file for part in (*INSTRUMENTATION, "prometheus_client"))
    )
    hooks = sum(row[3] for (file, _line, _name), row in stats.stats.items() if REQUEST_ID_HOOKS in file)
    app.extensions["gateway"].db.dispose()
    share = (own + hooks) / total
    per_notify = 1e6 / (2 * NOTIFIES)
    return (
        f"notify: instrumentation {share:.1%} of CPU ({(own + hooks) * per_notify:.0f} us of "
        f"{total * per_notify:.0f} us per notify, under cProfile)"
    )


def create_cost(work: Path) -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{work / 'create.sqlite3'}"
    migrate.upgrade(url)
    simulator = create_simulator({MCH_ID: KEY}, str(work / "simulator.sqlite3"))
    server = LiveServer(simulator)
    app = create_app(gateway_config(url, server.url, work))
    client = app.test_client()
    body = {"channel": "WX_APP", "amount": 2856, "currency": "CAD", "subject": "bench", "body": "bench"}
    record = instrument._record

    def batch(count: int) -> list[float]:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            assert client.post("/v1/orders", json=body, headers=AUTH).status_code == 201
            times.append(time.perf_counter() - started)
        return times

    def off(*args: Any, **kwargs: Any) -> None:
        return None

    batch(20)
    with_record: list[float] = []
    without: list[float] = []
    for _ in range(5):
        instrument._record = record
        with_record += batch(40)
        instrument._record = off
        without += batch(40)
    instrument._record = record
    server.stop()
    simulator.close()
    app.extensions["gateway"].db.dispose()
    p50_with, p50_without = statistics.median(with_record), statistics.median(without)
    return (
        f"create_order p50 on {url.split(':')[0]}: {p50_with * 1000:.1f} ms with the provider-call record, "
        f"{p50_without * 1000:.1f} ms without ({(p50_with / p50_without - 1):+.1%})"
    )


def main(measure: tuple[Callable[[Path], str], ...] = (notify_share, create_cost)) -> None:
    # Every INFO line written as JSON (to /dev/null): the formatter's cost counts, not the terminal's.
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - for the whole run
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the simulator's LiveServer access lines
    work = Path(tempfile.mkdtemp(prefix="gateway-bench-instrumentation-"))
    for step in measure:
        print(step(work), flush=True)


if __name__ == "__main__":
    main()
