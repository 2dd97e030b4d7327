"""Merchant webhooks: signing, and the worker that delivers the outbox (gateway.domain.outbox).

    claim due events (short transaction, lease)  ->  POST each, signed  ->  record the outcome
    (new transaction): delivered only after a 2xx, otherwise retried later with backoff.

At least once: an event stays in the outbox until a 2xx has been recorded, so a crash
anywhere means one more POST, never one less; receivers dedupe by the event's stable `id`.
Several workers (threads, processes, machines) can run at once: a claim is a lease
(`claimed_until`) taken in a transaction that skips rows another worker holds, so no two of
them POST the same event at the same time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import requests
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.domain.core import Gateway
from gateway.plugin.clock import as_utc, utcnow
from gateway.plugin.http import Timeouts
from gateway.plugin.settings import ConfigError, Settings
from gateway.store.db import Database
from gateway.store.models import OutboxEvent, WebhookDelivery
from gateway.telemetry import metrics

log = logging.getLogger("gateway.domain.webhooks")  # the name operators' log filters know

SIGNATURE_HEADER = "Gateway-Signature"
USER_AGENT = "gateway-webhooks/1"
DEFAULT_TIMEOUT = 10.0
FIRST_RETRY = timedelta(seconds=5)
MAX_BACKOFF = timedelta(hours=1)
MAX_RESPONSE_BYTES = 64 * 1024  # read (and drop) at most this much of an answer, to keep the connection
MAX_TIMESTAMP_DIGITS = 12  # unix seconds stay within 11 digits until the year 5138
_LEASE_MARGIN = 30.0  # seconds of slack on a claim beyond the worst case of its POSTs


# -- signatures ----------------------------------------------------------------------------------


def sign_payload(secret: str, timestamp: int, body: bytes) -> str:
    """The `Gateway-Signature` value: `t=<timestamp>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    return f"t={timestamp},v1={_hmac(secret, timestamp, body)}"


def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300, now: float | None = None) -> bool:
    """Whether `header` signs exactly `body` with `secret`, at most `tolerance` seconds from `now`.

    Any one of several `v1=` entries may match (a sender may sign with an old and a new secret).
    A malformed header is simply not valid, never an exception: a timestamp of hundreds of digits
    would overflow a float, and thousands exceed int()'s limit, so more than MAX_TIMESTAMP_DIGITS is refused
    before either.
    """
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not _is_timestamp(timestamps[0]) or not signatures:
        return False
    timestamp = int(timestamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _hmac(secret, timestamp, body)
    # Compare against every entry, never stopping early, so timing says nothing about which one matched.
    matches = [hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")) for signature in signatures]
    return any(matches)


def _is_timestamp(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= MAX_TIMESTAMP_DIGITS


def _hmac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


# -- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class WebhookConfig:
    url: str
    secret: str
    timeout: float = DEFAULT_TIMEOUT  # seconds to wait for the answer; connecting waits at most 5

    def __repr__(self) -> str:  # the secret, and a token the URL may carry, stay out of tracebacks and logs
        return f"WebhookConfig(<url and secret hidden>, timeout={self.timeout!r})"

    @property
    def timeouts(self) -> tuple[float, float]:
        return Timeouts.reading(self.timeout).pair()

    @property
    def attempt_bound(self) -> float:
        """Roughly the longest one POST can take."""
        return sum(self.timeouts) + 1.0


def load_config(settings: Settings) -> WebhookConfig | None:
    """GATEWAY_WEBHOOK_URL and GATEWAY_WEBHOOK_SECRET: both (webhooks on) or neither (None)."""
    url = settings.get("GATEWAY_WEBHOOK_URL")
    secret = settings.secret("GATEWAY_WEBHOOK_SECRET")
    if url is None and secret is None:
        return None
    if url is None:
        raise ConfigError("GATEWAY_WEBHOOK_URL", "must be set when GATEWAY_WEBHOOK_SECRET is")
    if secret is None:
        raise ConfigError("GATEWAY_WEBHOOK_SECRET", "must be set when GATEWAY_WEBHOOK_URL is")
    if not url.startswith(("http://", "https://")):
        raise ConfigError("GATEWAY_WEBHOOK_URL", "must start with http:// or https://")
    # The provider URLs' rule: https, or plain http only to this machine (or in the sandbox); never
    # a link-local or metadata address, where a signed POST would reach the machine's credentials.
    settings.service_url("GATEWAY_WEBHOOK_URL", url)  # only checked: the URL is POSTed to as the merchant wrote it
    return WebhookConfig(url=url, secret=secret, timeout=settings.number("GATEWAY_WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT))


def _required_config(settings_or_config: Settings | WebhookConfig) -> WebhookConfig:
    if isinstance(settings_or_config, WebhookConfig):
        return settings_or_config
    config = load_config(settings_or_config)
    if config is None:
        raise ConfigError("GATEWAY_WEBHOOK_URL", "is not set, so there is nowhere to deliver webhooks to")
    return config


# -- delivery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    failed: int = 0  # attempts that failed; the events are retried later

    @property
    def attempted(self) -> int:
        return self.delivered + self.failed

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(self.delivered + other.delivered, self.failed + other.failed)


@dataclass(frozen=True)
class _Lease:
    until: datetime  # the claimed_until written on every event of the batch: it identifies our claim
    seconds: float


@dataclass(frozen=True)
class _Claimed:
    id: str
    type: str
    attempts: int
    body: bytes


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 5 s, 10 s, 20 s ... at most 1 hour."""
    doublings = min(max(attempts, 1) - 1, 20)  # 5 s * 2**20 is far past the cap already
    delay: timedelta = FIRST_RETRY * 2**doublings
    return min(delay, MAX_BACKOFF)


def event_body(event: OutboxEvent) -> bytes:
    """The JSON POSTed for `event`, serialized once: these exact bytes are signed and sent."""
    created_at = as_utc(event.created_at)
    assert created_at is not None
    payload = {
        "id": event.id,
        "type": event.type,
        "created_at": created_at.isoformat(),
        # Every event is about an order; one made in sandbox mode says so, so no receiver ships goods for it.
        "sandbox": bool(((event.data or {}).get("order") or {}).get("sandbox", False)),
        "data": event.data,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def new_http_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


def deliver_due(
    db: Database,
    settings_or_config: Settings | WebhookConfig,
    *,
    now: datetime | None = None,
    batch: int = 50,
    http: requests.Session | None = None,
    stop_event: threading.Event | None = None,
) -> DeliveryReport:
    """Claim up to `batch` due events, oldest first, POST each and record the outcomes.

    `now` fixes the clock (tests); otherwise each step reads the time when it happens. A set
    `stop_event` ends the batch between two events, handing the rest back at once.
    """
    config = _required_config(settings_or_config)
    if stop_event is not None and stop_event.is_set():
        return DeliveryReport()
    fixed_now = _utc(now) if now is not None else None

    def clock() -> datetime:
        return fixed_now or utcnow()

    claimed, lease = _claim(db, clock(), batch, config.attempt_bound)
    if not claimed:
        return DeliveryReport()
    started = time.monotonic()
    session = http or new_http_session()
    delivered = failed = 0
    try:
        for event in claimed:
            if stop_event is not None and stop_event.is_set():
                break
            if time.monotonic() - started + config.attempt_bound > lease.seconds - _LEASE_MARGIN / 2:
                break  # the claim could run out during this POST, and another worker send the event too
            error = _post(session, config, event, clock())
            if error is None:
                _mark_delivered(db, event, clock())
                delivered += 1
            else:
                _mark_failed(db, event, lease, error, clock())
                failed += 1
    finally:
        if delivered + failed < len(claimed):
            _release(db, claimed[delivered + failed :], lease)
        if http is None:
            session.close()
    return DeliveryReport(delivered=delivered, failed=failed)


def _claim(db: Database, now: datetime, batch: int, attempt_bound: float) -> tuple[list[_Claimed], _Lease]:
    with db.transaction() as session:
        query = (
            select(OutboxEvent)
            .where(
                OutboxEvent.delivered_at.is_(None),
                OutboxEvent.next_attempt_at <= now,
                or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until < now),
            )
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
            .limit(batch)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Rows another worker is claiming right now are skipped, not waited for.
            query = query.with_for_update(skip_locked=True)
        events = list(session.scalars(query))
        # Long enough for every POST of the batch to time out; released early when the batch ends early.
        seconds = len(events) * attempt_bound + _LEASE_MARGIN
        lease = _Lease(until=now + timedelta(seconds=seconds), seconds=seconds)
        for event in events:
            event.claimed_until = lease.until
        claimed = [_Claimed(event.id, event.type, event.attempts or 0, event_body(event)) for event in events]
        return claimed, lease


def _post(session: requests.Session, config: WebhookConfig, event: _Claimed, now: datetime) -> str | None:
    """POST `event`; None on a 2xx, otherwise what went wrong (a status or an exception class, no details)."""
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_payload(config.secret, int(now.timestamp()), event.body),
    }
    try:
        # Redirects are not followed: the merchant configured this URL, and a redirect could point anywhere.
        with session.post(
            config.url, data=event.body, headers=headers, timeout=config.timeouts, allow_redirects=False, stream=True
        ) as response:
            status = response.status_code
            _drain(response)
    except requests.RequestException as exc:
        # The message can quote the URL, which may carry a token: keep the class name only.
        return type(exc).__name__
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status} (redirects are not followed)"
    return f"HTTP {status}"


def _drain(response: requests.Response) -> None:
    """Read a short answer to its end so the connection can be reused; give up on long or broken ones.

    The status is what counts: a receiver that said 200 has the event, whatever its body does next.
    """
    received = 0
    try:
        for chunk in response.iter_content(chunk_size=8192):
            received += len(chunk)
            if received > MAX_RESPONSE_BYTES:
                return
    except requests.RequestException:
        return


def _mark_delivered(db: Database, event: _Claimed, now: datetime) -> None:
    with db.transaction() as session:
        _record_delivery(session, event.id, None, "worker", now)
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event.id, OutboxEvent.delivered_at.is_(None))
            .values(delivered_at=now, attempts=OutboxEvent.attempts + 1, last_error=None, claimed_until=None)
        )
    log.info("webhook %s %s delivered (attempt %d)", event.id, event.type, event.attempts + 1)


def _mark_failed(db: Database, event: _Claimed, lease: _Lease, error: str, now: datetime) -> None:
    attempts = event.attempts + 1
    delay = backoff(attempts)
    with db.transaction() as session:
        _record_delivery(session, event.id, error, "worker", now)
        session.execute(
            update(OutboxEvent)
            # Had our claim run out, the event is another worker's now: its outcome is theirs to record.
            .where(OutboxEvent.id == event.id, OutboxEvent.claimed_until == lease.until)
            .values(
                attempts=OutboxEvent.attempts + 1,
                last_error=error,
                next_attempt_at=now + delay,
                claimed_until=None,
            )
        )
    log.warning(
        "webhook %s %s failed (%s), attempt %d; retry in %ds",
        event.id,
        event.type,
        error,
        attempts,
        delay.total_seconds(),
    )


def _record_delivery(session: Session, event_id: str, error: str | None, trigger: str, now: datetime) -> None:
    """Keep each POST's answer for the operator console's timeline, and count it."""
    session.add(
        WebhookDelivery(
            event_id=event_id, delivered=error is None, answer=error or "2xx", trigger=trigger, created_at=now
        )
    )
    metrics.WEBHOOK_DELIVERIES.labels("delivered" if error is None else "failed").inc()


def redeliver(db: Database, config: WebhookConfig, event_id: str, *, trigger: str = "console") -> str | None:
    """POST one event now, delivered before or not (an operator's "send it again"); None on a 2xx,
    else what went wrong. An undelivered event that gets a 2xx is delivered; the worker's retry
    schedule is otherwise left alone. Receivers dedupe by the event's id, as for any retry."""
    with db.transaction() as session:
        stored = session.get(OutboxEvent, event_id)
        if stored is None:
            raise LookupError(event_id)
        event = _Claimed(stored.id, stored.type, stored.attempts or 0, event_body(stored))
    with new_http_session() as http:
        now = utcnow()
        error = _post(http, config, event, now)
    with db.transaction() as session:
        _record_delivery(session, event.id, error, trigger, now)
        values: dict[str, Any] = {"attempts": OutboxEvent.attempts + 1}
        if error is None:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == event.id, OutboxEvent.delivered_at.is_(None))
                .values(delivered_at=now, last_error=None)
            )
        else:
            values["last_error"] = error
        session.execute(update(OutboxEvent).where(OutboxEvent.id == event.id).values(**values))
    log.info("webhook %s %s redelivered (%s): %s", event.id, event.type, trigger, error or "2xx")
    return error


def _release(db: Database, events: Sequence[_Claimed], lease: _Lease) -> None:
    """Hand claimed but unsent events back, so another worker need not wait for the lease to end."""
    try:
        with db.transaction() as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_([event.id for event in events]), OutboxEvent.claimed_until == lease.until)
                .values(claimed_until=None)
            )
    except SQLAlchemyError:
        log.warning("could not release %d claimed webhook events; they are retried when the lease ends", len(events))


def _utc(moment: datetime) -> datetime:
    utc = as_utc(moment)
    assert utc is not None
    return utc.astimezone(UTC)


# -- the worker ----------------------------------------------------------------------------------


def run_worker(
    gateway: Gateway,
    *,
    once: bool = False,
    poll_interval: float = 1.0,
    stop_event: threading.Event | None = None,
    batch: int = 50,
) -> DeliveryReport:
    """Deliver due events until SIGTERM/SIGINT (or `stop_event`); with `once`, until none is due.

    Signals are handled only when called from the main thread; they stop the worker between
    two events (a second one interrupts the POST under way, whose event is simply sent again).
    """
    config = _required_config(gateway.settings)
    stop = stop_event or threading.Event()
    total = DeliveryReport()
    log.info("webhook worker started (timeout %ss)", config.timeout)
    with _stop_on_signals(stop), new_http_session() as http:
        while not stop.is_set():
            try:
                report = deliver_due(gateway.db, config, batch=batch, http=http, stop_event=stop)
            except SQLAlchemyError:
                if once:
                    raise
                log.exception("webhook worker: database error; trying again in %ss", poll_interval)
                report = DeliveryReport()
            total += report
            if report.attempted < batch:  # nothing more is due right now
                if once:
                    break
                stop.wait(poll_interval)
    log.info("webhook worker stopped: %d delivered, %d failed attempts", total.delivered, total.failed)
    return total


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous: dict[signal.Signals, Any] = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
