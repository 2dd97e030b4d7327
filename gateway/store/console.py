"""What the console shows: read-only queries over orders, notifications, provider calls, refunds and webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from gateway.plugin.clock import as_utc, utcnow
from gateway.plugin.provider import Verdict
from gateway.store.db import Database
from gateway.store.models import (
    ConsoleAction,
    NotificationRecord,
    Order,
    OrderStatus,
    OutboxEvent,
    ProviderCall,
    Refund,
    RefundStatus,
    WebhookDelivery,
)
from gateway.store.rows import is_resource_id

LIST_LIMIT = 50
UNSETTLED_REFUNDS = (RefundStatus.PENDING.value, RefundStatus.UNKNOWN.value)
REJECTED_VERDICTS = tuple(verdict.value for verdict in Verdict if not verdict.accepted)


@dataclass
class Dashboard:
    counts_by_status: dict[str, int]
    stuck_orders: Sequence[Order]
    unsettled_refunds: Sequence[Refund]
    webhook_backlog: int
    oldest_undelivered: datetime | None
    rejected_notifies_last_hour: dict[str, int]


def dashboard(db: Database, now: datetime | None = None) -> Dashboard:
    now = now or utcnow()
    with db.transaction() as session:
        counts = {
            status: number
            for status, number in session.execute(select(Order.status, func.count()).group_by(Order.status))
        }
        stuck = session.scalars(
            select(Order)
            .where(Order.status == OrderStatus.PENDING.value, Order.expires_at < now)
            .order_by(Order.expires_at)
            .limit(LIST_LIMIT)
        ).all()
        unsettled = session.scalars(
            select(Refund).where(Refund.status.in_(UNSETTLED_REFUNDS)).order_by(Refund.created_at).limit(LIST_LIMIT)
        ).all()
        backlog, oldest = session.execute(
            select(func.count(OutboxEvent.id), func.min(OutboxEvent.created_at)).where(
                OutboxEvent.delivered_at.is_(None)
            )
        ).one()
        rejected = {
            verdict: number
            for verdict, number in session.execute(
                select(NotificationRecord.verdict, func.count())
                .where(
                    NotificationRecord.received_at >= now - timedelta(hours=1),
                    NotificationRecord.verdict.in_(REJECTED_VERDICTS),
                )
                .group_by(NotificationRecord.verdict)
            )
        }
    return Dashboard(
        counts_by_status={status.value: int(counts.get(status.value, 0)) for status in OrderStatus},
        stuck_orders=stuck,
        unsettled_refunds=unsettled,
        webhook_backlog=int(backlog or 0),
        oldest_undelivered=as_utc(oldest),
        rejected_notifies_last_hour={verdict: int(number) for verdict, number in sorted(rejected.items())},
    )


def search_orders(db: Database, text: str) -> Sequence[Order]:
    """Orders whose id, merchant order no, provider order id or merchant reference is exactly `text`."""
    text = text.strip()
    if not text or len(text) > 255:
        return []
    matches: list[Any] = [Order.merchant_order_no == text, Order.provider_order_id == text]
    matches.append(Order.merchant_reference == text)
    if is_resource_id(text):
        matches.append(Order.id == text.lower())
    with db.transaction() as session:
        return session.scalars(
            select(Order).where(or_(*matches)).order_by(Order.created_at.desc()).limit(LIST_LIMIT)
        ).all()


@dataclass(frozen=True)
class Entry:
    """One line of an order's timeline."""

    at: datetime
    kind: str  # notification, provider call, refund, webhook, delivery, console
    title: str
    detail: str = ""
    good: bool | None = None  # True: went well, False: went wrong, None: neutral


@dataclass
class OrderPage:
    order: Order
    refunds: Sequence[Refund]
    events: Sequence[OutboxEvent]
    timeline: list[Entry] = field(default_factory=list)


def order_page(db: Database, order_id: str) -> OrderPage | None:
    if not is_resource_id(order_id):
        return None
    with db.transaction() as session:
        order = session.get(Order, order_id.lower())
        if order is None:
            return None
        notifications = session.scalars(
            select(NotificationRecord).where(NotificationRecord.order_id == order.id).order_by(NotificationRecord.id)
        ).all()
        refunds = session.scalars(select(Refund).where(Refund.order_id == order.id).order_by(Refund.created_at)).all()
        refund_ids = [refund.id for refund in refunds]
        calls = session.scalars(
            select(ProviderCall)
            .where(
                or_(
                    (ProviderCall.provider == order.provider)
                    & (ProviderCall.merchant_order_no == order.merchant_order_no),
                    ProviderCall.refund_id.in_(refund_ids),
                )
            )
            .order_by(ProviderCall.id)
        ).all()
        events = session.scalars(
            select(OutboxEvent).where(OutboxEvent.order_id == order.id).order_by(OutboxEvent.created_at)
        ).all()
        deliveries = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.event_id.in_([event.id for event in events]))
            .order_by(WebhookDelivery.id)
        ).all()
        actions = session.scalars(
            select(ConsoleAction).where(ConsoleAction.order_id == order.id).order_by(ConsoleAction.id)
        ).all()
    page = OrderPage(order=order, refunds=refunds, events=events)
    page.timeline = _timeline(order, notifications, calls, refunds, events, deliveries, actions)
    return page


def _timeline(
    order: Order,
    notifications: Sequence[NotificationRecord],
    calls: Sequence[ProviderCall],
    refunds: Sequence[Refund],
    events: Sequence[OutboxEvent],
    deliveries: Sequence[WebhookDelivery],
    actions: Sequence[ConsoleAction],
) -> list[Entry]:
    entries = [Entry(_at(order.created_at), "order", "order stored", f"{order.amount} {order.currency} minor units")]
    for note in notifications:
        accepted = note.verdict in {verdict.value for verdict in Verdict if verdict.accepted}
        entries.append(
            Entry(_at(note.received_at), "notification", f"notify: {note.verdict}", note.reason or "", accepted)
        )
    for call in calls:
        detail = f"{call.duration_ms} ms"
        if call.code or call.message:
            detail += f"; {call.code or ''} {call.message or ''}".rstrip()
        entries.append(
            Entry(
                _at(call.created_at), "provider call", f"{call.operation}: {call.outcome}", detail, call.outcome == "ok"
            )
        )
    for refund in refunds:
        entries.append(Entry(_at(refund.created_at), "refund", f"refund {refund.id} requested", f"{refund.amount}"))
        if refund.settled_at is not None:
            succeeded = refund.status == RefundStatus.SUCCEEDED.value
            reason = f"{refund.failure_code or ''} {refund.failure_message or ''}".strip()
            entries.append(
                Entry(_at(refund.settled_at), "refund", f"refund {refund.id} {refund.status}", reason, succeeded)
            )
    for event in events:
        entries.append(Entry(_at(event.created_at), "webhook", f"webhook event {event.type}", event.id))
    for delivery in deliveries:
        entries.append(
            Entry(
                _at(delivery.created_at),
                "delivery",
                f"webhook {delivery.event_id} {'delivered' if delivery.delivered else 'not delivered'}",
                f"answer: {delivery.answer} ({delivery.trigger})",
                delivery.delivered,
            )
        )
    for action in actions:
        entries.append(Entry(_at(action.created_at), "console", f"{action.action} by {action.admin}", action.result))
    entries.sort(key=lambda entry: entry.at)
    return entries


def _at(moment: datetime | None) -> datetime:
    utc = as_utc(moment)
    assert utc is not None
    return utc
