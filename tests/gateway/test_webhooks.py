"""Merchant webhooks (gateway/domain/webhooks.py) on SQLite and PostgreSQL, POSTed to real HTTP receivers.

Events are written the way the gateway writes them (`gateway.domain.outbox.record_event` inside a
transaction); receivers are small WSGI apps on real loopback ports that record what reached
them. The signature is checked against HMAC-SHA256 computed here from the documented formula,
and against a known answer computed with openssl.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway import create_app
from gateway.domain import outbox, webhooks
from gateway.domain.webhooks import DeliveryReport, backoff, deliver_due, sign_payload, verify_signature
from gateway.plugin.clock import as_utc, utcnow
from gateway.plugin.settings import ConfigError, Settings
from gateway.store.models import OutboxEvent
from gateway.testing.live import LiveServer
from gateway.web.context import gateway_of
from tests.support.keys import TEST_API_KEY
from tests.support.processes import REPO_ROOT, child_env

SECRET = "whsec_5f0c2e9a7b1d4c3e8f6a0b2d4e6f8a1c"
OTHER_SECRET = "whsec_00000000000000000000000000000000"
MARKER = "body-marker-3b7e"  # put in event data, to show bodies stay out of logs
HANG_SECONDS = 3.0
SHORT_TIMEOUT = "0.5"

# `printf '%s' '1700000000.{"id":"evt_1","type":"order.paid"}' | openssl dgst -sha256 -hmac whsec_test_known_answer`
KNOWN_SECRET = "whsec_test_known_answer"
KNOWN_TIMESTAMP = 1700000000
KNOWN_BODY = b'{"id":"evt_1","type":"order.paid"}'
KNOWN_V1 = "0327cd1ad913e1015d11e0b73038a42a4ffe6bd88300956e2ce24498bd7af0c2"


# -- receivers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def json(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.body)
        return payload

    @property
    def signature(self) -> str:
        return self.headers["Gateway-Signature"]


class Receiver:
    """A merchant's endpoint. Answers each POST to /hooks with the next step of `script`
    (a status, "hang" or "redirect"), the last one repeating; records every request."""

    def __init__(self, *script: int | str, on_request: Callable[[Received], None] | None = None) -> None:
        self.script = list(script) or [200]
        self.requests: list[Received] = []
        self.on_request = on_request
        self.released = threading.Event()  # ends every hang, so teardown never waits
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
        received = Received(
            environ["PATH_INFO"], headers, body, verify_signature(SECRET, headers.get("Gateway-Signature", ""), body)
        )
        with self._lock:
            self.requests.append(received)
            step = self.script[min(len(self.hooks) - 1, len(self.script) - 1)] if received.path == "/hooks" else 200
        if self.on_request is not None:
            self.on_request(received)
        if step == "hang":
            self.released.wait(HANG_SECONDS)
            step = 200
        if step == "redirect":
            start_response("302 Found", [("Location", "/moved"), ("Content-Length", "0")])
            return [b""]
        start_response(f"{step} Whatever", [("Content-Type", "text/plain")])
        return [b"ok"]

    @property
    def hooks(self) -> list[Received]:
        return [received for received in self.requests if received.path == "/hooks"]

    def count_by_id(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for received in self.hooks:
            event_id = received.json["id"]
            counts[event_id] = counts.get(event_id, 0) + 1
        return counts


@pytest.fixture
def receiver_server() -> Iterator[LiveServer]:
    server = LiveServer()
    yield server
    if isinstance(server.app, Receiver):
        server.app.released.set()
    server.stop()


@pytest.fixture
def make_app(app_factory: Callable[..., Any], receiver_server: LiveServer) -> Callable[..., Any]:
    """The gateway app with webhooks pointing at `receiver`."""

    def build(receiver: Receiver, **extra: Any) -> Any:
        receiver_server.app = receiver
        config = {"GATEWAY_WEBHOOK_URL": f"{receiver_server.url}/hooks", "GATEWAY_WEBHOOK_SECRET": SECRET, **extra}
        return app_factory(**config)

    return build


# -- helpers -----------------------------------------------------------------------------------


def add_events(app: Any, count: int = 1, event_type: str = outbox.ORDER_PAID) -> list[str]:
    ids = []
    with app.extensions["gateway"].db.transaction_connection() as connection:
        for number in range(count):
            ids.append(outbox.record_event(connection, event_type, {"order": {"id": f"ord_{number}", "note": MARKER}}))
    return ids


def stored(app: Any, event_id: str) -> OutboxEvent:
    with app.extensions["gateway"].db.transaction() as session:
        event = session.get(OutboxEvent, event_id)
        assert event is not None
        return event


def deliver(app: Any, **kwargs: Any) -> DeliveryReport:
    gateway = app.extensions["gateway"]
    return deliver_due(gateway.db, gateway.settings, **kwargs)


def parse_signature(header: str) -> tuple[int, str]:
    fields = dict(item.split("=", 1) for item in header.split(","))
    assert set(fields) == {"t", "v1"}, header
    return int(fields["t"]), fields["v1"]


# -- signatures --------------------------------------------------------------------------------


def test_sign_payload_matches_a_known_answer_computed_with_openssl() -> None:
    assert sign_payload(KNOWN_SECRET, KNOWN_TIMESTAMP, KNOWN_BODY) == f"t={KNOWN_TIMESTAMP},v1={KNOWN_V1}"


@pytest.mark.parametrize(
    ("header", "body", "secret", "now", "valid"),
    [
        (f"t={KNOWN_TIMESTAMP},v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, True),
        (f"t={KNOWN_TIMESTAMP},v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP + 300, True),
        (f"t={KNOWN_TIMESTAMP}, v1={'0' * 64}, v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, True),
        (f"t={KNOWN_TIMESTAMP},v1={KNOWN_V1}", KNOWN_BODY + b" ", KNOWN_SECRET, KNOWN_TIMESTAMP, False),
        (f"t={KNOWN_TIMESTAMP},v1={KNOWN_V1}", KNOWN_BODY, "another secret", KNOWN_TIMESTAMP, False),
        (f"t={KNOWN_TIMESTAMP},v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP + 301, False),
        (f"t={KNOWN_TIMESTAMP},v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP - 301, False),
        (f"t={KNOWN_TIMESTAMP + 1},v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, False),
        (f"v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, False),
        (f"t={KNOWN_TIMESTAMP}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, False),
        (f"t={KNOWN_TIMESTAMP},t={KNOWN_TIMESTAMP},v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, False),
        (f"t=1.7e9,v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, False),
        (f"t={KNOWN_TIMESTAMP},v1=é", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, False),
        ("", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, False),
        ("garbage", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, False),
        # Too many digits for a float (OverflowError) or for int() itself (ValueError): just not valid.
        (f"t={'9' * 400},v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, False),
        (f"t={'9' * 5000},v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, False),
        (f"t={'0' * 400}{KNOWN_TIMESTAMP},v1={KNOWN_V1}", KNOWN_BODY, KNOWN_SECRET, KNOWN_TIMESTAMP, False),
    ],
)
def test_verify_signature(header: str, body: bytes, secret: str, now: int, valid: bool) -> None:
    assert verify_signature(secret, header, body, now=now) is valid


def test_the_delivered_post_is_signed_as_documented(make_app: Callable[..., Any]) -> None:
    receiver = Receiver(200)
    app = make_app(receiver)
    [event_id] = add_events(app)

    before = int(time.time())
    assert deliver(app) == DeliveryReport(delivered=1, failed=0)

    [received] = receiver.hooks
    timestamp, v1 = parse_signature(received.signature)
    assert before <= timestamp <= time.time()
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + received.body, hashlib.sha256).hexdigest()
    assert v1 == expected
    assert received.verified
    assert not verify_signature(SECRET, received.signature, received.body.replace(b"ord_0", b"ord_1"))
    assert not verify_signature(OTHER_SECRET, received.signature, received.body)
    assert not verify_signature(SECRET, received.signature, received.body, now=timestamp + 301)
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["User-Agent"] == "gateway-webhooks/1"
    assert received.json["id"] == event_id


@pytest.mark.parametrize("status", [200, 299])
def test_a_2xx_marks_the_event_delivered_and_the_body_is_id_type_created_at_sandbox_data(
    make_app: Callable[..., Any], status: int
) -> None:
    receiver = Receiver(status)
    app = make_app(receiver)
    [event_id] = add_events(app, event_type=outbox.REFUND_SUCCEEDED)
    created_at = as_utc(stored(app, event_id).created_at)

    assert deliver(app) == DeliveryReport(delivered=1, failed=0)

    [received] = receiver.hooks
    assert received.body == json.dumps(received.json, separators=(",", ":")).encode()  # compact
    assert received.json == {
        "id": event_id,
        "type": "refund.succeeded",
        "created_at": received.json["created_at"],
        "sandbox": False,
        "data": {"order": {"id": "ord_0", "note": MARKER}},
    }
    assert list(received.json) == ["id", "type", "created_at", "sandbox", "data"]
    assert datetime.fromisoformat(received.json["created_at"]) == created_at
    event = stored(app, event_id)
    assert event.delivered_at is not None
    assert (event.attempts, event.last_error, event.claimed_until) == (1, None, None)


# -- failures and retries ----------------------------------------------------------------------


def test_a_500_is_retried_within_10_seconds_and_then_delivered(make_app: Callable[..., Any]) -> None:
    receiver = Receiver(500, 200)
    app = make_app(receiver)
    [event_id] = add_events(app)

    started = utcnow()
    assert deliver(app) == DeliveryReport(delivered=0, failed=1)
    event = stored(app, event_id)
    assert (event.attempts, event.delivered_at, event.last_error, event.claimed_until) == (1, None, "HTTP 500", None)
    next_attempt_at = as_utc(event.next_attempt_at)
    assert next_attempt_at is not None
    assert started < next_attempt_at <= utcnow() + timedelta(seconds=10)

    assert deliver(app) == DeliveryReport()  # not due yet
    assert deliver(app, now=next_attempt_at + timedelta(seconds=1)) == DeliveryReport(delivered=1, failed=0)

    assert [received.json["id"] for received in receiver.hooks] == [event_id, event_id]
    assert all(received.verified for received in receiver.hooks)
    event = stored(app, event_id)
    assert event.delivered_at is not None and event.attempts == 2 and event.last_error is None


def test_a_hanging_receiver_times_out_and_the_event_waits_for_a_retry(make_app: Callable[..., Any]) -> None:
    receiver = Receiver("hang")
    app = make_app(receiver, GATEWAY_WEBHOOK_TIMEOUT=SHORT_TIMEOUT)
    [event_id] = add_events(app)

    started = time.monotonic()
    assert deliver(app) == DeliveryReport(delivered=0, failed=1)
    assert time.monotonic() - started < float(SHORT_TIMEOUT) + 1.0

    event = stored(app, event_id)
    assert (event.attempts, event.delivered_at, event.last_error, event.claimed_until) == (1, None, "ReadTimeout", None)
    assert len(receiver.hooks) == 1


def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(make_app: Callable[..., Any]) -> None:
    receiver = Receiver("redirect")
    app = make_app(receiver)
    [event_id] = add_events(app)

    assert deliver(app) == DeliveryReport(delivered=0, failed=1)

    assert [received.path for received in receiver.requests] == ["/hooks"]  # /moved never reached
    event = stored(app, event_id)
    assert event.delivered_at is None and event.attempts == 1
    assert event.last_error is not None and event.last_error.startswith("HTTP 302")


def test_an_unreachable_receiver_is_a_failed_attempt(
    app_factory: Callable[..., Any], receiver_server: LiveServer
) -> None:
    closed = LiveServer()
    closed.stop()  # nothing listens on its port any more
    app = app_factory(GATEWAY_WEBHOOK_URL=f"{closed.url}/hooks", GATEWAY_WEBHOOK_SECRET=SECRET)
    [event_id] = add_events(app)

    assert deliver(app) == DeliveryReport(delivered=0, failed=1)
    assert stored(app, event_id).last_error == "ConnectionError"


def test_backoff_doubles_from_5_seconds_up_to_an_hour() -> None:
    assert [backoff(attempts).total_seconds() for attempts in range(1, 14)] == [
        5,
        10,
        20,
        40,
        80,
        160,
        320,
        640,
        1280,
        2560,
        3600,
        3600,
        3600,
    ]
    assert backoff(10_000) == timedelta(hours=1)


def test_each_failure_pushes_the_next_attempt_out_by_the_backoff(make_app: Callable[..., Any]) -> None:
    app = make_app(Receiver(503))
    [event_id] = add_events(app)
    now = utcnow()
    for attempts in range(1, 6):
        assert deliver(app, now=now) == DeliveryReport(delivered=0, failed=1)
        event = stored(app, event_id)
        assert event.attempts == attempts
        assert as_utc(event.next_attempt_at) == now + backoff(attempts)
        assert deliver(app, now=now + backoff(attempts) - timedelta(microseconds=1)) == DeliveryReport()
        now += backoff(attempts)


def test_a_delivered_event_is_never_sent_again(make_app: Callable[..., Any]) -> None:
    receiver = Receiver(200)
    app = make_app(receiver)
    [event_id] = add_events(app)
    assert deliver(app).delivered == 1

    for later in (timedelta(0), timedelta(hours=2), timedelta(days=30)):
        assert deliver(app, now=utcnow() + later) == DeliveryReport()
    assert receiver.count_by_id() == {event_id: 1}


def test_events_go_out_oldest_first(make_app: Callable[..., Any]) -> None:
    receiver = Receiver(200)
    app = make_app(receiver)
    ids = add_events(app, 4)
    base = utcnow() - timedelta(minutes=1)
    order = [ids[2], ids[0], ids[3], ids[1]]
    with app.extensions["gateway"].db.transaction() as session:
        for offset, event_id in enumerate(order):
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == event_id)
                .values(created_at=base + timedelta(seconds=offset))
            )

    assert deliver(app).delivered == 4
    assert [received.json["id"] for received in receiver.hooks] == order


# -- several workers ---------------------------------------------------------------------------


def test_two_workers_at_once_post_each_event_exactly_once(make_app: Callable[..., Any]) -> None:
    receiver = Receiver(200)
    app = make_app(receiver)
    ids = add_events(app, 30)
    start = threading.Barrier(2)
    reports: list[DeliveryReport] = []

    def work() -> None:
        start.wait()
        total = DeliveryReport()
        while (report := deliver(app, batch=5)).attempted:
            total += report
        reports.append(total)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)

    assert receiver.count_by_id() == dict.fromkeys(ids, 1)
    assert sum(report.delivered for report in reports) == 30
    with app.extensions["gateway"].db.transaction() as session:
        assert session.scalars(select(OutboxEvent).where(OutboxEvent.delivered_at.is_(None))).all() == []


def test_rows_another_worker_is_claiming_are_skipped_not_waited_for(
    make_app: Callable[..., Any], database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks: its writers queue up whole transactions (BEGIN IMMEDIATE)")
    receiver = Receiver(200)
    app = make_app(receiver)
    locked, free = add_events(app, 2)
    results: list[DeliveryReport] = []

    with app.extensions["gateway"].db.transaction() as other_worker:
        other_worker.execute(select(OutboxEvent).where(OutboxEvent.id == locked).with_for_update())
        thread = threading.Thread(target=lambda: results.append(deliver(app)))
        thread.start()
        thread.join(5)
        assert not thread.is_alive(), "the claim waited for another worker's lock"
        assert results == [DeliveryReport(delivered=1, failed=0)]
        assert receiver.count_by_id() == {free: 1}
    assert deliver(app).delivered == 1
    assert receiver.count_by_id() == {free: 1, locked: 1}


def test_an_event_claimed_by_another_worker_waits_for_its_lease_to_end(make_app: Callable[..., Any]) -> None:
    receiver = Receiver(200)
    app = make_app(receiver)
    [event_id] = add_events(app)
    lease_end = utcnow() + timedelta(minutes=5)
    with app.extensions["gateway"].db.transaction() as session:
        session.execute(update(OutboxEvent).where(OutboxEvent.id == event_id).values(claimed_until=lease_end))

    assert deliver(app) == DeliveryReport()
    assert deliver(app, now=lease_end + timedelta(seconds=1)).delivered == 1  # that worker died: sent anyway
    assert receiver.count_by_id() == {event_id: 1}


def test_a_worker_whose_claim_ran_out_leaves_the_failure_to_the_new_owner(make_app: Callable[..., Any]) -> None:
    other_lease = utcnow() + timedelta(minutes=10)
    apps: list[Any] = []

    def another_worker_takes_over(received: Received) -> None:
        with apps[0].extensions["gateway"].db.transaction() as session:
            session.execute(update(OutboxEvent).values(claimed_until=other_lease))

    apps.append(make_app(Receiver(500, on_request=another_worker_takes_over)))
    [event_id] = add_events(apps[0])

    assert deliver(apps[0]) == DeliveryReport(delivered=0, failed=1)
    event = stored(apps[0], event_id)
    assert (event.attempts, event.last_error, as_utc(event.claimed_until)) == (0, None, other_lease)


def test_a_stop_request_ends_the_batch_between_events_and_hands_the_rest_back(
    make_app: Callable[..., Any],
) -> None:
    stop = threading.Event()
    receiver = Receiver(200, on_request=lambda received: stop.set())
    app = make_app(receiver)
    first, *rest = add_events(app, 3)

    gateway = app.extensions["gateway"]
    assert deliver_due(gateway.db, gateway.settings, stop_event=stop) == DeliveryReport(delivered=1, failed=0)

    assert receiver.count_by_id() == {first: 1}
    for event_id in rest:
        event = stored(app, event_id)
        assert (event.delivered_at, event.claimed_until, event.attempts) == (None, None, 0)
    stop.clear()
    assert deliver(app).delivered == 2


# -- the worker --------------------------------------------------------------------------------


def test_run_worker_delivers_until_told_to_stop(make_app: Callable[..., Any]) -> None:
    receiver = Receiver(200)
    app = make_app(receiver)
    stop = threading.Event()
    results: list[DeliveryReport] = []
    thread = threading.Thread(
        target=lambda: results.append(webhooks.run_worker(gateway_of(app), poll_interval=0.05, stop_event=stop))
    )
    thread.start()
    try:
        ids = add_events(app, 2)
        deadline = time.monotonic() + 10
        while len(receiver.hooks) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert receiver.count_by_id() == dict.fromkeys(ids, 1)
    assert results == [DeliveryReport(delivered=2, failed=0)]


def test_cli_worker_once_delivers_what_is_due_and_exits_0(make_app: Callable[..., Any]) -> None:
    receiver = Receiver(200)
    app = make_app(receiver)
    ids = add_events(app, 3)

    result = app.test_cli_runner().invoke(args=["gateway", "worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "3 delivered" in result.output
    assert receiver.count_by_id() == dict.fromkeys(ids, 1)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_cli_worker_without_webhook_configuration_exits_2_naming_the_variable(app: Any) -> None:
    result = app.test_cli_runner().invoke(args=["gateway", "worker", "--once"])
    assert result.exit_code == 2
    assert "Error: GATEWAY_WEBHOOK_URL" in result.output


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({"GATEWAY_WEBHOOK_SECRET": SECRET}, "GATEWAY_WEBHOOK_URL"),
        ({"GATEWAY_WEBHOOK_URL": "http://127.0.0.1:9/hooks"}, "GATEWAY_WEBHOOK_SECRET"),
    ],
)
def test_half_configured_webhooks_stop_start_up_naming_the_variable(
    app_factory: Callable[..., Any], config: dict[str, str], missing: str
) -> None:
    with pytest.raises(ConfigError) as stopped:
        app_factory(**config)
    assert stopped.value.variable == missing
    assert SECRET not in str(stopped.value)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"GATEWAY_WEBHOOK_SECRET": SECRET}, "GATEWAY_WEBHOOK_URL: must be set when GATEWAY_WEBHOOK_SECRET is"),
        ({"GATEWAY_WEBHOOK_URL": "https://shop.example/hooks"}, "GATEWAY_WEBHOOK_SECRET: must be set"),
        ({"GATEWAY_WEBHOOK_URL": "ftp://shop.example", "GATEWAY_WEBHOOK_SECRET": SECRET}, "must start with http"),
        (
            {"GATEWAY_WEBHOOK_URL": "https://x", "GATEWAY_WEBHOOK_SECRET": SECRET, "GATEWAY_WEBHOOK_TIMEOUT": "0"},
            "GATEWAY_WEBHOOK_TIMEOUT",
        ),
    ],
)
def test_config_is_both_or_neither_and_never_shows_the_secret(values: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError) as raised:
        webhooks.load_config(Settings(values, "/tmp"))
    assert error in str(raised.value)
    assert SECRET not in str(raised.value)


def test_config_reads_url_secret_and_timeout() -> None:
    assert webhooks.load_config(Settings({}, "/tmp")) is None
    config = webhooks.load_config(
        Settings({"GATEWAY_WEBHOOK_URL": "https://shop.example/hooks", "GATEWAY_WEBHOOK_SECRET": SECRET}, "/tmp")
    )
    assert config is not None
    assert (config.url, config.secret, config.timeouts) == ("https://shop.example/hooks", SECRET, (5.0, 10.0))
    assert SECRET not in repr(config) and "shop.example" not in repr(config)


def test_logs_name_each_delivery_but_never_the_secret_or_the_body(
    make_app: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver = Receiver(500, "hang", "redirect", 200)
    app = make_app(receiver, GATEWAY_WEBHOOK_TIMEOUT=SHORT_TIMEOUT)
    [event_id] = add_events(app)
    now = utcnow()
    for step in range(4):
        deliver(app, now=now + timedelta(hours=step))

    assert stored(app, event_id).delivered_at is not None
    text = caplog.text
    assert f"webhook {event_id} order.paid failed (HTTP 500)" in text
    assert f"webhook {event_id} order.paid failed (ReadTimeout)" in text
    assert f"webhook {event_id} order.paid delivered" in text
    assert SECRET not in text
    assert MARKER not in text
    assert receiver.hooks[0].signature.split("v1=")[1] not in text


def test_the_deployed_worker_delivers_and_stops_cleanly_on_sigterm(
    database_url: str, receiver_server: LiveServer, tmp_path: Path
) -> None:
    receiver = Receiver(200)
    receiver_server.app = receiver
    config = {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_INSTANCE_PATH": str(tmp_path / "instance"),
        "GATEWAY_WEBHOOK_URL": f"{receiver_server.url}/hooks",
        "GATEWAY_WEBHOOK_SECRET": SECRET,
        "GATEWAY_API_KEYS": TEST_API_KEY,
    }
    app = create_app(config)
    try:
        [event_id] = add_events(app)
    finally:
        app.extensions["gateway"].db.dispose()
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "gateway", "worker"],
        cwd=REPO_ROOT,
        env=child_env(config),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not receiver.hooks and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert receiver.count_by_id() == {event_id: 1}
    assert f"webhook {event_id} order.paid delivered" in stderr
    assert "1 delivered" in stdout
    assert SECRET not in stdout + stderr


def test_delivery_times_stay_in_utc(make_app: Callable[..., Any]) -> None:
    app = make_app(Receiver(200))
    [event_id] = add_events(app)
    local_now = utcnow().astimezone(timezone(timedelta(hours=-5)))
    assert deliver(app, now=local_now).delivered == 1
    assert as_utc(stored(app, event_id).delivered_at) == local_now.astimezone(UTC)


def receiver_snippet() -> str:
    """The receiver code merchants copy: a ```python block defining `verify` in the README or docs/,
    or a file of docs/examples/ that defines it."""
    root = Path(__file__).resolve().parents[2]
    for page in [root / "README.md", *sorted((root / "docs").rglob("*.md"))]:
        if not page.is_file():
            continue
        for block in re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL):
            if "def verify(" in block:
                return str(block)
    for example in sorted((root / "docs").rglob("*.py")):
        text = example.read_text(encoding="utf-8")
        if "def verify(" in text:
            return text
    raise AssertionError("no receiver code defining verify() in README.md or docs/")


def test_the_documented_receiver_snippet_verifies_what_the_worker_signs() -> None:
    """The documented receiver code is what merchants copy: it must agree with sign_payload."""
    namespace: dict[str, Any] = {"__name__": "receiver_snippet"}
    exec(receiver_snippet(), namespace)
    body = b'{"id":"evt_1","type":"order.paid"}'
    header = webhooks.sign_payload("whsec_test", int(time.time()), body)
    assert namespace["verify"]("whsec_test", header, body)
    assert not namespace["verify"]("whsec_test", header, body + b" ")
    assert not namespace["verify"]("other", header, body)


@pytest.mark.parametrize("digits", [400, 5000])
def test_the_documented_receiver_snippet_says_false_to_an_absurd_timestamp(digits: int) -> None:
    namespace: dict[str, Any] = {"__name__": "receiver_snippet"}
    exec(receiver_snippet(), namespace)
    body = b'{"id":"evt_1","type":"order.paid"}'
    _, v1 = parse_signature(webhooks.sign_payload("whsec_test", int(time.time()), body))
    assert namespace["verify"]("whsec_test", f"t={'9' * digits},v1={v1}", body) is False
