"""Refunds: reserve, ask the provider, settle. The sum of refunds never exceeds what was paid.

A refund row is committed (status `pending`) before the provider is called, under a lock on
its order, and every pending, unknown or succeeded refund counts against the order. So two
concurrent requests can never both pass the bound, and a process that dies mid-call leaves a
`pending` refund that reconciliation settles by retrying with the same refund id (which the
provider turns into the same refund number: a retry can never refund twice).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.domain import idempotency
from gateway.domain.core import Gateway
from gateway.domain.errors import Conflict, Invalid, ResourceNotFound
from gateway.domain.lifecycle import Transitions
from gateway.domain.orders import get_order, order_ref, require_same_account
from gateway.domain.provider_failures import is_definite_refusal, provider_failure, require_operation
from gateway.plugin.clock import as_utc, utcnow
from gateway.plugin.provider import (
    MULTIPLE_REFUNDS,
    PARTIAL_REFUND,
    REFUND,
    NoAnswer,
    ProviderError,
    RefundFailed,
    RefundRef,
    RefundRequest,
    RefundResult,
    Refused,
)
from gateway.store.models import PAID_STATUSES, RESERVING_REFUND_STATUSES, Order, OrderStatus, Refund, RefundStatus
from gateway.store.rows import is_resource_id

log = logging.getLogger("gateway.refunds")  # the name operators' log filters know

UNSETTLED = (RefundStatus.PENDING.value, RefundStatus.UNKNOWN.value)
# Set while a provider call for the refund may be running, so reconcile never sends the same
# refund at the same time (provider time-outs are capped at 600 s).
CALL_LEASE = timedelta(minutes=15)
# After this many attempts reconcile stops retrying: a human settles it (`gateway settle-refund`).
MAX_AUTOMATIC_ATTEMPTS = 10


class RefundCallInFlight(Conflict):
    """A provider call for the refund may still be running: settling it by hand now could contradict it."""

    def __init__(self, refund_id: str, until: datetime) -> None:
        message = (
            f"a provider call for refund {refund_id} may still be running (its lease ends {until.isoformat()}); "
            "settle it by hand only after that"
        )
        super().__init__("refund_call_in_flight", message, refund_id=refund_id)


class RefundAlreadySettled(Conflict):
    """Only the provider may overturn a settled refund, never a person guessing."""

    def __init__(self, refund_id: str, status: str) -> None:
        super().__init__("refund_already_settled", f"refund {refund_id} is already settled", status=status)


@dataclass(frozen=True)
class RefundAttempt:
    refund: Refund
    error: ProviderError | None = None


def create_refund(
    gateway: Gateway,
    order_id: str,
    fields: Mapping[str, Any],
    claim: idempotency.Claim | None = None,
    merchant_id: str | None = None,
) -> RefundCreated:
    """`claim`: the idempotency key this request holds, which will name the refund (None: no key).
    `merchant_id`: the caller's merchant; another merchant's order is not found (None: any order).

    A `reference` already used on the order answers that refund (`replayed`), as it stands now,
    without asking the provider again; with another amount or reason it is refused.
    """
    order = get_order(gateway, order_id, merchant_id)
    provider = gateway.provider_of(order)
    require_operation(provider, REFUND)
    require_same_account(provider, order)
    refund, replayed = _reserve(
        gateway, order_id, fields["amount"], fields.get("reason"), fields.get("reference"), claim
    )
    if replayed:
        return RefundCreated(refund_answer(gateway, refund), replayed=True)
    attempt = attempt_refund(gateway, refund.id, first_attempt=True)
    return RefundCreated(refund_answer(gateway, attempt.refund, attempt.error))


@dataclass(frozen=True)
class RefundCreated:
    refund: Refund
    replayed: bool = False  # the request's `reference` named a refund made before: nothing new was done


def reference_reused(refund_id: str) -> Invalid:
    """A reference names one refund: another amount or reason under it is a mistake, never a second refund."""
    return Invalid(
        "refund_reference_reused",
        "This reference already names a refund of this order with another amount or reason.",
        {"reference": ["already used on this order for another refund; use a new reference for a new refund"]},
        refund_id=refund_id,
    )


def refund_in_progress(refund_id: str) -> Conflict:
    """The refund a reference names is still being asked of the provider: its answer is not known yet."""
    return Conflict(
        "refund_in_progress",
        "The refund with this reference is still being asked of the provider; retry in a moment.",
        refund_id=refund_id,
    )


def refund_answer(gateway: Gateway, refund: Refund, error: ProviderError | None = None) -> Refund:
    """The refund when it succeeded, else the API error its state calls for (also for idempotent resumes)."""
    provider = gateway.provider_of(get_order(gateway, refund.order_id))
    if refund.status == RefundStatus.FAILED.value:
        refusal = Refused(refund.failure_code or "", refund.failure_message or "")
        raise provider_failure(provider, refusal, "refund", refund_id=refund.id)
    if refund.status in UNSETTLED and not (error is None and accepted_pending(refund)):
        raise provider_failure(provider, error or NoAnswer(), "refund", refund_id=refund.id)
    return refund


def accepted_pending(refund: Refund) -> bool:
    """The provider accepted the refund and has not settled it yet (not: it never answered)."""
    return refund.status == RefundStatus.PENDING.value and refund.provider_refund_id is not None


def get_refund(gateway: Gateway, refund_id: str, merchant_id: str | None = None) -> Refund:
    """The refund; ResourceNotFound also when its order is another merchant's than `merchant_id`."""
    refund = None
    if is_resource_id(refund_id):
        with gateway.db.transaction() as session:
            refund = session.get(Refund, refund_id)
            if refund is not None and merchant_id is not None:
                owner = session.scalar(select(Order.merchant_id).where(Order.id == refund.order_id))
                refund = refund if owner == merchant_id else None
    if refund is None:
        raise ResourceNotFound("refund_not_found", f"No refund with id {refund_id!r}.")
    return refund


def list_refunds(gateway: Gateway, order_id: str, merchant_id: str | None = None) -> Sequence[Refund]:
    get_order(gateway, order_id, merchant_id)
    with gateway.db.transaction() as session:
        return session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.created_at)).all()


def _reserve(
    gateway: Gateway,
    order_id: str,
    amount: int,
    reason: str | None,
    reference: str | None,
    claim: idempotency.Claim | None,
) -> tuple[Refund, bool]:
    """The new refund, committed `pending` (False), or the one `reference` already names (True)."""
    with gateway.db.transaction() as session:
        order = _lock_order(session, order_id)
        if reference is not None:
            # Under the order's lock: two requests with one reference can never both get past here.
            earlier = session.scalar(select(Refund).where(Refund.order_id == order_id, Refund.reference == reference))
            if earlier is not None:
                return _same_refund(earlier, amount, reason), True
        if order.status not in PAID_STATUSES:
            raise Conflict("order_not_paid", f"Order {order_id} is {order.status}; only paid orders are refunded.")
        reserved = session.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.order_id == order_id, Refund.status.in_([s.value for s in RESERVING_REFUND_STATUSES])
            )
        )
        provider = gateway.provider_of(order)
        if amount < order.amount:
            require_operation(provider, PARTIAL_REFUND)
        if order.refunded_amount or reserved:
            require_operation(provider, MULTIPLE_REFUNDS)
        remaining = order.amount - int(reserved or 0)
        if amount > remaining:
            raise Invalid(
                "refund_exceeds_remaining",
                "The refund is larger than what is left to refund.",
                {"amount": [f"at most {remaining} {order.currency} minor units can still be refunded"]},
            )
        refund = Refund(
            id=str(uuid.uuid4()),
            order_id=order_id,
            amount=amount,
            currency=order.currency,
            status=RefundStatus.PENDING.value,
            reason=reason,
            reference=reference,
            attempts=0,
            claimed_until=utcnow() + CALL_LEASE,  # its first attempt follows at once: not for reconcile
        )
        session.add(refund)
        idempotency.attach_resource(session, claim, refund.id)
    return refund, False


def _same_refund(earlier: Refund, amount: int, reason: str | None) -> Refund:
    if earlier.amount != amount or earlier.reason != reason:
        raise reference_reused(earlier.id)
    lease = as_utc(earlier.claimed_until)
    if (
        earlier.status == RefundStatus.PENDING.value
        and earlier.provider_refund_id is None
        and lease
        and lease > utcnow()
    ):
        raise refund_in_progress(earlier.id)  # its first call is still running: its answer decides
    return earlier


def attempt_refund(gateway: Gateway, refund_id: str, *, first_attempt: bool) -> RefundAttempt:
    """Call the provider for an unsettled refund and record what it said.

    Only a first attempt can conclude `failed` from a refusal: once an earlier attempt may
    have gone through, a refusal (say, "refund number already used") proves nothing, and the
    refund stays `unknown` for a human or a later attempt rather than being guessed.
    """
    with gateway.db.transaction() as session:
        refund = session.get(Refund, refund_id)
        assert refund is not None
        order = session.get(Order, refund.order_id)
        assert order is not None
        refund.attempts += 1
        refund.claimed_until = utcnow() + CALL_LEASE
    provider = gateway.provider_of(order)
    request = RefundRequest(
        refund_id=refund.id,
        order=order_ref(order),
        amount=refund.amount,
        currency=refund.currency,
        reason=refund.reason,
    )
    try:
        result = provider.refund(request)
    except NoAnswer as exc:
        log.warning("refund %s: provider %s (outcome unknown)", refund_id, exc.reason)
        return RefundAttempt(_mark_unknown(gateway, refund_id, f"provider_{exc.reason}", exc.message), exc)
    except ProviderError as exc:
        if isinstance(exc, RefundFailed) or (is_definite_refusal(exc) and first_attempt):
            return RefundAttempt(settle_refund(gateway, refund_id, succeeded=False, code=exc.code, message=exc.message))
        log.warning("refund %s: %s %s (outcome unknown)", refund_id, exc.code, exc.message)
        return RefundAttempt(_mark_unknown(gateway, refund_id, exc.code, exc.message), exc)
    if result.pending:
        log.info("refund %s: accepted by %s, pending", refund_id, provider.name)
        return RefundAttempt(mark_pending(gateway, refund_id, result))
    return RefundAttempt(settle_refund(gateway, refund_id, succeeded=True, result=result))


def settle_refund(
    gateway: Gateway,
    refund_id: str,
    *,
    succeeded: bool,
    result: RefundResult | None = None,
    code: str | None = None,
    message: str | None = None,
    by_hand: bool = False,
) -> Refund:
    """Record the provider's answer about a refund (or, `by_hand`, what a person found out).

    The provider's answer always wins: one that contradicts a refund already settled (say,
    "succeeded" for a refund recorded failed) is recorded as what happened, money moved counts as
    moved, and the disagreement stays visible as the refund's `discrepancy`, a `refund.discrepancy`
    webhook and an ERROR log line. A person can settle only an unsettled refund with no provider
    call in flight (RefundAlreadySettled, RefundCallInFlight).
    """
    outcome = RefundStatus.SUCCEEDED.value if succeeded else RefundStatus.FAILED.value
    transitions = Transitions()
    with gateway.db.transaction() as session:
        refund = session.get(Refund, refund_id)
        assert refund is not None
        order = _lock_order(session, refund.order_id)  # order first, always: no lock-order deadlocks
        session.refresh(refund, with_for_update=True)
        now = utcnow()
        if by_hand:
            lease = as_utc(refund.claimed_until)
            if lease is not None and lease > now:
                raise RefundCallInFlight(refund_id, lease)
            if refund.status not in UNSETTLED:
                raise RefundAlreadySettled(refund_id, refund.status)
        if refund.status == outcome:
            return refund  # the same answer again
        recorded = refund.status
        if recorded not in UNSETTLED:
            refund.discrepancy = _discrepancy(refund, outcome, now)
        if recorded == RefundStatus.SUCCEEDED.value:  # it had counted as refunded, and did not happen
            order.refunded_amount = (order.refunded_amount or 0) - refund.amount
        refund.settled_at = now
        refund.claimed_until = None
        if succeeded:
            refund.status = RefundStatus.SUCCEEDED.value
            # A settlement by hand (no result) keeps the id the provider gave when it accepted the refund.
            refund.provider_refund_id = (result.provider_refund_id if result else None) or refund.provider_refund_id
            refund.failure_code = refund.failure_message = None
            order.refunded_amount = (order.refunded_amount or 0) + refund.amount
        else:
            refund.status = RefundStatus.FAILED.value
            refund.failure_code = (code or "FAIL")[:64]
            refund.failure_message = message
        order.status = _status_after_refunds(order)
        session.flush()
        transitions.refund_settled(session.connection(), refund, order)
        if refund.discrepancy is not None and recorded not in UNSETTLED:
            transitions.refund_discrepancy(session.connection(), refund, order)
            _log_discrepancy(refund, order, recorded)
    transitions.announce(gateway.hooks)
    log.info("refund %s %s", refund_id, refund.status)
    return refund


def mark_pending(gateway: Gateway, refund_id: str, result: RefundResult) -> Refund:
    """Accepted by the provider, not settled: `pending`, answered as such, settled later."""
    with gateway.db.transaction() as session:
        refund = session.get(Refund, refund_id, with_for_update=True)
        assert refund is not None
        if refund.status in UNSETTLED:
            refund.status = RefundStatus.PENDING.value
            refund.provider_refund_id = result.provider_refund_id or refund.provider_refund_id
            refund.failure_code = refund.failure_message = None
            refund.claimed_until = None
    return refund


def refund_ref(refund: Refund, order: Order) -> RefundRef:
    return RefundRef(
        refund_id=refund.id,
        provider_refund_id=refund.provider_refund_id,
        order=order_ref(order),
        amount=refund.amount,
        currency=refund.currency,
    )


def _discrepancy(refund: Refund, reported: str, now: datetime) -> dict[str, Any]:
    recorded_error = None
    if refund.failure_code:
        recorded_error = {"code": refund.failure_code, "message": refund.failure_message or ""}
    return {
        "recorded": refund.status,
        "reported": reported,
        "detected_at": now.isoformat(),
        "recorded_provider_error": recorded_error,
    }


def _status_after_refunds(order: Order) -> str:
    refunded = order.refunded_amount or 0
    if refunded >= order.amount:
        return OrderStatus.REFUNDED.value
    return OrderStatus.PARTIALLY_REFUNDED.value if refunded > 0 else OrderStatus.PAID.value


def _log_discrepancy(refund: Refund, order: Order, recorded: str) -> None:
    log.error(
        "refund %s was recorded %s, but the provider reports %s: recorded as %s (refund.discrepancy sent)",
        refund.id,
        recorded,
        refund.status,
        refund.status,
    )
    if (order.refunded_amount or 0) > order.amount:
        # Money moved beyond the bound: recorded as it is, never hidden; a person must recover it.
        log.error(
            "order %s: refunds total %d %s, more than the %d paid",
            order.id,
            order.refunded_amount,
            order.currency,
            order.amount,
        )


def _mark_unknown(gateway: Gateway, refund_id: str, code: str, message: str) -> Refund:
    with gateway.db.transaction() as session:
        refund = session.get(Refund, refund_id, with_for_update=True)
        assert refund is not None
        if refund.status in UNSETTLED:
            refund.status = RefundStatus.UNKNOWN.value
            refund.failure_code = code[:64]
            refund.failure_message = message
            refund.claimed_until = None
    return refund


def _lock_order(session: Session, order_id: str) -> Order:
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None:
        raise ResourceNotFound("order_not_found", f"No order with id {order_id!r}.")
    return order
