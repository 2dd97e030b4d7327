"""Rows and models: an `Order` as column values for a Core INSERT, a RETURNING row back as an `Order`,
and `StoredOrder`, the few columns the notify pipeline reads without the ORM."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, null
from sqlalchemy.orm.attributes import set_committed_value

from gateway.store.models import ORDERS, Order

_ORDERS = ORDERS
# The ORM attribute of each column (the column `metadata` is the attribute `order_metadata`).
_ATTRIBUTES = [(column.name, Order.__mapper__.get_property_by_column(column).key) for column in _ORDERS.columns]
# A JSON column's None is sent as JSON `null` unless it is spelled null() (the ORM leaves it SQL NULL).
_JSON_COLUMNS = frozenset(column.name for column in _ORDERS.columns if isinstance(column.type, JSON))


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """A row of `statements.FIND_BY_REFERENCE`."""

    id: str
    status: str
    amount: int
    currency: str
    provider_account: str | None
    provider_order_id: str | None
    merchant_order_no: str
    client_ip: str
    account_id: str | None  # the provider account (gateway.store.models.default_account_id: the environment's)


def stored_order(row: Sequence[Any] | None) -> StoredOrder | None:
    return None if row is None else StoredOrder(*row)


_STORED_INDEXES = [list(_ORDERS.columns.keys()).index(name) for name in StoredOrder.__slots__]


def stored_order_of(row: Sequence[Any] | None) -> StoredOrder | None:
    """A whole row of `orders` (in `ORDERS.columns`' order, as `statements.FIND_ORDER_RECORDING_DUPLICATE`
    reads it) as a `StoredOrder`."""
    return None if row is None else StoredOrder(*(row[index] for index in _STORED_INDEXES))


def column_values(order: Order) -> dict[str, Any]:
    """An `Order`'s values by column name, for a Core INSERT (None is SQL NULL, as the ORM writes it)."""
    values = {column: getattr(order, attribute) for column, attribute in _ATTRIBUTES}
    return {column: null() if value is None and column in _JSON_COLUMNS else value for column, value in values.items()}


_ATTRIBUTE_NAMES = tuple(attribute for _column, attribute in _ATTRIBUTES)
_COLUMN_OF = {attribute: column for column, attribute in _ATTRIBUTES}
_NULL_ROW = dict.fromkeys(_ORDERS.columns.keys())


def new_order_values(**attributes: Any) -> dict[str, Any]:
    """`column_values(Order(**attributes))` without building the `Order` (whose instrumented constructor
    costs more than the INSERT's own CPU): every column, those not given SQL NULL."""
    values = _NULL_ROW.copy()
    for attribute, value in attributes.items():
        values[_COLUMN_OF[attribute]] = value
    for column in _JSON_COLUMNS:
        if values[column] is None:
            values[column] = null()
    return values


def as_order(row: Sequence[Any], into: Order | None = None) -> Order:
    """A whole row of `orders` (a RETURNING of every column) as an `Order`: written into `into` as if
    it had been reloaded, or into a new, detached one."""
    if into is None:
        # A new Order has no history to keep: its values go into its state's dict as the ORM's own
        # loading puts them (set_committed_value per attribute costs as much as the create's INSERT).
        order = Order()
        order.__dict__.update(zip(_ATTRIBUTE_NAMES, row, strict=True))
        return order
    for attribute, value in zip(_ATTRIBUTE_NAMES, row, strict=True):
        set_committed_value(into, attribute, value)
    return into


def is_resource_id(text: str) -> bool:
    """Ids are UUIDs: anything else (NUL bytes included) is simply not found, without a query."""
    try:
        return len(text) == 36 and str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False
