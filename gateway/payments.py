"""Moving an order to paid: the one transition shared by notifies, `?refresh=true` and reconcile.

Exactly once rests on a conditional UPDATE (`... WHERE status IN (unpaid states)`): however
many requests race, the database lets exactly one of them change the row, on PostgreSQL (the
losers re-check the condition after the winner commits) and on SQLite (writes serialize).
"""

from __future__ import annotations

import logging

from sqlalchemy import case, update
from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.lifecycle import Transitions
from gateway.models import PAID_STATUSES, Order, OrderStatus
from gateway.provider import Notification, Verdict

log = logging.getLogger(__name__)

# An order in any of these states becomes paid when the provider says money moved.
UNPAID_STATUSES = (OrderStatus.PENDING.value, OrderStatus.FAILED.value, OrderStatus.EXPIRED.value)


def verdict_on(order: Order | None, report: Notification) -> tuple[Verdict, str | None]:
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
        return Verdict.DUPLICATE, "already paid"
    return Verdict.APPLIED, None


def settle_payment(
    session: Session, order: Order | None, report: Notification, transitions: Transitions
) -> tuple[Verdict, str | None]:
    """Apply `report` to `order` inside `session`'s transaction; at most once per order.

    `order` may have been read before the transaction began (the notify pipeline reads without a
    lock): the conditional UPDATE, not this copy, decides whether it is still unpaid.
    """
    verdict, reason = verdict_on(order, report)
    if verdict is not Verdict.APPLIED:
        return verdict, reason
    assert order is not None
    paid = _mark_paid(session, order, report)
    if paid is None:
        return Verdict.DUPLICATE, "already paid (concurrently)"
    transitions.order_paid(session, paid)
    if paid.paid_after_expiry:
        log.warning("order %s was paid after it had expired; recorded as paid and flagged", paid.id)
        return Verdict.APPLIED, "paid after expiry"
    return Verdict.APPLIED, None


def _mark_paid(session: Session, order: Order, report: Notification) -> Order | None:
    """The order as paid, from the UPDATE's RETURNING (one round trip); None if it was no longer unpaid."""
    now = utcnow()
    values: dict[str, object] = {
        "status": OrderStatus.PAID.value,
        "paid_at": report.paid_at or now,
        "updated_at": now,
        # Money moved after we gave up on the order: record it, and flag it for a human.
        "paid_after_expiry": case((Order.status == OrderStatus.EXPIRED.value, True), else_=Order.paid_after_expiry),
    }
    if report.provider_order_id and not order.provider_order_id:
        values["provider_order_id"] = report.provider_order_id
    paid: Order | None = session.scalars(
        update(Order).where(Order.id == order.id, Order.status.in_(UNPAID_STATUSES)).values(**values).returning(Order),
        execution_options={"synchronize_session": False, "populate_existing": True},
    ).one_or_none()
    return paid
