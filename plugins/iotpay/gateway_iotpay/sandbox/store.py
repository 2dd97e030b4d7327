"""SQLite state of the IOTPay simulator: orders, refunds and notify attempts.

One file shared by every process serving the simulator (gunicorn workers), so a payment made
through one worker is visible to a query answered by another. Each operation opens its own
connection (sqlite3 connections must not cross threads) and every read-check-write runs inside
`BEGIN IMMEDIATE`, which takes the write lock up front: two workers can then never both accept
the same mchOrderNo or both refund the last cent of an order.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, fields
from typing import Any

from gateway.sandbox import Attempt, SqliteState
from gateway_iotpay.schemas import (
    PAID_STATUSES,
    STATUS_CANCELLED_BY_USER,
    STATUS_CREATED,
    STATUS_PAID,
    STATUS_PAID_NOTIFIED,
)

_TABLES = """
CREATE TABLE IF NOT EXISTS orders (
    pay_order_id TEXT PRIMARY KEY, mch_id TEXT NOT NULL, mch_order_no TEXT NOT NULL,
    channel_id TEXT NOT NULL, currency TEXT NOT NULL, amount INTEGER NOT NULL, status INTEGER NOT NULL,
    client_ip TEXT NOT NULL, device TEXT, subject TEXT NOT NULL, body TEXT NOT NULL,
    notify_url TEXT NOT NULL, param1 TEXT, param2 TEXT, extra TEXT,
    channel_order_no TEXT, pay_succ_time TEXT, notified INTEGER NOT NULL DEFAULT 0, return_url TEXT,
    UNIQUE (mch_id, mch_order_no)
);
CREATE TABLE IF NOT EXISTS refunds (
    refund_order_id TEXT PRIMARY KEY, mch_id TEXT NOT NULL, mch_refund_no TEXT NOT NULL,
    pay_order_id TEXT NOT NULL REFERENCES orders, refund_amount INTEGER NOT NULL,
    UNIQUE (mch_id, mch_refund_no)
);
CREATE TABLE IF NOT EXISTS notify_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, pay_order_id TEXT NOT NULL, at TEXT NOT NULL,
    http_status INTEGER, error TEXT, body TEXT
);
"""


@dataclass(frozen=True)
class Order:
    pay_order_id: str
    mch_id: str
    mch_order_no: str
    channel_id: str
    currency: str
    amount: int
    status: int
    client_ip: str
    subject: str
    body: str
    notify_url: str
    device: str | None = None
    param1: str | None = None
    param2: str | None = None
    extra: str | None = None
    channel_order_no: str | None = None
    pay_succ_time: str | None = None  # epoch milliseconds, as IOTPay sends it
    notified: bool = False
    return_url: str | None = None  # where the payer's browser goes after paying (redirect channels)


@dataclass(frozen=True)
class Refund:
    refund_order_id: str
    mch_id: str
    mch_refund_no: str
    pay_order_id: str
    refund_amount: int


class Rejected(Exception):
    """A business rule refused the operation; the message becomes IOTPay's errCodeDes."""


class UnknownOrder(Exception):
    """No order with that payOrderId for that merchant."""


def _insert(conn: sqlite3.Connection, table: str, record: Any) -> None:
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", values)


def _order(row: sqlite3.Row | None) -> Order | None:
    return None if row is None else Order(**{**dict(row), "notified": bool(row["notified"])})


# Columns added after the first release: a state file from an older `make run` gains them on open.
_ADDED_ORDER_COLUMNS = {"return_url": "TEXT"}


class SimulatorStore(SqliteState):
    def __init__(self, path: str) -> None:
        super().__init__(path, _TABLES)
        with self._transaction() as conn:
            present = {row["name"] for row in conn.execute("PRAGMA table_info(orders)")}
            for name, kind in _ADDED_ORDER_COLUMNS.items():
                if name not in present:
                    conn.execute(f"ALTER TABLE orders ADD COLUMN {name} {kind}")

    # -- orders -------------------------------------------------------------------------------

    def add_order(self, order: Order) -> None:
        with self._transaction() as conn:
            duplicate = conn.execute(
                "SELECT 1 FROM orders WHERE mch_id = ? AND mch_order_no = ?",
                (order.mch_id, order.mch_order_no),
            ).fetchone()
            if duplicate:
                raise Rejected(f"mchOrderNo {order.mch_order_no} already exists")
            _insert(conn, "orders", order)

    def get_order(self, pay_order_id: str) -> Order | None:
        with self._connect() as conn:
            return _order(conn.execute("SELECT * FROM orders WHERE pay_order_id = ?", (pay_order_id,)).fetchone())

    def find_orders(self, mch_order_no: str, mch_id: str | None = None) -> list[Order]:
        sql, args = "SELECT * FROM orders WHERE mch_order_no = ?", [mch_order_no]
        if mch_id is not None:
            sql, args = sql + " AND mch_id = ?", [*args, mch_id]
        with self._connect() as conn:
            return [order for row in conn.execute(sql, args) if (order := _order(row))]

    def mark_paid(self, pay_order_id: str, channel_order_no: str) -> Order:
        """Pay a created order; an order already paid keeps its payment (a second /pay re-notifies)."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE orders SET status = ?, channel_order_no = ?, pay_succ_time = ?"
                " WHERE pay_order_id = ? AND status = ?",
                (
                    STATUS_PAID,
                    channel_order_no,
                    str(time.time_ns() // 1_000_000),
                    pay_order_id,
                    STATUS_CREATED,
                ),
            )
            order = _order(conn.execute("SELECT * FROM orders WHERE pay_order_id = ?", (pay_order_id,)).fetchone())
        if order is None:
            raise KeyError(pay_order_id)
        return order

    def mark_cancelled(self, pay_order_id: str) -> Order:
        """The payer cancels an unpaid order (status 9): it can never be paid."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE orders SET status = ? WHERE pay_order_id = ? AND status = ?",
                (STATUS_CANCELLED_BY_USER, pay_order_id, STATUS_CREATED),
            )
            order = _order(conn.execute("SELECT * FROM orders WHERE pay_order_id = ?", (pay_order_id,)).fetchone())
        if order is None:
            raise KeyError(pay_order_id)
        return order

    def mark_notified(self, pay_order_id: str) -> None:
        # IOTPay's status 3 means "paid and notified": the merchant acknowledged the notify.
        with self._transaction() as conn:
            conn.execute(
                "UPDATE orders SET notified = 1, status = CASE WHEN status = ? THEN ? ELSE status END"
                " WHERE pay_order_id = ?",
                (STATUS_PAID, STATUS_PAID_NOTIFIED, pay_order_id),
            )

    # -- refunds ------------------------------------------------------------------------------

    def add_refund(self, refund: Refund, currency: str | None) -> Refund:
        """Record a refund, or return the earlier one with the same mchRefundNo (idempotent retry)."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT * FROM refunds WHERE mch_id = ? AND mch_refund_no = ?",
                (refund.mch_id, refund.mch_refund_no),
            ).fetchone()
            if row is not None:
                earlier = Refund(**dict(row))
                if (earlier.pay_order_id, earlier.refund_amount) != (
                    refund.pay_order_id,
                    refund.refund_amount,
                ):
                    raise Rejected(f"mchRefundNo {refund.mch_refund_no} was used for a different refund")
                return earlier
            order = _order(
                conn.execute(
                    "SELECT * FROM orders WHERE pay_order_id = ? AND mch_id = ?",
                    (refund.pay_order_id, refund.mch_id),
                ).fetchone()
            )
            if order is None:
                raise UnknownOrder(refund.pay_order_id)
            self._check_refundable(conn, order, refund.refund_amount, currency)
            _insert(conn, "refunds", refund)
            return refund

    @staticmethod
    def _check_refundable(conn: sqlite3.Connection, order: Order, amount: int, currency: str | None) -> None:
        if order.status not in PAID_STATUSES:
            raise Rejected("order not paid")
        if currency is not None and currency != order.currency:
            raise Rejected(f"currency must be {order.currency}")
        (refunded,) = conn.execute(
            "SELECT COALESCE(SUM(refund_amount), 0) FROM refunds WHERE pay_order_id = ?",
            (order.pay_order_id,),
        ).fetchone()
        if refunded + amount > order.amount:
            raise Rejected(f"refundAmount exceeds the refundable amount {order.amount - refunded}")

    def refunds_of(self, pay_order_id: str) -> list[Refund]:
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM refunds WHERE pay_order_id = ? ORDER BY rowid", (pay_order_id,))
            return [Refund(**dict(row)) for row in rows]

    # -- notify attempts ----------------------------------------------------------------------

    def record_attempt(self, pay_order_id: str, attempt: Attempt) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO notify_attempts (pay_order_id, at, http_status, error, body) VALUES (?, ?, ?, ?, ?)",
                (pay_order_id, attempt.at, attempt.http_status, attempt.error, attempt.body),
            )

    def attempts_of(self, pay_order_id: str) -> list[Attempt]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT at, http_status, error, body FROM notify_attempts WHERE pay_order_id = ? ORDER BY id",
                (pay_order_id,),
            )
            return [Attempt(**dict(row)) for row in rows]
