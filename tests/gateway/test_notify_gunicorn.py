"""Exactly once across processes: 20 identical notifies hit a real gunicorn (4 workers x 4 threads)
at the same moment; one applies, nineteen are duplicates, one `gateway_order_paid` call in all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select

from gateway.store.models import NotificationRecord
from tests.conftest import MCH_ID, MCH_KEY
from tests.gateway.test_notify import NOTIFY_PATH, PAID_AT, fire_together, order_fields, signed_notify
from tests.support.keys import AUTH
from tests.support.processes import Gunicorn, free_port

pytestmark = pytest.mark.slow

START_SECONDS = 30.0


def _wait_until_healthy(server: Gunicorn) -> None:
    """Like Gunicorn.wait_until_healthy, but a /healthz read time-out while workers boot is not fatal."""
    deadline = time.monotonic() + START_SECONDS
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.process.returncode} before serving:\n{server.output()}")
        try:
            response = requests.get(f"{server.url}/healthz", timeout=2)
        except requests.RequestException as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200:
                return
            last = f"/healthz answered {response.status_code}: {response.text[:200]}"
        time.sleep(0.1)
    pytest.fail(f"gunicorn was not healthy within {START_SECONDS}s ({last}); its output:\n{server.output()}")


@pytest.fixture
def paid_log(tmp_path: Path) -> Path:
    return tmp_path / "paid.log"


@pytest.fixture
def gunicorn(database_url: str, simulator: Any, paid_log: Path, tmp_path: Path) -> Iterator[Gunicorn]:
    port = free_port()
    config = {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_INSTANCE_PATH": str(tmp_path / "instance"),
        "GATEWAY_PLUGINS": "tests.support.paid_log",
        "PAID_LOG_PATH": str(paid_log),
        "IOTPAY_MCH_ID": MCH_ID,
        "IOTPAY_SECRET_KEY": MCH_KEY,
        "IOTPAY_API_URL": f"{simulator.url}/v1",
        "IOTPAY_TIMEOUT": "5",
        "PYTHONUNBUFFERED": "1",
    }
    # gunicorn -c gunicorn.conf.py --bind 127.0.0.1:<port> --workers 4 --threads 4 wsgi:app, cwd = repo root.
    server = Gunicorn(config, port, "--workers", "4", "--threads", "4", log_path=tmp_path / "gunicorn.log")
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        server.stop()  # SIGTERM, then kill after 10 s


def _verdicts(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return sorted(connection.scalars(select(NotificationRecord.verdict)))
    finally:
        engine.dispose()


def test_twenty_identical_notifies_across_gunicorn_workers_apply_once(
    gunicorn: Gunicorn, database_url: str, simulator: Any, paid_log: Path
) -> None:
    response = requests.post(f"{gunicorn.url}/v1/orders", json=order_fields(), headers=AUTH, timeout=30)
    assert response.status_code == 201, f"{response.status_code} {response.text}\n{gunicorn.output()}"
    order = response.json()
    # IOTPay took the payment (the gateway confirms each notify with IOTPay's query before applying it).
    paying = {"payOrderId": order["provider_order_id"], "notify": "false"}
    assert requests.post(f"{simulator.url}/pay", data=paying, timeout=10).status_code == 202

    replies = fire_together(f"{gunicorn.url}{NOTIFY_PATH}", signed_notify(order))

    assert replies == [(200, "success")] * 20, gunicorn.output()
    assert _verdicts(database_url) == ["applied"] + ["duplicate"] * 19
    assert paid_log.read_text().splitlines() == [order["id"]], gunicorn.output()
    shown = requests.get(f"{gunicorn.url}/v1/orders/{order['id']}", headers=AUTH, timeout=10).json()
    assert shown["status"] == "paid"
    assert datetime.fromisoformat(shown["paid_at"]) == PAID_AT
