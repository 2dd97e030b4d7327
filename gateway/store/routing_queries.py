"""What the console, `gateway check` and /metrics show of routing: surplus payments, breakers, attempts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from gateway.plugin.clock import as_utc, utcnow
from gateway.store.db import Database
from gateway.store.models import ORDER_ATTEMPTS, ORDERS

NOT_CREATED, UNKNOWN = "not_created", "unknown"
LIST_LIMIT = 50


@dataclass(frozen=True)
class SurplusPayment:
    order_id: str
    attempt: int
    account_id: str
    merchant_order_no: str
    amount: int
    currency: str
    paid_at: datetime | None


def surplus_payments(db: Database, limit: int = LIST_LIMIT) -> list[SurplusPayment]:
    """Payments that reached an attempt an order had left: each needs a refund, by hand."""
    statement = (
        select(
            ORDER_ATTEMPTS.c.order_id,
            ORDER_ATTEMPTS.c.position,
            ORDER_ATTEMPTS.c.account_id,
            ORDER_ATTEMPTS.c.merchant_order_no,
            ORDER_ATTEMPTS.c.surplus_amount,
            ORDERS.c.currency,
            ORDER_ATTEMPTS.c.surplus_paid_at,
        )
        .join(ORDERS, ORDERS.c.id == ORDER_ATTEMPTS.c.order_id)
        .where(ORDER_ATTEMPTS.c.surplus_paid_at.is_not(None))
        .order_by(ORDER_ATTEMPTS.c.surplus_paid_at.desc())
        .limit(limit)
    )
    with db.autocommit_connection() as connection:
        return [SurplusPayment(*row[:6], as_utc(row[6])) for row in connection.execute(statement)]


def attempts_of(db: Database, order_id: str) -> list[Any]:
    statement = select(ORDER_ATTEMPTS).where(ORDER_ATTEMPTS.c.order_id == order_id).order_by(ORDER_ATTEMPTS.c.position)
    with db.autocommit_connection() as connection:
        return list(connection.execute(statement))


@dataclass(frozen=True)
class BreakerState:
    account_id: str
    consecutive_failures: int  # the account's own failures since its last created order
    open_until: datetime | None  # None: closed

    @property
    def is_open(self) -> bool:
        return self.open_until is not None


def breaker_states(db: Database, failures: int, cooldown: float, now: datetime | None = None) -> list[BreakerState]:
    """Each account's run of its own failures since its last created order (over the last hour), and
    whether that opens its breaker now: the rule each worker applies to its own attempts
    (gateway.domain.breaker), applied to every worker's recorded ones."""
    now = now or utcnow()
    statement = (
        select(
            ORDER_ATTEMPTS.c.account_id,
            ORDER_ATTEMPTS.c.outcome,
            ORDER_ATTEMPTS.c.account_fault,
            ORDER_ATTEMPTS.c.started_at,
        )
        .where(ORDER_ATTEMPTS.c.started_at >= now - timedelta(hours=1), ORDER_ATTEMPTS.c.outcome != UNKNOWN)
        .order_by(ORDER_ATTEMPTS.c.account_id, ORDER_ATTEMPTS.c.started_at.desc(), ORDER_ATTEMPTS.c.id.desc())
    )
    with db.autocommit_connection() as connection:
        rows: Sequence[Any] = list(connection.execute(statement))
    runs: dict[str, tuple[int, datetime | None, bool]] = {}  # account -> (run, newest failure, run ended)
    for row in rows:
        run, newest, ended = runs.get(row.account_id, (0, None, False))
        if ended:
            continue
        if row.outcome == NOT_CREATED and row.account_fault is False:
            continue  # a refusal of that order alone: neither a failure of the account nor a success
        if row.outcome == NOT_CREATED:  # (NULL: recorded before the distinction, counted as before)
            runs[row.account_id] = (run + 1, newest or as_utc(row.started_at), False)
        else:
            runs[row.account_id] = (run, newest, True)
    states = []
    for account_id, (run, newest, _) in sorted(runs.items()):
        if not run:
            continue
        open_until = None
        if failures and run >= failures and newest is not None and newest + timedelta(seconds=cooldown) > now:
            open_until = newest + timedelta(seconds=cooldown)
        states.append(BreakerState(account_id, run, open_until))
    return states
