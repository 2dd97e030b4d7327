"""An order's attempts as the API and the merchant's webhooks show them.

Only a stored merchant's orders have attempt records (the environment's merchant writes none), so only
theirs cost a read. An event about a routed order shows the same attempts as `GET /v1/orders/{id}`:
without this, the webhook would claim `attempts: []` for an order that failed over.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, select

from gateway.store.models import DEFAULT_MERCHANT_ID, ORDER_ATTEMPTS, Order

_ATTEMPTS_OF = (
    select(ORDER_ATTEMPTS).where(ORDER_ATTEMPTS.c.order_id == bindparam("order_id")).order_by(ORDER_ATTEMPTS.c.position)
)


def shown(values: Mapping[str, Any]) -> dict[str, Any]:
    """An attempt (a row's or `Attempt.values`'s mapping) as the API shows it."""
    return {
        "account": values["account_id"],
        "provider": values["provider"],
        "merchant_order_no": values["merchant_order_no"],
        "outcome": values["outcome"],
        "code": values["code"],
        "message": values["message"],
        "duration_ms": values["duration_ms"],
        "started_at": values["started_at"],
        "surplus_amount": values.get("surplus_amount"),
        "surplus_paid_at": values.get("surplus_paid_at"),
    }


def read(connection: Connection, order_id: str) -> list[dict[str, Any]]:
    """The order's attempts, first first, as the API shows them."""
    return [shown(dict(row._mapping)) for row in connection.execute(_ATTEMPTS_OF, {"order_id": order_id})]


def with_attempts(connection: Connection, order: Order) -> Order:
    """`order`, its attempts read on `connection` when it has some to show and they were not read yet."""
    if order.merchant_id != DEFAULT_MERCHANT_ID and not order.attempt_list:
        order.attempt_list = read(connection, order.id)
    return order
