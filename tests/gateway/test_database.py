"""The connection pool under the ways production loses or starves connections.

- A PostgreSQL connection the server dropped (pg_terminate_backend: what a restart or an
  administrator does) is replaced before a request uses it: the next request succeeds.
- A create_order holds no database connection while the provider is being called: with a pool
  of one connection, concurrent checkouts against a slow provider all finish, and the pool is
  idle while they wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import bindparam, create_engine, func, insert, select, text, update

from gateway.store.db import Database, RawStatement
from gateway.store.models import NOTIFICATIONS, ORDERS, NotificationRecord, Order
from gateway.testing.live import LiveServer
from tests.conftest import POSTGRES_URL
from tests.support.keys import AUTH

ORDER = {"channel": "wallet", "amount": 2856, "currency": "USD", "subject": "Coffee", "body": "1kg"}  # Example Pay


def _terminate_backends(database: str) -> int:
    """Have the server drop every connection to `database`, as a restart would; wait until they are gone."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            killed = connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            )
            for _ in range(100):
                left = connection.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                    {"name": database},
                )
                if not left:
                    break
                time.sleep(0.05)
    finally:
        admin.dispose()
    return int(killed or 0)


@pytest.mark.parametrize("session_kind", ["autocommit", "transaction"])
def test_a_connection_the_server_dropped_is_replaced_before_it_is_used(postgres_url: str, session_kind: str) -> None:
    db = Database(postgres_url, pool_size=1)
    try:
        with getattr(db, session_kind)() as session:
            first_backend = session.scalar(text("SELECT pg_backend_pid()"))
        assert _terminate_backends(db.engine.url.database or "") == 1

        with getattr(db, session_kind)() as session:  # the pooled connection is dead: no error, a new one
            second_backend = session.scalar(text("SELECT pg_backend_pid()"))
        assert second_backend != first_backend
    finally:
        db.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_requests_succeed_after_the_server_dropped_every_connection(
    neutral_app: Any, neutral_client: Any, database_url: str
) -> None:
    app, client = neutral_app, neutral_client
    created = client.post("/v1/orders", json=ORDER)
    assert created.status_code == 201
    order_id = created.get_json()["id"]
    assert _terminate_backends(app.extensions["gateway"].db.engine.url.database) >= 1

    assert client.get(f"/v1/orders/{order_id}").status_code == 200
    assert client.post("/v1/orders", json=ORDER).status_code == 201


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_no_connection_is_held_while_the_provider_is_called(
    neutral_factory: Callable[..., Any],
    neutral_provider: Any,
    gateway_server: LiveServer,
    database_url: str,
) -> None:
    # One connection for the whole app: a create that kept it while the provider answered would make
    # the others (and the watcher) wait, so the four orders could never be stored and unanswered at once.
    app = neutral_factory(GATEWAY_DATABASE_POOL_SIZE="1", EXAMPLE_TIMEOUT="30")
    db: Database = app.extensions["gateway"].db
    concurrent = 4
    neutral_provider.simulator.fault_next("create_order", "delay", 2, count=concurrent)
    unanswered: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.02):
            with db.autocommit() as session:
                unanswered.append(session.scalar(select(func.count()).where(Order.pay_params.is_(None))) or 0)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(concurrent) as pool:
            answers = list(
                pool.map(
                    lambda _: requests.post(f"{gateway_server.url}/v1/orders", json=ORDER, headers=AUTH, timeout=60),
                    range(concurrent),
                )
            )
    finally:
        stop.set()
        watcher.join()
    assert [answer.status_code for answer in answers] == [201] * concurrent
    assert max(unanswered) == concurrent
    with db.autocommit() as session:
        assert session.scalar(select(func.count()).where(Order.pay_params.is_(None))) == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_request_that_finds_every_pooled_connection_busy_gets_a_clear_503_and_can_retry(
    neutral_factory: Callable[..., Any],
) -> None:
    app = neutral_factory(GATEWAY_DATABASE_POOL_SIZE="1", GATEWAY_DATABASE_POOL_TIMEOUT="1")
    client = app.test_client()
    missing = "/v1/orders/00000000-0000-0000-0000-000000000000"
    held = app.extensions["gateway"].db.engine.connect()  # the pool's only connection, as a slow request holds it
    try:
        started = time.monotonic()
        busy = client.get(missing)
        waited = time.monotonic() - started
    finally:
        held.close()
    assert busy.status_code == 503, busy.get_json()
    assert busy.get_json()["error"] == "database_busy"
    assert busy.headers["Retry-After"] == "1"
    assert 0.9 < waited < 10, f"waited {waited:.1f}s for GATEWAY_DATABASE_POOL_TIMEOUT=1"
    assert client.get(missing).status_code == 404, "once the connection is free again, requests are served"


# -- RawStatement: the notify path's statements, without SQLAlchemy's execution machinery ----------


def test_a_raw_insert_is_read_back_as_the_orm_wrote_it(database_url: str) -> None:
    db = Database(database_url)
    received = datetime(2026, 11, 27, 19, 30, 1, 123456, tzinfo=UTC)
    row = {
        "provider": "example", "received_at": received, "method": "POST", "query_string": "a=1", "body": "",
        "body_digest": None, "request_size": 3, "content_type": None, "verdict": "duplicate", "reason": "é ✓",
        "order_id": None, "event_id": "evt_1",
    }  # fmt: skip
    try:
        statement = insert(NOTIFICATIONS).inline()
        with db.raw_autocommit() as cursor:
            db.raw(statement, list(row)).execute(cursor, row)
        with db.transaction_connection() as connection:  # the same row through SQLAlchemy, for comparison
            connection.execute(statement, {**row, "event_id": "evt_2"})
        with db.autocommit() as session:
            raw, orm = session.scalars(select(NotificationRecord).order_by(NotificationRecord.event_id)).all()
        for record in (raw, orm):
            assert record.received_at.replace(tzinfo=UTC) == received  # SQLite gives it back naive, as ever
            assert (record.verdict, record.reason, record.request_size, record.body_digest) == (
                "duplicate", "é ✓", 3, None
            )  # fmt: skip
    finally:
        db.dispose()


def test_a_raw_statement_refuses_an_in_list_it_would_have_to_expand() -> None:
    engine = create_engine("sqlite://")
    with pytest.raises(ValueError, match="IN list"):
        RawStatement(select(NOTIFICATIONS.c.id).where(NOTIFICATIONS.c.verdict.in_(["applied"])), engine)


def test_a_raw_update_must_be_given_what_the_column_would_compute(database_url: str) -> None:
    # orders.updated_at has an onupdate: SQLAlchemy's execution fills it in, a raw statement cannot.
    db = Database(database_url)
    try:
        statement = db.raw(update(ORDERS).where(ORDERS.c.id == bindparam("order_id")).values(subject=bindparam("s")))
        with pytest.raises(ValueError, match="updated_at"), db.writing(), db.raw_autocommit() as cursor:
            statement.execute(cursor, {"order_id": "none", "s": "x"})
        with db.writing(), db.raw_autocommit() as cursor:
            statement.execute(cursor, {"order_id": "none", "s": "x", "updated_at": datetime.now(UTC)})
    finally:
        db.dispose()


# -- SQLite: writers queue in the kernel, not in SQLite's sleeping busy handler -------------------


def test_sqlite_writers_of_two_processes_take_turns_at_the_gate(sqlite_url: str) -> None:
    # Two Database objects open the lock file separately, as two gunicorn workers do. The first holds
    # the gate without touching SQLite, so only the gate (not SQLite's own lock) can hold the second.
    first, second = Database(sqlite_url), Database(sqlite_url)
    events: list[str] = []
    holding = threading.Event()

    def hold() -> None:
        with first.writing():
            events.append("first in")
            holding.set()
            time.sleep(0.3)
            events.append("first out")

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with second.transaction_connection():
            events.append("second in")
    finally:
        holder.join()
        first.dispose()
        second.dispose()
    assert events == ["first in", "first out", "second in"]


def test_postgresql_has_no_writer_gate(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        assert db._writers is None  # row locks: writers of different orders never wait for each other
    finally:
        db.dispose()


def test_the_idle_state_a_raw_connection_is_given_back_in_is_psycopgs() -> None:
    from psycopg.pq import TransactionStatus

    from gateway.store import db

    assert db._PQTRANS_IDLE == TransactionStatus.IDLE
