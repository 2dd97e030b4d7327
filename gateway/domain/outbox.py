"""Writing merchant webhook events to the outbox, inside the transaction that made the change.

The worker (gateway.domain.webhooks) delivers them later, at least once: an event exists if and
only if its change was committed, whatever crashes in between.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from gateway.plugin.clock import utcnow
from gateway.store.statements import INSERT_EVENT

ORDER_PAID = "order.paid"
ORDER_EXPIRED = "order.expired"
REFUND_SUCCEEDED = "refund.succeeded"
REFUND_FAILED = "refund.failed"
REFUND_DISCREPANCY = "refund.discrepancy"  # the provider contradicted a settled refund; a person should look
# A payment reached an attempt the order had left for another account (gateway.domain.attempts): refund it.
ORDER_OVERPAID = "order.overpaid"
EVENT_TYPES = (ORDER_PAID, ORDER_EXPIRED, REFUND_SUCCEEDED, REFUND_FAILED, REFUND_DISCREPANCY, ORDER_OVERPAID)


def record_event(connection: Connection, event_type: str, data: Mapping[str, Any]) -> str:
    """Write an event in `connection`'s transaction (a session's: `session.connection()`), now: one
    INSERT, no unit of work. `data` must already be JSON-ready. Returns the event's id."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    now = utcnow()
    event_id = new_event_id()
    connection.execute(
        INSERT_EVENT,
        {
            "id": event_id,
            "type": event_type,
            "data": dict(data),
            "created_at": now,
            "next_attempt_at": now,
            "attempts": 0,
            "order_id": (data.get("order") or {}).get("id"),  # every event type carries its order
        },
    )
    return event_id


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"
