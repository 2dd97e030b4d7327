"""An order's attempts: each try at one account, with its own provider order number, outcome and duration.

Outcomes: `created`; `not_created` (nothing can exist at the provider: a definite refusal, or a request
never sent), after which the order may go on to the next account; `unknown` (a time-out, an unclear
answer), after which it never does.

A payment that reaches an attempt the order left behind is never lost and never moves the order: the
attempt records it as surplus, the merchant gets an `order.overpaid` event, and the console lists the
order as needing a refund (`surplus_payment`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from gateway.domain import attempt_view
from gateway.domain.lifecycle import Transitions
from gateway.domain.provider_failures import account_failing, created_nothing
from gateway.plugin.clock import utcnow
from gateway.plugin.provider import Notification, ProviderError, Verdict
from gateway.store import routing_queries
from gateway.store.db import Database
from gateway.store.models import ORDER_ATTEMPTS, ORDERS
from gateway.store.rows import as_order

CREATED, NOT_CREATED, UNKNOWN = "created", "not_created", "unknown"

INSERT_ATTEMPT = insert(ORDER_ATTEMPTS)


def outcome_of(exc: ProviderError | None) -> str:
    if exc is None:
        return CREATED
    return NOT_CREATED if created_nothing(exc) else UNKNOWN


@dataclass
class Attempt:
    """One try, timed from just before the provider call."""

    order_id: str
    position: int
    account_id: str
    provider: str
    merchant_order_no: str
    started_at: datetime
    started: float

    @classmethod
    def begin(cls, order_id: str, position: int, account_id: str, provider: str, merchant_order_no: str) -> Attempt:
        return cls(order_id, position, account_id, provider, merchant_order_no, utcnow(), time.monotonic())

    def values(self, exc: ProviderError | None) -> dict[str, Any]:
        """The attempt's row, as its outcome `exc` (None: created) left it."""
        return {
            "order_id": self.order_id,
            "position": self.position,
            "account_id": self.account_id,
            "provider": self.provider,
            "merchant_order_no": self.merchant_order_no,
            "outcome": outcome_of(exc),
            "account_fault": exc is not None and account_failing(exc),
            "code": None if exc is None else exc.code[:64],
            "message": None if exc is None else exc.message[:500],
            "duration_ms": round((time.monotonic() - self.started) * 1000),
            "started_at": self.started_at,
        }


def write(connection: Connection, values: dict[str, Any] | None) -> None:
    if values is not None:
        connection.execute(INSERT_ATTEMPT, values)


def of_order(db: Database, order_id: str) -> list[dict[str, Any]]:
    """The order's attempts, first first, as the API shows them."""
    return [attempt_view.shown(dict(row._mapping)) for row in routing_queries.attempts_of(db, order_id)]


# -- a payment on an abandoned attempt ---------------------------------------------------------------


def abandoned_attempt(connection: Connection, provider: str, merchant_order_no: str) -> Any | None:
    """The attempt (with its order's columns) that used this provider order number, when the order
    went on under another number; None otherwise."""
    statement = (
        select(
            ORDER_ATTEMPTS.c.id.label("attempt_id"),
            ORDER_ATTEMPTS.c.account_id.label("attempt_account_id"),
            ORDER_ATTEMPTS.c.position,
            ORDER_ATTEMPTS.c.surplus_paid_at,
            ORDERS,
        )
        .join(ORDERS, ORDERS.c.id == ORDER_ATTEMPTS.c.order_id)
        .where(
            ORDER_ATTEMPTS.c.provider == provider,
            ORDER_ATTEMPTS.c.merchant_order_no == merchant_order_no,
            ORDERS.c.merchant_order_no != merchant_order_no,
        )
        .limit(1)
    )
    return connection.execute(statement).first()


def record_surplus(
    connection: Connection, found: Any, notification: Notification, account_id: str
) -> tuple[Verdict, str]:
    """A verified payment of an abandoned attempt, in `connection`'s transaction: recorded once, and the
    merchant told (`order.overpaid`). The order itself is left exactly as it is."""
    if found.attempt_account_id != account_id:
        return Verdict.MISMATCH, "the attempt belongs to another provider account"
    if notification.currency != found.currency:
        return Verdict.MISMATCH, f"currency {notification.currency} differs from the order's {found.currency}"
    now = utcnow()
    marked = connection.execute(
        update(ORDER_ATTEMPTS)
        .where(and_(ORDER_ATTEMPTS.c.id == found.attempt_id, ORDER_ATTEMPTS.c.surplus_paid_at.is_(None)))
        .values(surplus_amount=notification.amount, surplus_paid_at=notification.paid_at or now)
    )
    if marked.rowcount == 0:
        return Verdict.DUPLICATE, "surplus payment already recorded"
    order = as_order(connection.execute(select(ORDERS).where(ORDERS.c.id == found.id)).one())
    order.attempt_list = attempt_view.read(connection, found.id)
    surplus = {
        "attempt": found.position,
        "account": found.attempt_account_id,
        "merchant_order_no": notification.merchant_order_no,
        "amount": notification.amount,
        "currency": notification.currency,
        "provider_order_id": notification.provider_order_id,
    }
    Transitions().order_overpaid(connection, order, surplus)
    return Verdict.APPLIED, f"surplus payment on abandoned attempt {found.position}; needs a refund"
