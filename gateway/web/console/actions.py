"""The console's safe actions, each audited with who did it, when, and what came of it.

Each one is something the gateway already does on its own (refresh, webhook retry, manual
settlement), run now at an operator's request; none can move money by itself.
"""

from __future__ import annotations

import logging
from datetime import datetime

from gateway.domain import webhooks
from gateway.domain.core import Gateway
from gateway.domain.errors import GatewayError
from gateway.domain.orders import refresh_order
from gateway.domain.refunds import UNSETTLED, RefundAlreadySettled, RefundCallInFlight, settle_refund
from gateway.plugin.clock import as_utc, utcnow
from gateway.plugin.settings import ConfigError
from gateway.store import console as queries
from gateway.store.models import ConsoleAction, OutboxEvent, Refund, RefundStatus
from gateway.store.order_filters import OrderFilter
from gateway.store.rows import is_resource_id

log = logging.getLogger("gateway.web.console.actions")  # the name operators' log filters know

REFRESH = "refresh"
REDELIVER = "redeliver_webhook"
RETRY_WEBHOOK = "retry_webhook"
SETTLE_REFUND = "settle_refund"
MAX_EVENT_ID = 40  # outbox event ids ("evt_" and 32 hex digits), as the audit's column holds them


class ActionRefused(Exception):
    """The action cannot be done now; the message says why, for the operator."""


def ask_provider(gateway: Gateway, who: str, order_id: str) -> str:
    _require_ids(order_id)
    try:
        order = refresh_order(gateway, order_id)
    except GatewayError as exc:
        result = f"refused: {exc.message}"
        _audit(gateway, who, REFRESH, result, order_id=order_id)
        raise ActionRefused(exc.message) from None
    result = f"order is {order.status}"
    _audit(gateway, who, REFRESH, result, order_id=order_id)
    return result


def redeliver_webhook(gateway: Gateway, who: str, order_id: str, event_id: str) -> str:
    try:
        endpoints = webhooks.Endpoints.of(gateway.db, gateway.settings)
    except ConfigError:
        raise ActionRefused("Webhooks are not configured (GATEWAY_WEBHOOK_URL).") from None
    _require_ids(order_id)
    if len(event_id) > MAX_EVENT_ID or "\x00" in event_id:
        raise ActionRefused("No such webhook event for this order.")
    with gateway.db.transaction() as session:
        event = session.get(OutboxEvent, event_id)
        if event is None or event.order_id != order_id:
            raise ActionRefused("No such webhook event for this order.")
    error = webhooks.redeliver(gateway.db, endpoints, event_id)
    result = f"{event_id}: merchant answered {error or '2xx'}"
    _audit(gateway, who, REDELIVER, result, order_id=order_id, event_id=event_id)
    if error is not None:
        raise ActionRefused(f"The merchant's endpoint did not accept it: {error}.")
    return result


def retry_failing_webhooks(gateway: Gateway, who: str, wanted: OrderFilter) -> str:
    """Bulk retry: the failing webhooks of every order in the view are due now, one audit entry each."""
    try:
        webhooks.Endpoints.of(gateway.db, gateway.settings)  # the environment's endpoint, or merchants' own
    except ConfigError:
        raise ActionRefused("Webhooks are not configured (GATEWAY_WEBHOOK_URL).") from None
    if wanted.errors:
        raise ActionRefused("Fix the filters first: the retry acts on exactly the orders the list shows.")

    def entry(event: OutboxEvent) -> ConsoleAction:
        result = f"{event.id}: queued for the webhook worker (attempt {event.attempts + 1}, last: {event.last_error})"
        return ConsoleAction(
            admin=who[:80], action=RETRY_WEBHOOK, order_id=event.order_id, event_id=event.id, result=result
        )

    events = queries.retry_failing_webhooks(gateway.db, wanted, entry)
    if not events:
        raise ActionRefused("No failing webhook in this view (or the worker is sending them right now).")
    more = " (the most one retry takes: retry again for the rest)" if len(events) == queries.BULK_RETRY_MAX else ""
    log.info("console: %s queued %d failing webhooks for retry", who, len(events))
    queued = f"{len(events)} failing webhook{'' if len(events) == 1 else 's'} queued"
    return f"{queued}: the webhook worker sends {'it' if len(events) == 1 else 'them'} on its next pass{more}."


def settle_refund_by_hand(gateway: Gateway, who: str, order_id: str, refund_id: str, outcome: str, note: str) -> str:
    """Settle a refund left unknown, after the operator checked the provider's own records.

    Refused while a provider call for the refund may be running (its lease has not run out):
    the provider's answer may still say otherwise.
    """
    if outcome not in (RefundStatus.SUCCEEDED.value, RefundStatus.FAILED.value):
        raise ActionRefused("Choose succeeded or failed.")
    note = note.strip()
    if not note:
        raise ActionRefused("Say why (e.g. what the provider's portal shows).")
    _require_ids(order_id)
    if not is_resource_id(refund_id):
        raise ActionRefused("No such refund on this order.")
    with gateway.db.transaction() as session:
        refund = session.get(Refund, refund_id)
        if refund is None or refund.order_id != order_id:
            raise ActionRefused("No such refund on this order.")
        status, in_flight_until = refund.status, as_utc(refund.claimed_until)
    ids = {"order_id": order_id, "refund_id": refund_id, "note": note[:2000]}
    if status not in UNSETTLED:
        raise _refused(gateway, who, SETTLE_REFUND, f"The refund is already {status}.", **ids)
    if _in_flight(in_flight_until):
        raise _refused(
            gateway,
            who,
            SETTLE_REFUND,
            "A provider call for this refund may still be running; its answer decides. Retry after "
            f"{in_flight_until:%Y-%m-%d %H:%M:%S} UTC.",
            **ids,
        )
    try:
        # by_hand: the domain checks the lease again under the row lock, so a provider call that
        # started since the check above still wins.
        settled = settle_refund(
            gateway,
            refund_id,
            succeeded=outcome == RefundStatus.SUCCEEDED.value,
            code="MANUAL",
            message=note[:500],
            by_hand=True,
        )
    except (RefundCallInFlight, RefundAlreadySettled) as exc:
        raise _refused(gateway, who, SETTLE_REFUND, exc.message, **ids) from None
    result = f"refund {refund_id} {settled.status}: {note[:200]}"
    _audit(gateway, who, SETTLE_REFUND, result, **ids)
    return result


def _require_ids(order_id: str) -> None:
    """An id no order can have names nothing: refused before any query, and before the audit, whose
    columns could not hold it (PostgreSQL refuses NUL, and text longer than an id)."""
    if not is_resource_id(order_id):
        raise ActionRefused("No such order.")


def _refused(gateway: Gateway, who: str, action: str, message: str, **ids: str) -> ActionRefused:
    """A refused action is audited too: who tried what, and why it was refused."""
    _audit(gateway, who, action, f"refused: {message}", **ids)
    return ActionRefused(message)


def _in_flight(until: datetime | None) -> bool:
    return until is not None and until > utcnow()


def _audit(
    gateway: Gateway,
    who: str,
    action: str,
    result: str,
    *,
    order_id: str | None = None,
    refund_id: str | None = None,
    event_id: str | None = None,
    note: str | None = None,
) -> None:
    with gateway.db.transaction() as session:
        session.add(
            ConsoleAction(
                admin=who[:80],
                action=action,
                order_id=order_id,
                refund_id=refund_id,
                event_id=event_id,
                note=note,
                result=result,
            )
        )
    log.info("console: %s did %s: %s", who, action, result)
