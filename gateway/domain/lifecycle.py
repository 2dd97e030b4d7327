"""State changes worth telling the merchant about: order paid/expired, refund succeeded/failed.

Each change is written to the webhook outbox inside the transaction that makes it, and
announced to in-process pluggy hooks only after that transaction commits, so neither a
webhook nor a hook ever reports a change that was rolled back.
"""

from __future__ import annotations

import logging
from typing import Any

import pluggy
from sqlalchemy import Connection

from gateway.domain import outbox
from gateway.domain.schemas import OrderSchema, RefundSchema
from gateway.store.models import Order, Refund

log = logging.getLogger("gateway.lifecycle")  # the name operators' log filters know

_ORDER_JSON = OrderSchema()
_REFUND_JSON = RefundSchema()


class Transitions:
    """The state transitions of one transaction: each is written to the outbox at once (on the
    transaction's connection; an ORM session's is `session.connection()`), and announced to hooks by
    `announce`, which is called after the transaction has committed."""

    def __init__(self) -> None:
        self._announcements: list[tuple[str, dict[str, Any]]] = []

    def order_paid(self, connection: Connection, order: Order) -> None:
        outbox.record_event(connection, outbox.ORDER_PAID, {"order": _ORDER_JSON.dump(order)})
        self._announcements.append(("gateway_order_paid", {"order": order.snapshot()}))

    def order_expired(self, connection: Connection, order: Order) -> None:
        outbox.record_event(connection, outbox.ORDER_EXPIRED, {"order": _ORDER_JSON.dump(order)})
        self._announcements.append(("gateway_order_expired", {"order": order.snapshot()}))

    def refund_settled(self, connection: Connection, refund: Refund, order: Order) -> None:
        succeeded = refund.status == "succeeded"
        event_type = outbox.REFUND_SUCCEEDED if succeeded else outbox.REFUND_FAILED
        outbox.record_event(
            connection, event_type, {"refund": _REFUND_JSON.dump(refund), "order": _ORDER_JSON.dump(order)}
        )
        hook = "gateway_refund_succeeded" if succeeded else "gateway_refund_failed"
        self._announcements.append((hook, {"refund": _REFUND_JSON.dump(refund), "order": order.snapshot()}))

    def refund_discrepancy(self, connection: Connection, refund: Refund, order: Order) -> None:
        """Webhook only: the change itself is announced by `refund_settled` (the refund's new state)."""
        data = {"refund": _REFUND_JSON.dump(refund), "order": _ORDER_JSON.dump(order)}
        outbox.record_event(connection, outbox.REFUND_DISCREPANCY, data)

    def announce(self, hooks: pluggy.HookRelay) -> None:
        for hook_name, kwargs in self._announcements:
            try:
                getattr(hooks, hook_name)(**kwargs)
            except Exception:
                # The change is committed and its webhook is in the outbox; a plugin's bug changes neither.
                log.exception("a %s hook failed", hook_name)
        self._announcements.clear()
