"""State changes worth telling the merchant about: order paid/expired, refund succeeded/failed.

Each change is written to the webhook outbox inside the transaction that makes it, and
announced to in-process pluggy hooks only after that transaction commits, so neither a
webhook nor a hook ever reports a change that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from gateway.domain import outbox
from gateway.domain.attempt_view import with_attempts
from gateway.domain.hooks import Hooks
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
        self._announcements: list[tuple[str, Callable[[Hooks], None]]] = []  # (hook name, its call)

    def order_paid(self, connection: Connection, order: Order) -> None:
        outbox.record_event(connection, outbox.ORDER_PAID, {"order": _shown(connection, order)})
        snapshot = order.snapshot()
        self._announcements.append(("gateway_order_paid", lambda hooks: hooks.gateway_order_paid(order=snapshot)))

    @staticmethod
    def order_paid_data(order: Order) -> dict[str, Any]:
        """The data of `order_paid`'s outbox event, for a writer that puts the event into a statement of its
        own (payments.pay_in_one_statement), its attempts already read (attempt_view.with_attempts); it
        calls `order_paid_written` once that has committed."""
        return {"order": _ORDER_JSON.dump(order)}

    def order_paid_written(self, order: Order) -> None:
        snapshot = order.snapshot()
        self._announcements.append(("gateway_order_paid", lambda hooks: hooks.gateway_order_paid(order=snapshot)))

    def order_expired(self, connection: Connection, order: Order) -> None:
        outbox.record_event(connection, outbox.ORDER_EXPIRED, {"order": _shown(connection, order)})
        snapshot = order.snapshot()
        self._announcements.append(("gateway_order_expired", lambda hooks: hooks.gateway_order_expired(order=snapshot)))

    def order_overpaid(self, connection: Connection, order: Order, surplus: dict[str, Any]) -> None:
        """A payment reached an attempt the order had left (gateway.domain.attempts): the order is unchanged,
        and the merchant is told to refund the surplus. No hook: nothing about the order changed."""
        outbox.record_event(connection, outbox.ORDER_OVERPAID, {"order": _shown(connection, order), "surplus": surplus})

    def refund_settled(self, connection: Connection, refund: Refund, order: Order) -> None:
        succeeded = refund.status == "succeeded"
        event_type = outbox.REFUND_SUCCEEDED if succeeded else outbox.REFUND_FAILED
        outbox.record_event(
            connection, event_type, {"refund": _REFUND_JSON.dump(refund), "order": _shown(connection, order)}
        )
        shown, snapshot = _REFUND_JSON.dump(refund), order.snapshot()
        if succeeded:
            call = lambda hooks: hooks.gateway_refund_succeeded(refund=shown, order=snapshot)  # noqa: E731
            self._announcements.append(("gateway_refund_succeeded", call))
        else:
            call = lambda hooks: hooks.gateway_refund_failed(refund=shown, order=snapshot)  # noqa: E731
            self._announcements.append(("gateway_refund_failed", call))

    def refund_discrepancy(self, connection: Connection, refund: Refund, order: Order) -> None:
        """Webhook only: the change itself is announced by `refund_settled` (the refund's new state)."""
        data = {"refund": _REFUND_JSON.dump(refund), "order": _shown(connection, order)}
        outbox.record_event(connection, outbox.REFUND_DISCREPANCY, data)

    def announce(self, hooks: Hooks) -> None:
        for hook_name, call in self._announcements:
            try:
                call(hooks)
            except Exception:
                # The change is committed and its webhook is in the outbox; a plugin's bug changes neither.
                log.exception("a %s hook failed", hook_name)
        self._announcements.clear()


def _shown(connection: Connection, order: Order) -> dict[str, Any]:
    """The order as the event shows it: as `GET /v1/orders/{id}` does, its attempts included."""
    shown: dict[str, Any] = _ORDER_JSON.dump(with_attempts(connection, order))
    return shown
