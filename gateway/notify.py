"""The notify pipeline, the same for every provider.

    provider verifies and parses  ->  find the order  ->  check account, amount, currency
    ->  apply the transition at most once  ->  record the notification  ->  commit
    ->  (only then) acknowledge, and fire `gateway_order_paid` for the one request that applied it.

Exactly once rests on a conditional UPDATE (`... WHERE status <> 'paid'`): however many
requests race, the database lets exactly one of them change the row, on PostgreSQL (the
losers re-check the condition after the winner commits) and on SQLite (writes serialize).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pluggy
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.events import OrderSnapshot
from gateway.models import NotificationRecord, Order, OrderStatus
from gateway.provider import Acknowledgement, InboundRequest, Notification, NotificationRejected, Provider, Verdict
from gateway.runtime import Gateway

log = logging.getLogger(__name__)

MAX_STORED_BODY = 64 * 1024  # a notify is a few hundred bytes; keep abuse out of the table


def handle_notification(gateway: Gateway, provider: Provider, request: InboundRequest) -> Acknowledgement:
    try:
        notification = provider.verify_notification(request)
    except NotificationRejected as rejected:
        with gateway.db.transaction() as session:
            _record(session, provider, request, rejected.verdict, rejected.reason, order_id=None, event_id=None)
        log.warning("%s notify rejected (%s): %s", provider.name, rejected.verdict.value, rejected.reason)
        return provider.acknowledge(rejected.verdict)

    paid_order: OrderSnapshot | None = None
    with gateway.db.transaction() as session:
        order = session.scalar(
            select(Order).where(
                Order.provider == provider.name, Order.merchant_order_no == notification.merchant_order_no
            )
        )
        verdict, reason = _judge(order, notification)
        if verdict is Verdict.APPLIED:
            assert order is not None
            if _mark_paid(session, order, notification):
                session.refresh(order)
                paid_order = order.snapshot()
            else:
                verdict, reason = Verdict.DUPLICATE, "already paid (concurrent notify)"
        _record(
            session,
            provider,
            request,
            verdict,
            reason,
            order_id=order.id if order is not None else None,
            event_id=notification.event_id,
        )
    # Committed. From here on nothing can undo the payment record.
    if verdict.accepted:
        log.info("%s notify for %s: %s", provider.name, notification.merchant_order_no, verdict.value)
    else:
        log.warning(
            "%s notify for %s refused (%s): %s", provider.name, notification.merchant_order_no, verdict.value, reason
        )
    if paid_order is not None:
        _announce_paid(gateway.hooks, paid_order)
    return provider.acknowledge(verdict)


def _judge(order: Order | None, notification: Notification) -> tuple[Verdict, str | None]:
    if order is None:
        return Verdict.UNKNOWN_ORDER, f"no order {notification.merchant_order_no!r}"
    if notification.account_id is not None and order.provider_account not in (None, notification.account_id):
        return Verdict.MISMATCH, "merchant account differs from the order's"
    if (notification.amount, notification.currency) != (order.amount, order.currency):
        return (
            Verdict.MISMATCH,
            f"amount {notification.amount} {notification.currency} != order's {order.amount} {order.currency}",
        )
    if not notification.paid:
        return Verdict.IGNORED, "not a payment"
    if order.status == OrderStatus.PAID.value:
        return Verdict.DUPLICATE, "already paid"
    # Any other status, even `failed`, becomes paid: the provider says money moved.
    return Verdict.APPLIED, None


def _mark_paid(session: Session, order: Order, notification: Notification) -> bool:
    values: dict[str, object] = {
        "status": OrderStatus.PAID.value,
        "paid_at": notification.paid_at or utcnow(),
        "updated_at": utcnow(),
    }
    if notification.provider_order_id and not order.provider_order_id:
        values["provider_order_id"] = notification.provider_order_id
    result = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status != OrderStatus.PAID.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _record(
    session: Session,
    provider: Provider,
    request: InboundRequest,
    verdict: Verdict,
    reason: str | None,
    *,
    order_id: str | None,
    event_id: str | None,
) -> None:
    session.add(
        NotificationRecord(
            provider=provider.name,
            method=request.method,
            query_string=urlencode(list(request.query))[:MAX_STORED_BODY],
            body=request.body[:MAX_STORED_BODY].decode("utf-8", "replace"),
            content_type=request.headers.get("content-type"),
            verdict=verdict.value,
            reason=reason,
            order_id=order_id,
            event_id=event_id,
        )
    )


def _announce_paid(hooks: pluggy.HookRelay, order: OrderSnapshot) -> None:
    try:
        hooks.gateway_order_paid(order=order)
    except Exception:
        # The payment is committed and the provider gets its acknowledgement regardless.
        log.exception("a gateway_order_paid hook failed for order %s", order.id)
