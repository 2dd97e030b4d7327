"""Exactly once across processes: 20 identical notifies hit a real gunicorn (4 workers x 4 threads)
at the same moment; one applies, nineteen are duplicates, one `gateway_order_paid` call in all.
The provider is Example Pay (examples/), whose notification is one signed JSON body."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select

from gateway.store.models import NotificationRecord
from gateway.testing import HttpRequest, ProviderHarness
from tests.gateway.conftest import EXAMPLE, neutral_settings
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
def gunicorn(
    database_url: str, neutral_provider: ProviderHarness, paid_log: Path, tmp_path: Path
) -> Iterator[Gunicorn]:
    port = free_port()
    neutral = neutral_settings(neutral_provider, f"http://127.0.0.1:{port}")
    config = {
        **neutral,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_INSTANCE_PATH": str(tmp_path / "instance"),
        "GATEWAY_PLUGINS": f"tests.support.paid_log,{neutral['GATEWAY_PLUGINS']}",
        "PAID_LOG_PATH": str(paid_log),
        "EXAMPLE_TIMEOUT": "5",
        "PYTHONPATH": str(EXAMPLE),  # Example Pay is loaded by module path, not installed
        "PYTHONUNBUFFERED": "1",
    }
    # `gateway run --bind 127.0.0.1:<port>` on the default server, 4 workers x 4 threads.
    server = Gunicorn.deployed(config, port, workers=4, threads=4, log_path=tmp_path / "server.log")
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


def fire_together(url: str, request: HttpRequest, count: int = 20) -> list[tuple[int, str]]:
    """POST the same notification `count` times, all threads released at once by a barrier."""
    barrier = threading.Barrier(count)
    replies: list[tuple[int, str] | BaseException] = [RuntimeError("no reply")] * count

    def deliver(index: int) -> None:
        try:
            with requests.Session() as session:
                barrier.wait(timeout=30)
                response = session.post(url, data=request.body, headers=dict(request.headers), timeout=60)
                replies[index] = (response.status_code, response.text)
        except BaseException as exc:  # reported by the caller, not lost in the thread
            replies[index] = exc

    threads = [threading.Thread(target=deliver, args=(i,), name=f"notify-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not any(t.is_alive() for t in threads), "a notify request hung"
    failures = [r for r in replies if isinstance(r, BaseException)]
    assert not failures, failures
    return [r for r in replies if not isinstance(r, BaseException)]


def test_twenty_identical_notifies_across_gunicorn_workers_apply_once(
    gunicorn: Gunicorn,
    database_url: str,
    neutral_provider: ProviderHarness,
    neutral_order: dict[str, Any],
    paid_log: Path,
) -> None:
    response = requests.post(f"{gunicorn.url}/v1/orders", json=neutral_order, headers=AUTH, timeout=30)
    assert response.status_code == 201, f"{response.status_code} {response.text}\n{gunicorn.output()}"
    order = response.json()
    neutral_provider.pay_without_notifying(order)  # the payer paid; the notification is sent 20 times below

    replies = fire_together(
        f"{gunicorn.url}/notify/{neutral_provider.provider_name}", neutral_provider.paid_notification(order)
    )

    assert replies == [(200, "ok")] * 20, gunicorn.output()
    assert _verdicts(database_url) == ["applied"] + ["duplicate"] * 19
    assert paid_log.read_text().splitlines() == [order["id"]], gunicorn.output()
    shown = requests.get(f"{gunicorn.url}/v1/orders/{order['id']}", headers=AUTH, timeout=10).json()
    assert shown["status"] == "paid" and shown["paid_at"]
