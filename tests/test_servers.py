"""`gateway run` on each server it supports (GATEWAY_SERVER: gunicorn, the default, or granian): it serves,
echoes request ids and logs them on its access line, adds up every worker's metrics, and a stop lets
the request in flight finish."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import MCH_ID, MCH_KEY
from tests.support.keys import AUTH
from tests.support.processes import Gunicorn, free_port

pytestmark = pytest.mark.slow

METRICS_KEY = "metrics-key-0123456789abcdef"
ORDER = {"channel": "ALIPAY_MOBILE", "amount": 2856, "currency": "CAD", "subject": "Coffee", "body": "1kg"}


@pytest.fixture(params=["gunicorn", "granian"])
def served(request: pytest.FixtureRequest, sqlite_url: str, simulator: Any, tmp_path: Path) -> Iterator[Gunicorn]:
    port = free_port()
    config = {
        "GATEWAY_SERVER": request.param,
        "GATEWAY_DATABASE_URL": sqlite_url,
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_INSTANCE_PATH": str(tmp_path / "instance"),
        "GATEWAY_WORKERS": "2",
        "GATEWAY_THREADS": "4",
        "GATEWAY_METRICS_KEYS": METRICS_KEY,
        "GATEWAY_LOG_FORMAT": "json",
        "IOTPAY_MCH_ID": MCH_ID,
        "IOTPAY_SECRET_KEY": MCH_KEY,
        "IOTPAY_API_URL": f"{simulator.url}/v1",
        "PYTHONUNBUFFERED": "1",
    }
    server = Gunicorn.gateway_run(config, port, log_path=tmp_path / "server.log")
    try:
        server.wait_until_healthy(60)
        yield server
    finally:
        server.stop()


def test_it_serves_with_request_ids_and_every_workers_metrics(served: Gunicorn) -> None:
    for number in range(4):  # a connection each: the workers share them out
        response = requests.post(
            f"{served.url}/v1/orders", json=ORDER, headers={**AUTH, "X-Request-Id": f"req-{number}"}
        )
        assert response.status_code == 201, response.text
        assert response.headers["X-Request-Id"] == f"req-{number}"
    # Each worker counts its own; /metrics, answered by either, adds them up (PROMETHEUS_MULTIPROC_DIR).
    metrics = requests.get(f"{served.url}/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"}, timeout=10)
    assert metrics.status_code == 200, metrics.text
    pending = 'gateway_order_transitions_total{provider="iotpay",status="pending"}'
    created = [line for line in metrics.text.splitlines() if line.startswith(pending)]
    assert created and float(created[0].rsplit(" ", 1)[1]) == 4.0, metrics.text
    # The access line, in the chosen format (JSON here), joined to the request by its id.
    lines = [json.loads(line) for line in served.output().splitlines() if line.startswith("{")]
    access = [line["message"] for line in lines if '"POST /v1/orders" 201' in line.get("message", "")]
    assert len(access) == 4 and access[0].endswith("req-0"), served.output()


def test_a_stop_lets_the_request_in_flight_finish(served: Gunicorn, simulator_faults: Callable[..., None]) -> None:
    simulator_faults("create_order", "delay", seconds=2)
    answers: list[requests.Response] = []
    client = threading.Thread(
        target=lambda: answers.append(requests.post(f"{served.url}/v1/orders", json=ORDER, headers=AUTH, timeout=30))
    )
    client.start()
    threading.Event().wait(0.8)  # the create is waiting for the provider
    served.process.send_signal(signal.SIGTERM)
    client.join(30)
    assert [answer.status_code for answer in answers] == [201], served.output()
    assert served.process.wait(30) == 0, served.output()
