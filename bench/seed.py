"""Stored orders for the benchmarks, written straight into the database: a million in about a minute.

PostgreSQL builds the rows itself (INSERT ... SELECT FROM generate_series: one statement, no round
trip per row); SQLite gets one executemany. Order `i` has merchant_order_no B<i> and IOTPay's
payOrderId P<i>, so the bench can sign its notify without reading anything back.
"""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from gateway_iotpay import signing
from sqlalchemy import create_engine, text

from gateway.plugin.clock import utcnow

AMOUNT, CURRENCY = 2856, "CAD"


def merchant_order_no(i: int) -> str:
    return f"B{i:025d}"


def provider_order_id(i: int) -> str:
    return f"P{i:025d}"


def notify_path(i: int, mch_id: str, key: str) -> str:
    """The signed paid notify IOTPay would send for order `i` (an empty POST, fields in the query)."""
    params = {
        "payOrderId": provider_order_id(i), "mchId": mch_id, "mchOrderNo": merchant_order_no(i),
        "currency": CURRENCY, "amount": str(AMOUNT), "status": "2", "backType": "2",
    }  # fmt: skip
    params["sign"] = signing.sign(params, key)
    return "/notify/iotpay?" + urlencode(params)


_COLUMNS = (
    "id, provider, channel, amount, currency, status, merchant_order_no, provider_order_id, provider_account, "
    "subject, body, client_ip, metadata, created_at, updated_at, expires_at, paid_after_expiry, refunded_amount"
)


def seed_orders(database_url: str, count: int, mch_id: str, *, history: int = 0) -> None:
    """`count` pending orders 0..count-1, then `history` paid ones after them, each with its notify on record."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                _generate(connection, 0, count, "pending", mch_id)
                if history:
                    # The rows are made consistent here: checking a million foreign keys one by one
                    # would take longer than writing them (needs a superuser; the bench's own database).
                    connection.execute(text("SET LOCAL session_replication_role = replica"))
                    _generate(connection, count, count + history, "paid", mch_id)
                    connection.execute(
                        text(
                            "INSERT INTO notifications (provider, received_at, method, query_string, body, verdict, "
                            "order_id) SELECT 'iotpay', now(), 'POST', '', '', 'applied', id FROM orders "
                            "WHERE status = 'paid'"
                        )
                    )
                connection.execute(text("ANALYZE orders"))
                connection.execute(text("ANALYZE notifications"))
            else:
                assert not history, "a million-row history is a PostgreSQL benchmark"
                now, expires = utcnow(), utcnow() + timedelta(hours=2)
                rows = [
                    {
                        "id": str(uuid.uuid4()), "no": merchant_order_no(i), "pid": provider_order_id(i),
                        "acct": mch_id, "now": now, "exp": expires,
                    }
                    for i in range(count)
                ]  # fmt: skip
                connection.execute(
                    text(
                        f"INSERT INTO orders ({_COLUMNS}) VALUES (:id, 'iotpay', 'ALIPAY_MOBILE', {AMOUNT}, "
                        f"'{CURRENCY}', 'pending', :no, :pid, :acct, 'bench', 'bench', '127.0.0.1', '{{}}', "
                        ":now, :now, :exp, 0, 0)"
                    ),
                    rows,
                )
    finally:
        engine.dispose()


def seed_upstream(state: Path, start: int, stop: int, mch_id: str) -> None:
    """Orders start..stop-1 as the IOTPay simulator's paid orders, written into its state file, so that
    the gateway's confirming query about a notify finds the payment the notify reports."""
    from gateway_iotpay.sandbox.store import SimulatorStore

    SimulatorStore(str(state))  # its tables, if the upstream has not made them yet
    rows = [(provider_order_id(i), mch_id, merchant_order_no(i)) for i in range(start, stop)]
    with closing(sqlite3.connect(state, timeout=30)) as connection, connection:
        connection.executemany(
            "INSERT OR IGNORE INTO orders (pay_order_id, mch_id, mch_order_no, channel_id, currency, amount, status, "
            "client_ip, subject, body, notify_url, channel_order_no, pay_succ_time) VALUES (?, ?, ?, 'ALIPAY_MOBILE', "
            f"'{CURRENCY}', {AMOUNT}, 2, '127.0.0.1', 'bench', 'bench', 'http://127.0.0.1:9/notify/iotpay', "
            "'C' || ?, '1700000000000')",
            [(*row, row[0]) for row in rows],
        )


def _generate(connection, start: int, stop: int, status: str, mch_id: str) -> None:  # type: ignore[no-untyped-def]
    connection.execute(
        text(
            f"INSERT INTO orders ({_COLUMNS}) SELECT md5(i::text)::uuid::text, 'iotpay', 'ALIPAY_MOBILE', {AMOUNT}, "
            f"'{CURRENCY}', :status, 'B' || lpad(i::text, 25, '0'), 'P' || lpad(i::text, 25, '0'), :acct, 'bench', "
            "'bench', '127.0.0.1', '{}', now(), now(), now() + interval '2 hours', false, 0 "
            "FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint) - 1) AS i"
        ),
        {"status": status, "acct": mch_id, "start": start, "stop": stop},
    )
