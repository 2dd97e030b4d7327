"""The notify pipeline, the same for every provider.

provider verifies and parses (no database yet)  ->  read the order without a lock and check
account, amount, currency  ->  a duplicate or a refusal: record it (one INSERT)  ->  a payment of a
provider that confirms notifications: its query, with no connection held (gateway.domain.notify_confirm),
and if it does not confirm, record that (one INSERT)  ->  a payment:
one short transaction applies it at most once (gateway.domain.payments) and records the notification
->  commit  ->  (only then) acknowledge, and announce the change to hooks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import fields
from typing import Any
from urllib.parse import quote_plus

from gateway.domain.core import Gateway
from gateway.domain.instrument import as_text, records_held, write_records
from gateway.domain.lifecycle import Transitions
from gateway.domain.notify_confirm import confirmation
from gateway.domain.notify_guard import MAX_STORED_PREFIX, bounded_reason, stored_request
from gateway.domain.payments import pay_in_one_statement, settle_payment, verdict_on
from gateway.domain.refund_notify import apply_refund_notification
from gateway.domain.surplus import surplus_payment
from gateway.plugin.clock import utcnow
from gateway.plugin.provider import (
    Acknowledgement,
    InboundRequest,
    Notification,
    NotificationRejected,
    Provider,
    RefundNotification,
    Verdict,
)
from gateway.store.models import (
    EVENT_ID_LENGTH,
    MERCHANT_ORDER_NO_LENGTH,
    PROVIDER_ORDER_ID_LENGTH,
    default_account_id,
)
from gateway.store.rows import StoredOrder, stored_order, stored_order_of
from gateway.store.statements import (
    DELETE_NOTIFICATION,
    FIND_ACCEPTED_EVENT,
    FIND_BY_REFERENCE,
    FIND_ORDER_RECORDING_DUPLICATE,
    INSERT_NOTIFICATION,
    NOTIFICATION_COLUMNS,
)
from gateway.telemetry import logs

log = logging.getLogger("gateway.notify")  # the name operators' log filters know

MAX_STORED_BODY = 64 * 1024  # of a verified notify (a few hundred bytes in practice)
THROTTLED = Acknowledgement(429, "too many rejected requests from this address")


def handle_notification(
    gateway: Gateway,
    provider: Provider,
    request: InboundRequest,
    account_id: str | None = None,
    previous: Provider | None = None,
) -> Acknowledgement:
    """`account_id`: the account whose notify URL was called (None: the environment's), whose `provider`
    verifies it; `previous`: the same account's provider with its previous settings, during a
    rotation's grace period (a notify signed with the previous secret still verifies)."""
    try:
        notification = provider.verify_notification(request)
    except NotificationRejected as rejected:
        if previous is None or rejected.verdict is not Verdict.BAD_SIGNATURE:
            return _rejected(gateway, provider, request, rejected)
        try:
            notification = previous.verify_notification(request)
        except NotificationRejected:
            return _rejected(gateway, provider, request, rejected)
    problem = unstorable(notification)
    if problem is not None:  # a plugin that read what no record can hold: refused, never a 500 on every re-send
        return _rejected(gateway, provider, request, NotificationRejected(Verdict.MALFORMED, problem))
    if isinstance(notification, RefundNotification):
        return _refund_notification(gateway, provider, request, notification, account_id)

    transitions = Transitions()
    verdict, reason, order, row = _judge_without_lock(
        gateway, provider, request, notification, account_id or default_account_id(provider.name)
    )
    if verdict is Verdict.UNKNOWN_ORDER:
        return _about_no_order(gateway, provider, request, notification, account_id, reason)
    logs.bind(order_id=order.id if order is not None else None)
    # The confirming query's record is held for the payment's commit (one fewer round trip and commit);
    # whatever is still held when the block ends (a refusal, a failure) is written on its own then.
    with records_held(gateway.db) as held:
        if verdict is Verdict.APPLIED and provider.info.confirm_notifications:
            assert order is not None
            # The provider's query, with no connection held; only a confirmed payment goes on to the write.
            refused = confirmation(provider, order, notification, held)
            if refused is not None:
                verdict, reason = refused
                values = _record(provider, request, verdict, reason, order_id=order.id, event_id=notification.event_id)
                with gateway.db.writing(), gateway.db.raw_autocommit() as cursor:  # one INSERT, its own commit
                    gateway.db.raw(INSERT_NOTIFICATION, NOTIFICATION_COLUMNS).execute(cursor, values)
        settled = None
        if verdict is Verdict.APPLIED and row is not None:
            # PostgreSQL: the payment, its outbox event, this notification's record and the query's in one
            # statement.
            values = _record(provider, request, verdict, None, order_id=row[0], event_id=notification.event_id)
            settled = pay_in_one_statement(gateway.db, row, notification, values, transitions, held)
            if settled is not None:
                verdict, reason = settled
        if verdict is Verdict.APPLIED and settled is None:
            assert order is not None
            # The one write transaction: UPDATE ... RETURNING (only if still unpaid), the outbox event and
            # this notification's record, one commit. Duplicates and refusals never get here.
            with gateway.db.transaction_connection() as connection:
                verdict, reason = settle_payment(connection, order, notification, transitions)
                values = _record(provider, request, verdict, reason, order_id=order.id, event_id=notification.event_id)
                connection.execute(INSERT_NOTIFICATION, values)
                write_records(connection, held)
            held.clear()
    # Committed. From here on nothing can undo the payment record.
    if verdict.accepted:
        log.info("%s notify for %s: %s", provider.name, notification.merchant_order_no, verdict.value)
    else:
        log.warning(
            "%s notify for %s refused (%s): %s", provider.name, notification.merchant_order_no, verdict.value, reason
        )
    transitions.announce(gateway.hooks)
    return provider.acknowledge(verdict)


def _refund_notification(
    gateway: Gateway, provider: Provider, request: InboundRequest, report: RefundNotification, account_id: str | None
) -> Acknowledgement:
    """A refund's outcome (gateway.domain.refund_notify): settled as a refund query's answer, never a payment."""
    with gateway.db.writing(), gateway.db.raw_autocommit() as cursor:
        duplicate = _already_processed(gateway, cursor, provider, report.event_id)
    reason: str | None
    order_id: str | None
    if duplicate:
        verdict, reason, order_id = Verdict.DUPLICATE, _event_seen(report.event_id), None
    else:
        verdict, reason, order_id = apply_refund_notification(gateway, provider, report, account_id)
    values = _record(provider, request, verdict, reason, order_id=order_id, event_id=report.event_id)
    with gateway.db.writing(), gateway.db.raw_autocommit() as cursor:  # one INSERT, its own commit
        gateway.db.raw(INSERT_NOTIFICATION, NOTIFICATION_COLUMNS).execute(cursor, values)
    level = logging.INFO if verdict.accepted else logging.WARNING
    log.log(level, "%s refund notify for %s: %s (%s)", provider.name, report.merchant_order_no, verdict.value, reason)
    return provider.acknowledge(verdict)


def _judge_without_lock(
    gateway: Gateway, provider: Provider, request: InboundRequest, notification: Notification, account_id: str
) -> tuple[Verdict, str | None, StoredOrder | None, Any]:
    """Read the order without a lock. Anything but a payment to apply (a duplicate, above all) is
    recorded here with one INSERT, so on PostgreSQL it never waits behind a writer's transaction (on
    SQLite every write waits for the one writer); a payment to apply is returned for the write
    transaction, whose conditional UPDATE decides it.

    On PostgreSQL the whole row is read, and returned too (else None): a payment is then one
    statement (payments.pay_in_one_statement), whose webhook payload is built from it. The read there
    also records a duplicate (statements.FIND_ORDER_RECORDING_DUPLICATE): one round trip for it."""
    db = gateway.db
    whole = db.engine.dialect.name == "postgresql"
    # On SQLite the writers' gate comes before the connection (Database.raw_autocommit); it is
    # nothing on PostgreSQL, where the read takes no lock and the INSERT waits for no one.
    with db.writing(), db.raw_autocommit() as cursor:
        record: tuple[int, str] | None = None  # (id, reason) of a duplicate's record the read wrote
        if whole:
            row, event_seen, record = _read_recording_duplicate(
                gateway, cursor, provider, request, notification, account_id
            )
            order = stored_order_of(row)
        else:
            row = (
                db.raw(FIND_BY_REFERENCE)
                .execute(cursor, {"provider": provider.name, "merchant_order_no": notification.merchant_order_no})
                .fetchone()
            )
            order = stored_order(row)
            event_seen = _already_processed(gateway, cursor, provider, notification.event_id)
        reason: str | None
        if order is not None and (order.account_id or default_account_id(provider.name)) != account_id:
            # Verified with one account's secret, about another account's order: never applied.
            verdict, reason = Verdict.MISMATCH, "the order belongs to another provider account"
        elif event_seen:
            verdict, reason = Verdict.DUPLICATE, _event_seen(notification.event_id)
        else:
            verdict, reason = verdict_on(order, notification)
        if record is not None and (verdict, reason) != (Verdict.DUPLICATE, record[1]):
            # The statement's terms imply the judgement above (a test holds them to it). Should they ever
            # not, its record goes, and the judgement's is written as on SQLite.
            log.error(
                "%s notify for %s: the read recorded a duplicate (%s), the pipeline judged %s (%s); record %s replaced",
                provider.name, notification.merchant_order_no, record[1], verdict.value, reason, record[0],
            )  # fmt: skip
            db.raw(DELETE_NOTIFICATION).execute(cursor, {"record_id": record[0]})
            record = None
        if record is None and verdict is not Verdict.APPLIED and verdict is not Verdict.UNKNOWN_ORDER:
            order_id = order.id if order is not None else None  # (no order: _about_no_order records it)
            values = _record(provider, request, verdict, reason, order_id=order_id, event_id=notification.event_id)
            db.raw(INSERT_NOTIFICATION, NOTIFICATION_COLUMNS).execute(cursor, values)
    return verdict, reason, order, row if whole else None


def _read_recording_duplicate(
    gateway: Gateway,
    cursor: Any,
    provider: Provider,
    request: InboundRequest,
    notification: Notification,
    account_id: str,
) -> tuple[Any, bool, tuple[int, str] | None]:
    """PostgreSQL: (the order's whole row or None, whether its event was accepted before, the id and
    reason of the duplicate's record it wrote or None), in one statement."""
    record = _record(
        provider, request, Verdict.DUPLICATE, None, order_id=None, event_id=notification.event_id
    )  # as the pipeline would write a duplicate's (its verdict, reason and order are the statement's)
    statement = FIND_ORDER_RECORDING_DUPLICATE[notification.event_id is not None]
    found = gateway.db.raw(statement).execute(
        cursor,
        {
            **record,
            "merchant_order_no": notification.merchant_order_no,
            "event_reason": _event_seen(notification.event_id),
            "default_account": default_account_id(provider.name),
            "account_id": account_id,
            **_as_compared(notification),
        },
    )
    *row, event_seen, record_id, reason = found.fetchone()
    return (row if row[0] is not None else None), event_seen, (record_id, reason) if record_id is not None else None


_BIGINT = range(-(2**63), 2**63)


def _as_compared(report: Notification) -> dict[str, Any]:
    """The report's fields as the statement compares them with the order's. A plugin may hand over
    what SQL would compare otherwise than Python (an amount that is no integer or outside a bigint,
    a field that is not text): then the statement records no duplicate by them, and the pipeline's
    own judgement is recorded."""
    texts = (report.currency, report.account_id, report.provider_order_id)
    comparable = (
        type(report.amount) is int
        and report.amount in _BIGINT
        and all(value is None or type(value) is str for value in texts)  # (a str subclass may compare otherwise)
    )
    return {
        "paid": bool(report.paid) and comparable,
        "amount": report.amount if comparable else None,
        "currency": report.currency if comparable else None,
        "report_account": report.account_id if comparable else None,
        "report_provider_order_id": report.provider_order_id if comparable else None,
    }


def _event_seen(event_id: str | None) -> str:
    return f"event {event_id} already processed"


def _about_no_order(
    gateway: Gateway,
    provider: Provider,
    request: InboundRequest,
    notification: Notification,
    account_id: str | None,
    reason: str | None,
) -> Acknowledgement:
    """No order has this number: it may be an attempt an order left behind (gateway.domain.surplus)."""
    surplus = surplus_payment(gateway, provider, notification, account_id or default_account_id(provider.name))
    verdict, order_id = Verdict.UNKNOWN_ORDER, None
    if surplus is not None:
        verdict, reason, order_id = surplus
    values = _record(provider, request, verdict, reason, order_id=order_id, event_id=notification.event_id)
    with gateway.db.writing(), gateway.db.raw_autocommit() as cursor:  # one INSERT, its own commit
        gateway.db.raw(INSERT_NOTIFICATION, NOTIFICATION_COLUMNS).execute(cursor, values)
    level = logging.INFO if verdict.accepted else logging.WARNING
    log.log(level, "%s notify for %s: %s (%s)", provider.name, notification.merchant_order_no, verdict.value, reason)
    return provider.acknowledge(verdict)


def unstorable(notification: Notification | RefundNotification) -> str | None:
    """Why a verified notification cannot be recorded as it reads, or None. A plugin should refuse these
    itself (the conformance kit's garbled notifications check it); the core must not fail on them."""
    event_id = notification.event_id
    if event_id is not None and not 0 < len(event_id) <= EVENT_ID_LENGTH:
        return f"an event id of {len(event_id)} characters (1 to {EVENT_ID_LENGTH})"
    provider_order_id = getattr(notification, "provider_order_id", None)  # refund notifications carry none
    if provider_order_id is not None and len(provider_order_id) > PROVIDER_ORDER_ID_LENGTH:
        return f"a provider order id of {len(provider_order_id)} characters (at most {PROVIDER_ORDER_ID_LENGTH})"
    if not 0 < len(notification.merchant_order_no) <= MERCHANT_ORDER_NO_LENGTH:
        return f"an order reference of {len(notification.merchant_order_no)} characters, which no order has"
    for name in ("failure_code", "failure_message"):  # a refund's; sliced and stored as text
        value = getattr(notification, name, None)
        if value is not None and not isinstance(value, str):
            return f"a refund's {name} that is not text"
    # PostgreSQL text holds no NUL: a look-up by such a field, or a reason quoting it, would fail. Nor
    # can the driver send a lone surrogate (json.loads makes one of "\udc80"): no UTF-8 encodes it.
    texts = [value for field in fields(notification) if isinstance(value := getattr(notification, field.name), str)]
    if any("\x00" in text for text in texts):
        return "a field holds a NUL character"
    if not all(text.isascii() or _encodable(text) for text in texts):
        return "a field holds a lone surrogate, which no text encoding stores"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _rejected(
    gateway: Gateway, provider: Provider, request: InboundRequest, rejected: NotificationRejected
) -> Acknowledgement:
    # A provider may also "reject" a genuine event that is about no order (verdict IGNORED): it was
    # verified, so it is neither throttled nor a warning. Anything else came from anyone.
    genuine = rejected.verdict.accepted
    # The reason is recorded and logged, sliced: a plugin's None (against the contract) must not be a 500
    # on every re-send, each leaving a row.
    reason = as_text(rejected.reason)
    guard = gateway.notify_guard
    if not genuine and guard is not None and not guard.admit(request.remote_addr):
        if guard.first_refusal(request.remote_addr):
            log.warning(
                "%s notify: too many rejected requests from %s; answering 429", provider.name, request.remote_addr
            )
        return THROTTLED
    values = _record(provider, request, rejected.verdict, reason, order_id=None, event_id=None)
    with gateway.db.writing(), gateway.db.raw_autocommit() as cursor:  # one INSERT, its own commit
        gateway.db.raw(INSERT_NOTIFICATION, NOTIFICATION_COLUMNS).execute(cursor, values)
    level = logging.INFO if genuine else logging.WARNING
    log.log(level, "%s notify not applied (%s): %s", provider.name, rejected.verdict.value, bounded_reason(reason))
    return provider.acknowledge(rejected.verdict)


def _already_processed(gateway: Gateway, cursor: Any, provider: Provider, event_id: str | None) -> bool:
    """Providers with event ids re-send the same event; one that was accepted is not judged again."""
    if event_id is None:
        return False
    found = gateway.db.raw(FIND_ACCEPTED_EVENT).execute(cursor, {"provider": provider.name, "event_id": event_id})
    return found.fetchone() is not None


# What `quote_plus` leaves as it is (urllib.parse's always-safe characters).
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*")


def query_string(pairs: Iterable[tuple[Any, Any]]) -> str:
    """`urllib.parse.urlencode(pairs)`, character for character (the record keeps what it always kept),
    without its per-character quoting of the names and values that need none (a notify's, mostly)."""
    return "&".join(f"{_quoted(name)}={_quoted(value)}" for name, value in pairs)


def _quoted(text: str | bytes | object) -> str:
    if isinstance(text, str) and _UNQUOTED.fullmatch(text):
        return text
    return quote_plus(text) if isinstance(text, str | bytes) else quote_plus(str(text))


def _record(
    provider: Provider,
    request: InboundRequest,
    verdict: Verdict,
    reason: str | None,
    *,
    order_id: str | None,
    event_id: str | None,
) -> dict[str, Any]:
    """The notification's row, as `INSERT_NOTIFICATION` writes it."""
    # What anyone can send (a bad signature, junk) is kept as a digest, its size and a prefix only.
    limit = MAX_STORED_BODY if verdict.accepted or event_id or order_id else MAX_STORED_PREFIX
    stored = stored_request(request, query_string(request.query).encode(), limit)
    return {
        "provider": provider.name,
        "received_at": utcnow(),
        "method": request.method[:10],
        "query_string": stored.query_string,
        "body": stored.body,
        "body_digest": stored.digest,
        "request_size": stored.size,
        "content_type": (request.headers.get("content-type") or "")[:255] or None,
        "verdict": verdict.value,
        "reason": bounded_reason(reason) if reason is not None else None,
        "order_id": order_id,
        "event_id": event_id,
    }
