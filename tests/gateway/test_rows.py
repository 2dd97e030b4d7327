"""gateway.store.rows: an order's values for its INSERT."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.store.models import Order
from gateway.store.rows import column_values, new_order_values

NOW = datetime(2026, 12, 6, 10, 0, 0, 123456, tzinfo=UTC)


def test_a_new_orders_columns_are_those_an_order_would_insert() -> None:
    """new_order_values: the INSERT's values without building the ORM `Order` (JSON None as SQL NULL)."""
    given: dict[str, Any] = {
        "id": "5f0e", "provider": "iotpay", "channel": "WX_APP", "amount": 2856, "currency": "CAD",
        "status": "pending", "merchant_order_no": "n", "merchant_id": "default", "subject": "s", "body": "b",
        "client_ip": "10.0.0.1", "order_metadata": {"a": 1}, "created_at": NOW, "sandbox": True,
        "routing_rule": None, "merchant_reference": None,
    }  # fmt: skip
    assert new_order_values(**given) == column_values(Order(**given))


def test_a_row_read_back_is_an_order_as_the_orm_would_load_it() -> None:
    """as_order: a new Order holds the row's values as committed ones, with nothing pending."""
    from sqlalchemy import inspect

    from gateway.store.models import ORDERS
    from gateway.store.rows import as_order

    values = new_order_values(id="5f0e", provider="iotpay", amount=2856, order_metadata={"a": 1}, created_at=NOW)
    row = [None if column.name in ("pay_params", "next_action") else values[column.name] for column in ORDERS.columns]
    loaded, into = as_order(row), as_order(row, Order())
    for order in (loaded, into):
        state = inspect(order)
        assert not state.modified and state.committed_state == {} and not state.expired_attributes
        assert (order.id, order.amount, order.order_metadata, order.pay_params) == ("5f0e", 2856, {"a": 1}, None)
    assert column_values(loaded) == column_values(into)
