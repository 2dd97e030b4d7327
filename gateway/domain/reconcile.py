"""Reconciliation: settle what notifies and time-outs left open, by asking the provider.

- Orders `pending` for longer than `older_than` are queried; a paid answer goes through the
  same transition as a notify. Unpaid orders past their `expires_at`, or that the provider
  says it cancelled, become `expired`.
- Orders `expired` within the last LATE_PAYMENT_WINDOW are queried too: a payment after
  expiry whose notifies were all lost must still be found (and is flagged paid_after_expiry).
- Refunds `pending` or `unknown` for longer than `older_than` are retried with the same
  refund id (providers make that idempotent), and settled only on a clear answer.

Several runs (cron on several machines) may overlap safely: each claims one row at a time by
setting a lease (`claimed_until`) in its own short transaction, selecting with `FOR UPDATE
SKIP LOCKED` on PostgreSQL, so no row is worked on by two runs at once. A row that fails is
logged and released, and the run goes on with the others.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update

from gateway.domain import idempotency
from gateway.domain.core import Gateway
from gateway.domain.lifecycle import Transitions
from gateway.domain.orders import ask_about, other_account
from gateway.domain.payments import settle_payment
from gateway.domain.refunds import (
    MAX_AUTOMATIC_ATTEMPTS,
    UNSETTLED,
    attempt_refund,
    mark_pending,
    refund_ref,
    settle_refund,
)
from gateway.plugin.clock import as_utc, utcnow
from gateway.plugin.provider import (
    QUERY,
    QUERY_REFUND,
    REFUND,
    NotFound,
    Notification,
    NotSupported,
    Provider,
    ProviderError,
    RefundFailed,
    Refused,
    Verdict,
)
from gateway.store.models import Order, OrderStatus, Refund

log = logging.getLogger("gateway.reconcile")  # the name operators' log filters know

# Longer than one provider call can take (time-outs are capped at 600 s): a live run keeps its row.
LEASE = timedelta(minutes=15)
LATE_PAYMENT_WINDOW = timedelta(days=3)


def reconcile(gateway: Gateway, older_than: timedelta, *, now: datetime | None = None) -> Counter[str]:
    """One pass over everything left open; returns counts of what happened, for the log and CLI."""
    now = now or utcnow()
    cutoff = now - older_than
    outcome: Counter[str] = Counter()
    open_orders = or_(
        Order.status == OrderStatus.PENDING.value,
        and_(Order.status == OrderStatus.EXPIRED.value, Order.expires_at > now - LATE_PAYMENT_WINDOW),
    )
    _each_claimed(
        gateway,
        Order,
        and_(open_orders, Order.created_at < cutoff),
        outcome,
        lambda row_id: _order(gateway, row_id, now),
    )
    unsettled_refunds = and_(
        Refund.status.in_(UNSETTLED), Refund.created_at < cutoff, Refund.attempts < MAX_AUTOMATIC_ATTEMPTS
    )
    _each_claimed(gateway, Refund, unsettled_refunds, outcome, lambda row_id: _refund(gateway, row_id))
    outcome["idempotency_keys_purged"] = idempotency.purge_expired(gateway.db)
    log.info("reconcile: %s", dict(outcome))
    return outcome


def _each_claimed(
    gateway: Gateway, model: Any, condition: ColumnElement[bool], outcome: Counter[str], work: Callable[[str], str]
) -> None:
    seen: set[str] = set()  # released when done, but not to be taken again by this run
    while (row_id := _claim_one(gateway, model, condition, seen)) is not None:
        try:
            outcome[work(row_id)] += 1
        except Exception:
            log.exception("reconcile: %s %s failed; left for a later run", model.__tablename__, row_id)
            outcome[f"{model.__tablename__}_errors"] += 1
        finally:
            _release(gateway, model, row_id)


def _claim_one(gateway: Gateway, model: Any, condition: ColumnElement[bool], seen: set[str]) -> str | None:
    now = utcnow()
    with gateway.db.transaction() as session:
        row_id: str | None = session.scalar(
            select(model.id)
            .where(
                condition,
                or_(model.claimed_until.is_(None), model.claimed_until < now),
                model.id.not_in(seen),
            )
            .order_by(model.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if row_id is not None:
            session.execute(
                update(model)
                .where(model.id == row_id)
                .values(claimed_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            seen.add(row_id)
    return row_id


def _release(gateway: Gateway, model: Any, row_id: str) -> None:
    with gateway.db.transaction() as session:
        session.execute(
            update(model)
            .where(model.id == row_id)
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )


def _order(gateway: Gateway, order_id: str, now: datetime) -> str:
    with gateway.db.transaction() as session:
        order = session.get(Order, order_id)
    if order is None or order.status not in (OrderStatus.PENDING.value, OrderStatus.EXPIRED.value):
        return "orders_already_settled"
    report, unknown = _ask(gateway, order)
    if unknown:
        return "orders_query_failed"
    transitions = Transitions()
    with gateway.db.transaction() as session:
        stored = session.get(Order, order_id)
        assert stored is not None
        result = "orders_still_open"
        if report is not None:
            verdict, reason = settle_payment(session.connection(), stored, report, transitions)
            if verdict is Verdict.APPLIED:
                result = "orders_paid"
            elif verdict is Verdict.MISMATCH:
                log.error("reconcile: provider's report on order %s does not match it: %s", order_id, reason)
                result = "orders_mismatch"
        if result == "orders_still_open" and stored.status == OrderStatus.PENDING.value:
            expires_at = as_utc(stored.expires_at)
            closed = report is not None and report.cancelled  # the provider says it can never be paid
            if (closed or (expires_at is not None and expires_at <= now)) and _expire(session, stored):
                transitions.order_expired(session.connection(), stored)
                result = "orders_expired"
    transitions.announce(gateway.hooks)
    return result


def _ask(gateway: Gateway, order: Order) -> tuple[Notification | None, bool]:
    """(the provider's report or None, whether its state is unknown).

    Only NotFound ("no such order", e.g. our create never reached the provider) is a None report
    that lets the order expire. Any other failure (a refusal of the query: credentials, signature,
    merchant configuration; an unclear answer; no answer) concludes nothing about the order: it is
    left as it is, and logged as an ERROR because it recurs until an operator fixes its cause.
    """
    provider = gateway.provider_for(order)
    if provider is None:
        # Not "no such order": nobody was asked, and the order may well be paid.
        log.error(
            "reconcile: provider %s of order %s is not enabled; the order is left as it is", order.provider, order.id
        )
        return None, True
    if QUERY not in provider.operations:
        return None, False
    problem = other_account(provider, order)
    if problem is not None:  # its "no such order" would be about another merchant's orders
        log.error("reconcile: %s; the order is left as it is", problem)
        return None, True
    try:
        return ask_about(provider, order), False
    except NotFound as exc:
        log.info("reconcile: %s has no order %s (%s %s)", order.provider, order.id, exc.code, exc.message)
        return None, False
    except Refused as exc:
        log.error(
            "reconcile: %s refused the query of order %s (%s %s): check its credentials and configuration; "
            "the order is left as it is",
            order.provider,
            order.id,
            exc.code,
            exc.message,
        )
    except ProviderError as exc:
        log.error(
            "reconcile: the query of order %s at %s failed (%s %s); the order is left as it is",
            order.id,
            order.provider,
            exc.code,
            exc.message,
        )
    except NotSupported:
        log.error("reconcile: %s declares order queries but does not implement them", order.provider)
    return None, True


def _expire(session: Any, order: Order) -> bool:
    changed = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING.value)
        .values(status=OrderStatus.EXPIRED.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        return False
    session.refresh(order)
    return True


def _refund(gateway: Gateway, refund_id: str) -> str:
    with gateway.db.transaction() as session:
        refund = session.get(Refund, refund_id)
        order = session.get(Order, refund.order_id) if refund else None
    assert refund is not None and order is not None
    provider = gateway.provider_for(order)
    if provider is None or REFUND not in provider.operations:
        return "refunds_provider_unavailable"
    problem = other_account(provider, order)
    if problem is not None:
        log.error("reconcile: refund %s is left as it is: %s", refund_id, problem)
        return "refunds_provider_unavailable"
    if QUERY_REFUND in provider.operations:
        return _query_refund(provider, gateway, refund, order)
    # No refund query: send the refund again with the same refund id, which the provider makes
    # idempotent, and whose answer is the refund's current state.
    attempt = attempt_refund(gateway, refund_id, first_attempt=False)
    if attempt.refund.attempts >= MAX_AUTOMATIC_ATTEMPTS and attempt.refund.status in UNSETTLED:
        log.error(
            "refund %s still unsettled after %s attempts: settle it by hand (flask gateway settle-refund)",
            refund_id,
            attempt.refund.attempts,
        )
    return f"refunds_{attempt.refund.status}"


def _query_refund(provider: Provider, gateway: Gateway, refund: Refund, order: Order) -> str:
    """Settle an unsettled refund from what the provider says about it; only a clear answer counts."""
    try:
        result = provider.query_refund(refund_ref(refund, order))
    except RefundFailed as exc:
        log.info("reconcile: %s says refund %s failed: %s %s", order.provider, refund.id, exc.code, exc.message)
        failed = settle_refund(gateway, refund.id, succeeded=False, code=exc.code, message=exc.message)
        return f"refunds_{failed.status}"
    except NotFound as exc:
        # No earlier attempt reached the provider (the one query answer that concludes this): send
        # the refund now, as a first attempt, so that a refusal of it fails the refund.
        log.info("reconcile: %s has no refund %s (%s); sending it", order.provider, refund.id, exc.code)
        return f"refunds_{attempt_refund(gateway, refund.id, first_attempt=True).refund.status}"
    except ProviderError as exc:
        log.error(
            "reconcile: the query of refund %s at %s failed (%s %s); the refund is left as it is",
            refund.id,
            order.provider,
            exc.code,
            exc.message,
        )
        return "refunds_query_failed"
    if result.pending:
        return f"refunds_{mark_pending(gateway, refund.id, result).status}"
    return f"refunds_{settle_refund(gateway, refund.id, succeeded=True, result=result).status}"


__all__: Sequence[str] = ("reconcile",)
