"""Reconciliation: settle what notifies and time-outs left open, by asking the provider.

- Orders `pending` for longer than `older_than` are queried; a paid answer goes through the
  same transition as a notify. Unpaid orders past their `expires_at` become `expired`.
- Refunds `pending` or `unknown` for longer than `older_than` are retried with the same
  refund id (providers make that idempotent), and settled only on a clear answer.

Several runs (cron on several machines) may overlap safely: each claims a batch of rows by
setting a short lease (`claimed_until`) in its own transaction, selecting with
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so no row is worked on by two runs at once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from gateway import idempotency
from gateway.clock import as_utc, utcnow
from gateway.lifecycle import Changes
from gateway.models import Order, OrderStatus, Refund
from gateway.orders import order_ref
from gateway.payments import settle_payment
from gateway.provider import QUERY, REFUND, Notification, NotSupported, OutcomeUnknown, ProviderError, Verdict
from gateway.refunds import UNSETTLED, attempt_refund
from gateway.runtime import Gateway

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # longer than any single provider call, so a live run keeps its rows
BATCH = 100


def reconcile(gateway: Gateway, older_than: timedelta, *, now: datetime | None = None) -> Counter[str]:
    """One pass over everything left open; returns counts of what happened, for the log and CLI."""
    now = now or utcnow()
    outcome: Counter[str] = Counter()
    cutoff = now - older_than
    seen: set[str] = set()  # this run's rows: released when done, but not to be taken again by this run
    while order_ids := _claim(gateway, Order, [OrderStatus.PENDING.value], cutoff, seen):
        for order_id in order_ids:
            outcome[_reconcile_order(gateway, order_id, now)] += 1
            _release(gateway, Order, order_id)
    while refund_ids := _claim(gateway, Refund, list(UNSETTLED), cutoff, seen):
        for refund_id in refund_ids:
            outcome[_reconcile_refund(gateway, refund_id)] += 1
            _release(gateway, Refund, refund_id)
    outcome["idempotency_keys_purged"] = idempotency.purge_expired(gateway.db)
    log.info("reconcile: %s", dict(outcome))
    return outcome


def _claim(gateway: Gateway, model: Any, statuses: Sequence[str], cutoff: datetime, seen: set[str]) -> list[str]:
    with gateway.db.transaction() as session:
        ids = list(
            session.scalars(
                select(model.id)
                .where(
                    model.status.in_(statuses),
                    model.created_at < cutoff,
                    or_(model.claimed_until.is_(None), model.claimed_until < utcnow()),
                    model.id.not_in(seen),
                )
                .order_by(model.created_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            session.execute(
                update(model)
                .where(model.id.in_(ids))
                .values(claimed_until=utcnow() + LEASE)
                .execution_options(synchronize_session=False)
            )
    seen.update(ids)
    return ids


def _release(gateway: Gateway, model: Any, row_id: str) -> None:
    with gateway.db.transaction() as session:
        session.execute(
            update(model)
            .where(model.id == row_id)
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )


def _reconcile_order(gateway: Gateway, order_id: str, now: datetime) -> str:
    with gateway.db.transaction() as session:
        order = session.get(Order, order_id)
    if order is None or order.status != OrderStatus.PENDING.value:
        return "orders_already_settled"
    provider = gateway.providers.get(order.provider)
    report: Notification | None = None
    if provider is not None and QUERY in provider.info.operations:
        try:
            report = provider.query_order(order_ref(order))
        except (OutcomeUnknown, NotSupported) as exc:
            log.warning("reconcile: query of order %s failed (%s); left pending", order_id, type(exc).__name__)
            return "orders_query_failed"
        except ProviderError as exc:
            # e.g. IOTPay 0112: the provider never created it (our create call timed out before it did).
            log.info("reconcile: %s says %s %s about order %s", order.provider, exc.code, exc.message, order_id)
    changes = Changes()
    with gateway.db.transaction() as session:
        stored = session.get(Order, order_id)
        assert stored is not None
        result = "orders_still_pending"
        if report is not None:
            verdict, reason = settle_payment(session, stored, report, changes)
            if verdict is Verdict.APPLIED:
                result = "orders_paid"
            elif verdict is Verdict.MISMATCH:
                log.error("reconcile: provider's report on order %s does not match it: %s", order_id, reason)
                result = "orders_mismatch"
        expires_at = as_utc(stored.expires_at)
        past_expiry = expires_at is not None and expires_at <= now
        if result == "orders_still_pending" and past_expiry and _expire(session, stored):
            changes.order_expired(session, stored)
            result = "orders_expired"
    changes.announce(gateway.hooks)
    return result


def _expire(session: Any, order: Order) -> bool:
    changed = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING.value)
        .values(status=OrderStatus.EXPIRED.value, updated_at=utcnow(), claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        return False
    session.refresh(order)
    return True


def _reconcile_refund(gateway: Gateway, refund_id: str) -> str:
    with gateway.db.transaction() as session:
        refund = session.get(Refund, refund_id)
        order = session.get(Order, refund.order_id) if refund else None
    if refund is None or order is None or refund.status not in UNSETTLED:
        return "refunds_already_settled"
    provider = gateway.providers.get(order.provider)
    if provider is None or REFUND not in provider.info.operations:
        return "refunds_provider_unavailable"
    settled = attempt_refund(gateway, refund_id, first_attempt=False)
    return f"refunds_{settled.status}"
