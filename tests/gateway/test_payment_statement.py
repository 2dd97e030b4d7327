"""A payment on PostgreSQL as one statement (payments.pay_in_one_statement, statements.PAY_AND_RECORD).

What it writes must be what the transaction it replaces wrote: the order paid, one outbox event
whose payload is the order as stored afterwards, one notification record. And it must write
nothing at all when the order is no longer as the notify read it (paid meanwhile, or changed), so
that the caller pays in a transaction instead, which decides afresh.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from gateway.domain.lifecycle import Transitions
from gateway.domain.payments import pay_in_one_statement
from gateway.domain.schemas import OrderSchema
from gateway.plugin.provider import Notification, Verdict
from gateway.store.db import Database
from gateway.store.models import NOTIFICATIONS, ORDERS, OUTBOX_EVENTS, PROVIDER_CALLS
from gateway.store.rows import as_order

PAID_AT = datetime(2026, 5, 9, 12, 34, 56, 789000, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    if not database_url.startswith("postgresql"):
        pytest.skip("one statement is PostgreSQL's; SQLite pays in a transaction")
    database = Database(database_url)
    yield database
    database.dispose()


def stored(db: Database, status: str = "pending") -> str:
    number = f"M{uuid.uuid4().hex[:20]}"
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()), "provider": "example", "channel": "CARD", "amount": 2856, "currency": "CAD",
        "status": status, "merchant_order_no": number, "provider_order_id": None, "provider_account": "acct-1",
        "subject": "Coffee", "body": "1kg", "client_ip": "127.0.0.1", "order_metadata": {}, "created_at": now,
        "updated_at": now, "expires_at": now + timedelta(hours=2), "paid_after_expiry": False, "refunded_amount": 0,
    }  # fmt: skip
    values["metadata"] = values.pop("order_metadata")
    with db.engine.begin() as connection:
        connection.execute(insert(ORDERS), values)
    return number


def read(db: Database, number: str) -> Any:
    with db.engine.connect() as connection:
        # Every column, in ORDERS.columns' order: the row the notify's read gives the payment.
        whole = select(*ORDERS.columns).where(ORDERS.c.provider == "example", ORDERS.c.merchant_order_no == number)
        return connection.execute(whole).one()


def pay(db: Database, row: Any, provider_order_id: str | None = "PO-1") -> tuple[Verdict, str | None] | None:
    report = Notification(
        merchant_order_no=row.merchant_order_no, amount=2856, currency="CAD", paid=True, account_id="acct-1",
        provider_order_id=provider_order_id, paid_at=PAID_AT,
    )  # fmt: skip
    record = {
        "provider": "example", "received_at": datetime.now(UTC), "method": "POST", "query_string": "", "body": "{}",
        "body_digest": None, "request_size": 2, "content_type": "application/json", "order_id": row.id,
        "event_id": None,
    }  # fmt: skip
    return pay_in_one_statement(db, tuple(row), report, record, Transitions())


def written(db: Database, order_id: str) -> tuple[Any, list[Any], list[Any]]:
    with db.engine.connect() as connection:
        order = connection.execute(select(*ORDERS.columns).where(ORDERS.c.id == order_id)).one()
        events = connection.execute(select(OUTBOX_EVENTS).where(OUTBOX_EVENTS.c.order_id == order_id)).all()
        records = connection.execute(select(NOTIFICATIONS).where(NOTIFICATIONS.c.order_id == order_id)).all()
    return order, events, records


def test_a_payment_writes_the_order_its_event_and_its_record_at_once(db: Database) -> None:
    row = read(db, stored(db))
    assert pay(db, row) == (Verdict.APPLIED, None)
    order, events, records = written(db, row.id)
    assert (order.status, order.provider_order_id, order.paid_at) == ("paid", "PO-1", PAID_AT)
    assert [event.type for event in events] == ["order.paid"]
    # The webhook's payload, built before the statement ran, is the order as it was stored.
    assert events[0].data == {"order": OrderSchema().dump(as_order(order))}
    assert [(record.verdict, record.reason) for record in records] == [("applied", None)]


def test_an_expired_order_is_paid_and_flagged(db: Database) -> None:
    row = read(db, stored(db, status="expired"))
    assert pay(db, row) == (Verdict.APPLIED, "paid after expiry")
    order, events, records = written(db, row.id)
    assert order.paid_after_expiry and events[0].data["order"]["paid_after_expiry"] is True
    assert [(record.verdict, record.reason) for record in records] == [("applied", "paid after expiry")]


@pytest.mark.parametrize(
    "meanwhile",
    [
        {"status": "paid"},  # another notify won
        {"updated_at": datetime.now(UTC) + timedelta(seconds=1), "provider_order_id": "PO-1"},  # the create's answer
    ],
)
def test_an_order_changed_since_the_read_is_left_to_the_transaction(db: Database, meanwhile: dict[str, Any]) -> None:
    row = read(db, stored(db))
    with db.engine.begin() as connection:
        connection.execute(update(ORDERS).where(ORDERS.c.id == row.id).values(**meanwhile))
    assert pay(db, row) is None
    order, events, records = written(db, row.id)
    assert order.status == meanwhile.get("status", "pending") and order.paid_at is None
    assert events == [] and records == []


def test_concurrent_payments_of_one_order_apply_once(db: Database) -> None:
    row = read(db, stored(db))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: pay(db, row), range(8)))
    assert results.count((Verdict.APPLIED, None)) == 1 and results.count(None) == 7
    count = select(func.count()).select_from(OUTBOX_EVENTS).where(OUTBOX_EVENTS.c.order_id == row.id)
    with db.engine.connect() as connection:
        assert connection.scalar(count) == 1


def call_record(number: str) -> dict[str, Any]:
    """A confirming query's record, as instrument._record makes it."""
    return {
        "provider": "example", "operation": "query_order", "outcome": "ok", "code": None, "message": None,
        "duration_ms": 3, "merchant_order_no": number, "refund_id": None, "request_id": "req-1",
        "created_at": datetime.now(UTC),
    }  # fmt: skip


def calls_about(db: Database, number: str) -> list[tuple[str, str, str | None]]:
    query = select(PROVIDER_CALLS.c.operation, PROVIDER_CALLS.c.outcome, PROVIDER_CALLS.c.request_id)
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query.where(PROVIDER_CALLS.c.merchant_order_no == number))]


@pytest.mark.parametrize("paid_meanwhile", [False, True])
def test_the_confirming_query_is_recorded_by_the_same_statement_paid_or_not(db: Database, paid_meanwhile: bool) -> None:
    number = stored(db)
    row = read(db, number)
    if paid_meanwhile:
        with db.engine.begin() as connection:
            connection.execute(update(ORDERS).where(ORDERS.c.id == row.id).values(status="paid"))
    report = Notification(
        merchant_order_no=number, amount=2856, currency="CAD", paid=True, account_id="acct-1",
        provider_order_id="PO-1", paid_at=PAID_AT,
    )  # fmt: skip
    record = {
        "provider": "example", "received_at": datetime.now(UTC), "method": "POST", "query_string": "", "body": "{}",
        "body_digest": None, "request_size": 2, "content_type": "application/json", "order_id": row.id,
        "event_id": None,
    }  # fmt: skip
    held = [call_record(number)]
    settled = pay_in_one_statement(db, tuple(row), report, record, Transitions(), held)
    assert settled == (None if paid_meanwhile else (Verdict.APPLIED, None))
    # Written, and so no longer held: the caller (instrument.records_held) must not write it again.
    assert held == [] and calls_about(db, number) == [("query_order", "ok", "req-1")]
