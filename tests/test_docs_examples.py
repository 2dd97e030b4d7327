"""The code the docs point to runs: docs/examples/webhook_receiver.py against webhooks that the
gateway's worker really signs and delivers over HTTP."""

from __future__ import annotations

import importlib.util
import io
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from sqlalchemy import update

from gateway.domain import webhooks
from gateway.plugin.clock import utcnow
from gateway.store.models import OutboxEvent
from gateway.testing.live import LiveServer
from tests.support.flows import paid_order

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_docs_receiver_7d1e4a"


def load_receiver() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "webhook_receiver", ROOT / "docs" / "examples" / "webhook_receiver.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recorder:
    """Keeps each request's signature header, body and the receiver's status; passes it on unchanged."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.seen: list[tuple[str, bytes, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)

        def recording_start_response(status: str, headers: list[tuple[str, str]]) -> Any:
            self.seen.append((environ.get("HTTP_GATEWAY_SIGNATURE", ""), body, status))
            return start_response(status, headers)

        return self.app(environ, recording_start_response)


@pytest.fixture
def receiver_server() -> Iterator[LiveServer]:
    server = LiveServer()
    yield server
    server.stop()


def redeliver(app: Any, event_id: str) -> None:
    """Make a delivered event due again, as a worker that crashed before recording the 2xx would leave it."""
    with app.extensions["gateway"].db.transaction() as session:
        session.execute(
            update(OutboxEvent).where(OutboxEvent.id == event_id).values(delivered_at=None, next_attempt_at=utcnow())
        )


def deliver(app: Any) -> webhooks.DeliveryReport:
    gateway = app.extensions["gateway"]
    return webhooks.deliver_due(gateway.db, gateway.settings)


def test_the_documented_receiver_handles_a_real_webhook_once_and_refuses_forgeries(
    app_factory: Callable[..., Any], simulator: Any, receiver_server: LiveServer
) -> None:
    example = load_receiver()
    handled: list[dict[str, Any]] = []
    recorder = Recorder(example.WebhookReceiver(SECRET, handled.append))
    receiver_server.app = recorder
    app = app_factory(GATEWAY_WEBHOOK_URL=f"{receiver_server.url}/webhooks", GATEWAY_WEBHOOK_SECRET=SECRET)

    order = paid_order(app.test_client(), simulator)
    assert deliver(app) == webhooks.DeliveryReport(delivered=1, failed=0)
    [event] = handled
    assert (event["type"], event["data"]["order"]["id"], event["data"]["order"]["status"]) == (
        "order.paid",
        order["id"],
        "paid",
    )

    redeliver(app, event["id"])  # at least once: the same event again is acknowledged, not handled again
    assert deliver(app) == webhooks.DeliveryReport(delivered=1, failed=0)
    assert len(handled) == 1
    assert [status for _, _, status in recorder.seen] == ["200 OK", "200 OK"]

    header, body, _ = recorder.seen[0]
    url = f"{receiver_server.url}/webhooks"
    tampered = body.replace(b'"status":"paid"', b'"status":"refunded"')
    assert tampered != body
    answer = requests.post(url, data=tampered, headers={"Gateway-Signature": header}, timeout=5)
    assert answer.status_code == 400
    unsigned = requests.post(url, data=body, timeout=5)
    assert unsigned.status_code == 400
    assert len(handled) == 1


def test_the_documented_verify_agrees_with_the_gateway_signer_and_never_raises() -> None:
    verify = load_receiver().verify
    body = b'{"id":"evt_1","type":"order.paid"}'
    now = int(time.time())
    header = webhooks.sign_payload(SECRET, now, body)
    assert verify(SECRET, header, body)
    assert verify(SECRET, f"{header},v1={'0' * 64}", body)  # a second, rotated-out signature is harmless
    assert not verify(SECRET, header, body + b" ")
    assert not verify("whsec_other", header, body)
    assert not verify(SECRET, webhooks.sign_payload(SECRET, now - 301, body), body)  # stale: a replay
    for garbage in ["", "t=", "v1=abc", f"t={'9' * 500},v1=00", f"t={'9' * 5000},v1=00", "t=1e9,v1=00", "t=١٢,v1=00"]:
        assert not verify(SECRET, garbage, body)
