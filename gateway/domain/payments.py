"""Moving an order to paid: the one transition shared by notifies, `?refresh=true` and reconcile.

Exactly once rests on a conditional UPDATE (`... WHERE status IN (unpaid states)`): however
many requests race, the database lets exactly one of them change the row, on PostgreSQL (the
losers re-check the condition after the winner commits) and on SQLite (writes serialize).

The statements are prebuilt in gateway.store.statements, rows mapped in gateway.store.rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection

from gateway.domain import outbox
from gateway.domain.attempt_view import with_attempts
from gateway.domain.lifecycle import Transitions
from gateway.plugin.clock import utcnow
from gateway.plugin.provider import Notification, Verdict
from gateway.store.db import Database
from gateway.store.models import DEFAULT_MERCHANT_ID, PAID_STATUSES, Order, OrderStatus
from gateway.store.rows import as_order
from gateway.store.statements import (
    ALREADY_PAID,
    MARK_PAID,
    MARK_PAID_WITH_ID,
    PAY_AND_RECORD,
    PAY_AND_RECORD_WITH_CALL,
)

log = logging.getLogger("gateway.domain.payments")  # the name operators' log filters know


class OrderFacts(Protocol):
    """What a verdict reads of an order: an `Order`, or a `StoredOrder` read without the ORM."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def provider_account(self) -> str | None: ...
    @property
    def provider_order_id(self) -> str | None: ...


def verdict_on(order: OrderFacts | None, report: Notification) -> tuple[Verdict, str | None]:
    """Does the provider's report match the stored order, and would it change anything?"""
    if order is None:
        return Verdict.UNKNOWN_ORDER, f"no order {report.merchant_order_no!r}"
    if (report.account_id or order.provider_account) and report.account_id != order.provider_account:
        return Verdict.MISMATCH, "merchant account differs from the order's"
    if report.provider_order_id and order.provider_order_id and report.provider_order_id != order.provider_order_id:
        # The same reference on another payment at the provider: not this order's money.
        return Verdict.MISMATCH, f"provider order {report.provider_order_id} is not {order.provider_order_id}"
    if (report.amount, report.currency) != (order.amount, order.currency):
        return Verdict.MISMATCH, f"amount {report.amount} {report.currency} != order's {order.amount} {order.currency}"
    if not report.paid:
        return Verdict.IGNORED, "not a payment"
    if order.status in PAID_STATUSES:
        return Verdict.DUPLICATE, ALREADY_PAID
    return Verdict.APPLIED, None


def settle_payment(
    connection: Connection, order: OrderFacts | None, report: Notification, transitions: Transitions
) -> tuple[Verdict, str | None]:
    """Apply `report` to `order` inside `connection`'s transaction (a session's: `session.connection()`);
    at most once per order.

    `order` may have been read before the transaction began (the notify pipeline reads without a
    lock): the conditional UPDATE, not this copy, decides whether it is still unpaid. An `Order`
    passed in is brought up to date with what the UPDATE wrote.
    """
    verdict, reason = verdict_on(order, report)
    if verdict is not Verdict.APPLIED:
        return verdict, reason
    assert order is not None
    paid = _mark_paid(connection, order, report)
    if paid is None:
        return Verdict.DUPLICATE, "already paid (concurrently)"
    transitions.order_paid(connection, paid)
    if paid.paid_after_expiry:
        log.warning("order %s was paid after it had expired; recorded as paid and flagged", paid.id)
        return Verdict.APPLIED, "paid after expiry"
    return Verdict.APPLIED, None


def _mark_paid(connection: Connection, order: OrderFacts, report: Notification) -> Order | None:
    """The order as paid, from the UPDATE's RETURNING (one round trip); None if it was no longer unpaid."""
    now = utcnow()
    params: dict[str, Any] = {"order_id": order.id, "paid_at": report.paid_at or now, "now": now}
    statement = MARK_PAID
    if report.provider_order_id and not order.provider_order_id:
        statement, params["provider_order_id"] = MARK_PAID_WITH_ID, report.provider_order_id
    row = connection.execute(statement, params).first()
    if row is None:
        return None
    # The caller's own Order (refresh, reconcile) shows what was written, as if it had been reloaded;
    # the notify pipeline, which read no Order, gets a detached one for the event and the hooks.
    return as_order(row, order if isinstance(order, Order) else None)


def pay_in_one_statement(
    db: Database,
    row: Sequence[Any],
    report: Notification,
    record: Mapping[str, Any],
    transitions: Transitions,
    calls: list[dict[str, Any]] | None = None,
) -> tuple[Verdict, str | None] | None:
    """PostgreSQL: apply a payment `verdict_on` approved, in one round trip and one commit
    (statements.PAY_AND_RECORD): the conditional UPDATE, the outbox event, the notification's
    `record` (INSERT_NOTIFICATION's values), in autocommit.

    `calls`: records of provider calls held for this commit (instrument.records_held); one (the
    confirming query's) is written by the same statement, paid or not, and taken out of the list.

    `row` is the whole order as the notify read it, without a lock; the webhook's payload is that order
    as paid. None: nothing was written, because the order is no longer as read (paid concurrently, or
    changed): the caller then pays in a transaction (`settle_payment`), which decides it afresh.
    """
    order = as_order(row)  # detached: what the UPDATE will make of the row, if it is still as read
    read_status, read_updated_at = order.status, order.updated_at
    now = utcnow()
    order.status, order.paid_at, order.updated_at = OrderStatus.PAID.value, report.paid_at or now, now
    order.paid_after_expiry = read_status == OrderStatus.EXPIRED.value or bool(order.paid_after_expiry)
    if report.provider_order_id and not order.provider_order_id:
        order.provider_order_id = report.provider_order_id
    reason = "paid after expiry" if order.paid_after_expiry else None
    if order.merchant_id != DEFAULT_MERCHANT_ID:  # a stored merchant's webhook shows the order's attempts
        with db.autocommit_connection() as connection:
            with_attempts(connection, order)
    params = {
        **record,
        "verdict": Verdict.APPLIED.value,
        "reason": reason,
        "notification_event_id": record["event_id"],
        "order_id": order.id,
        "paid_at": order.paid_at,
        "now": now,
        "provider_order_id": report.provider_order_id,
        "read_status": read_status,
        "read_updated_at": read_updated_at,
        "event_id": outbox.new_event_id(),
        "event_type": outbox.ORDER_PAID,
        "event_data": json.dumps(Transitions.order_paid_data(order)),
    }
    call = calls[0] if calls is not None and len(calls) == 1 else None
    if call is not None:
        params.update({"call_" + key: value for key, value in call.items()})
    with db.raw_autocommit() as cursor:
        found = db.raw(PAY_AND_RECORD if call is None else PAY_AND_RECORD_WITH_CALL).execute(cursor, params)
        if call is not None:  # committed with the statement, whatever it found
            calls.clear()  # type: ignore[union-attr]
        if found.fetchone() is None:
            return None
    transitions.order_paid_written(order)
    if reason is not None:
        log.warning("order %s was paid after it had expired; recorded as paid and flagged", order.id)
    return Verdict.APPLIED, reason
