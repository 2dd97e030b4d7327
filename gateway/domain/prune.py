"""`gateway prune`: delete, in batches, the old rows that only serve audit, so the database stays lean.

What goes, once older than the cut-off:
- notification records (every request to /notify, with its verdict);
- provider-call records (the console's timeline of API calls);
- delivered merchant webhook events, with every attempt to deliver them;
- idempotency keys (never younger than their 24-hour retention, whatever the cut-off).

What stays, whatever its age:
- orders, refunds and the console's audit trail of operators' actions: never deleted here;
- everything about an open order: one still `pending`, one with a refund `pending` or `unknown`,
  or one with a webhook event not delivered yet (its notifications, provider calls, events and
  their attempts), so reconciliation, a refund being settled or the worker retrying a delivery
  have all the history they may need;
- webhook events not delivered yet (failing or waiting), with their attempts.

Each batch is its own short transaction (on SQLite, one writer at a time, like any other), so a
prune never holds a lock for long and may be stopped at any time; the next run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, exists, func, or_, select
from sqlalchemy.orm import aliased

from gateway.domain import idempotency
from gateway.plugin import clock
from gateway.store.db import Database
from gateway.store.models import (
    IdempotencyKey,
    NotificationRecord,
    Order,
    OrderStatus,
    OutboxEvent,
    ProviderCall,
    Refund,
    RefundStatus,
    WebhookDelivery,
)

# The tables prune deletes from, in the order it reports them.
TABLES = ("notifications", "provider_calls", "outbox_events", "webhook_deliveries", "idempotency_keys")
DEFAULT_BATCH_SIZE = 1000
_UNSETTLED_REFUNDS = (RefundStatus.PENDING.value, RefundStatus.UNKNOWN.value)


def _order_is_open(order_id: Any) -> ColumnElement[bool]:
    """True for an order (by id) that some process may still act on: see the module's docstring.

    Aliases, so that the subqueries correlate with the row they are asked about, never with a
    table of the same name around them.
    """
    order, refund, event = aliased(Order), aliased(Refund), aliased(OutboxEvent)
    return or_(
        exists().where(order.id == order_id, order.status == OrderStatus.PENDING.value),
        exists().where(refund.order_id == order_id, refund.status.in_(_UNSETTLED_REFUNDS)),
        exists().where(event.order_id == order_id, event.delivered_at.is_(None)),
    )


def _prunable_notifications(cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        NotificationRecord.received_at < cutoff,
        or_(NotificationRecord.order_id.is_(None), ~_order_is_open(NotificationRecord.order_id)),
    )


def _prunable_provider_calls(cutoff: datetime) -> ColumnElement[bool]:
    # A call names its order by (provider, merchant_order_no) and its refund, if any, by id.
    call_of_open_order = exists().where(
        Order.provider == ProviderCall.provider,
        Order.merchant_order_no == ProviderCall.merchant_order_no,
        _order_is_open(Order.id),
    )
    # An unsettled refund makes its order open.
    call_of_unsettled_refund = exists().where(Refund.id == ProviderCall.refund_id, _order_is_open(Refund.order_id))
    return and_(ProviderCall.created_at < cutoff, ~call_of_open_order, ~call_of_unsettled_refund)


def _prunable_events(cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxEvent.delivered_at.is_not(None),
        OutboxEvent.created_at < cutoff,
        or_(OutboxEvent.order_id.is_(None), ~_order_is_open(OutboxEvent.order_id)),
    )


def _prunable_keys(cutoff: datetime, now: datetime) -> ColumnElement[bool]:
    # As reconciliation's purge: finished keys, and unfinished ones whose lease ran out (their process died).
    return and_(
        IdempotencyKey.created_at < min(cutoff, now - idempotency.RETENTION),
        or_(IdempotencyKey.status == idempotency.DONE, IdempotencyKey.locked_until < now),
    )


@dataclass(frozen=True)
class PruneReport:
    older_than_days: int
    dry_run: bool
    counts: dict[str, int]  # rows deleted (or, in a dry run, that would be), by table

    def as_dict(self) -> dict[str, Any]:
        verb = "would_delete" if self.dry_run else "deleted"
        return {"older_than_days": self.older_than_days, "dry_run": self.dry_run, verb: self.counts}


def prune(
    db: Database,
    older_than: timedelta,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime | None = None,
) -> PruneReport:
    """Delete (or count, with `dry_run`) the audit rows older than `older_than`; see the module's docstring."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    now = now or clock.utcnow()
    cutoff = now - older_than
    plans: list[tuple[str, Any, ColumnElement[bool]]] = [
        ("notifications", NotificationRecord.id, _prunable_notifications(cutoff)),
        ("provider_calls", ProviderCall.id, _prunable_provider_calls(cutoff)),
        ("idempotency_keys", IdempotencyKey.id, _prunable_keys(cutoff, now)),
    ]
    counts = dict.fromkeys(TABLES, 0)
    events = _prunable_events(cutoff)
    if dry_run:
        with db.autocommit_connection() as connection:
            for table, key, condition in plans:
                counts[table] = _count(connection, key, condition)
            counts["outbox_events"] = _count(connection, OutboxEvent.id, events)
            attempts = WebhookDelivery.event_id.in_(select(OutboxEvent.id).where(events))
            counts["webhook_deliveries"] = _count(connection, WebhookDelivery.id, attempts)
        return PruneReport(older_than.days, True, counts)
    for table, key, condition in plans:
        counts[table] = _delete_in_batches(db, key, condition, batch_size)
    counts["outbox_events"] = _delete_in_batches(
        db, OutboxEvent.id, events, batch_size, before=lambda connection, ids: _delete_attempts(connection, ids, counts)
    )
    return PruneReport(older_than.days, False, counts)


def _count(connection: Connection, key: Any, condition: ColumnElement[bool]) -> int:
    return int(connection.execute(select(func.count(key)).where(condition)).scalar_one())


def _delete_attempts(connection: Connection, event_ids: list[Any], counts: dict[str, int]) -> None:
    deleted = connection.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(event_ids)))
    counts["webhook_deliveries"] += int(deleted.rowcount or 0)


def _delete_in_batches(
    db: Database,
    key: Any,
    condition: ColumnElement[bool],
    batch_size: int,
    before: Callable[[Connection, list[Any]], None] | None = None,
) -> int:
    """Delete the rows matching `condition`, `batch_size` at a time, each batch in its own transaction."""
    table = key.table
    total = 0
    while True:
        with db.transaction_connection() as connection:
            ids = list(connection.execute(select(key).where(condition).order_by(key).limit(batch_size)).scalars())
            if not ids:
                return total
            if before is not None:
                before(connection, ids)
            # The condition again: a row that stopped matching since the SELECT (its order reopened) stays.
            deleted = connection.execute(delete(table).where(key.in_(ids), condition))
            total += int(deleted.rowcount or 0)
        if len(ids) < batch_size:
            return total
