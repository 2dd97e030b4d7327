"""Moving an order to paid: the one transition shared by notifies, `?refresh=true` and reconcile.

Exactly once rests on a conditional UPDATE (`... WHERE status IN (unpaid states)`): however
many requests race, the database lets exactly one of them change the row, on PostgreSQL (the
losers re-check the condition after the winner commits) and on SQLite (writes serialize).

The statements are built once, at import, and run as Core statements on the session's connection:
on the notify path, building them per call and the ORM's unit of work cost more CPU than the
database's own work.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import JSON, Connection, bindparam, case, null, select, update
from sqlalchemy.orm.attributes import set_committed_value

from gateway.clock import utcnow
from gateway.lifecycle import Transitions
from gateway.models import ORDERS, PAID_STATUSES, Order, OrderStatus
from gateway.provider import Notification, Verdict

log = logging.getLogger(__name__)

# An order in any of these states becomes paid when the provider says money moved.
UNPAID_STATUSES = (OrderStatus.PENDING.value, OrderStatus.FAILED.value, OrderStatus.EXPIRED.value)

_ORDERS = ORDERS
# The ORM attribute of each column (the column `metadata` is the attribute `order_metadata`).
_ATTRIBUTES = [(column.name, Order.__mapper__.get_property_by_column(column).key) for column in _ORDERS.columns]
# A JSON column's None is sent as JSON `null` unless it is spelled null() (the ORM leaves it SQL NULL).
_JSON_COLUMNS = frozenset(column.name for column in _ORDERS.columns if isinstance(column.type, JSON))


class OrderFacts(Protocol):
    """What a verdict reads of an order: an `Order`, or a `StoredOrder` read without the ORM."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def provider_account(self) -> str | None: ...
    @property
    def provider_order_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class StoredOrder:
    id: str
    status: str
    amount: int
    currency: str
    provider_account: str | None
    provider_order_id: str | None
    merchant_order_no: str
    client_ip: str


# The notify pipeline's read (no lock): what `verdict_on` needs, and what a confirming query asks about.
FIND_BY_REFERENCE = select(
    _ORDERS.c.id,
    _ORDERS.c.status,
    _ORDERS.c.amount,
    _ORDERS.c.currency,
    _ORDERS.c.provider_account,
    _ORDERS.c.provider_order_id,
    _ORDERS.c.merchant_order_no,
    _ORDERS.c.client_ip,
).where(_ORDERS.c.provider == bindparam("provider"), _ORDERS.c.merchant_order_no == bindparam("merchant_order_no"))

_UNPAID = _ORDERS.c.id == bindparam("order_id")
_MARK_PAID_VALUES: dict[str, Any] = {
    "status": OrderStatus.PAID.value,
    "paid_at": bindparam("paid_at"),
    "updated_at": bindparam("now"),
    # Money moved after we gave up on the order: record it, and flag it for a human.
    "paid_after_expiry": case((_ORDERS.c.status == OrderStatus.EXPIRED.value, True), else_=_ORDERS.c.paid_after_expiry),
}
_MARK_PAID = (
    update(_ORDERS)
    .where(_UNPAID, _ORDERS.c.status.in_(UNPAID_STATUSES))
    .values(**_MARK_PAID_VALUES)
    .returning(*_ORDERS.columns)
)
# The same, also storing the provider's order id when the order had none yet.
_MARK_PAID_WITH_ID = (
    update(_ORDERS)
    .where(_UNPAID, _ORDERS.c.status.in_(UNPAID_STATUSES))
    .values(**_MARK_PAID_VALUES, provider_order_id=bindparam("provider_order_id"))
    .returning(*_ORDERS.columns)
)


def stored_order(row: Sequence[Any] | None) -> StoredOrder | None:
    return None if row is None else StoredOrder(*row)


def column_values(order: Order) -> dict[str, Any]:
    """An `Order`'s values by column name, for a Core INSERT (None is SQL NULL, as the ORM writes it)."""
    values = {column: getattr(order, attribute) for column, attribute in _ATTRIBUTES}
    return {column: null() if value is None and column in _JSON_COLUMNS else value for column, value in values.items()}


def as_order(row: Sequence[Any], into: Order | None = None) -> Order:
    """A whole row of `orders` (a RETURNING of every column) as an `Order`: written into `into` as if
    it had been reloaded, or into a new, detached one."""
    order = into if into is not None else Order()
    for (_column, attribute), value in zip(_ATTRIBUTES, row, strict=True):
        set_committed_value(order, attribute, value)
    return order


def verdict_on(order: OrderFacts | None, report: Notification) -> tuple[Verdict, str | None]:
    """Does the provider's report match the stored order, and would it change anything?"""
    if order is None:
        return Verdict.UNKNOWN_ORDER, f"no order {report.merchant_order_no!r}"
    if (report.account_id or order.provider_account) and report.account_id != order.provider_account:
        return Verdict.MISMATCH, "merchant account differs from the order's"
    if report.provider_order_id and order.provider_order_id and report.provider_order_id != order.provider_order_id:
        # The same reference on another payment at the provider: not this order's money.
        return Verdict.MISMATCH, f"provider order {report.provider_order_id} is not {order.provider_order_id}"
    if (report.amount, report.currency) != (order.amount, order.currency):
        return Verdict.MISMATCH, f"amount {report.amount} {report.currency} != order's {order.amount} {order.currency}"
    if not report.paid:
        return Verdict.IGNORED, "not a payment"
    if order.status in PAID_STATUSES:
        return Verdict.DUPLICATE, "already paid"
    return Verdict.APPLIED, None


def settle_payment(
    connection: Connection, order: OrderFacts | None, report: Notification, transitions: Transitions
) -> tuple[Verdict, str | None]:
    """Apply `report` to `order` inside `connection`'s transaction (a session's: `session.connection()`);
    at most once per order.

    `order` may have been read before the transaction began (the notify pipeline reads without a
    lock): the conditional UPDATE, not this copy, decides whether it is still unpaid. An `Order`
    passed in is brought up to date with what the UPDATE wrote.
    """
    verdict, reason = verdict_on(order, report)
    if verdict is not Verdict.APPLIED:
        return verdict, reason
    assert order is not None
    paid = _mark_paid(connection, order, report)
    if paid is None:
        return Verdict.DUPLICATE, "already paid (concurrently)"
    transitions.order_paid(connection, paid)
    if paid.paid_after_expiry:
        log.warning("order %s was paid after it had expired; recorded as paid and flagged", paid.id)
        return Verdict.APPLIED, "paid after expiry"
    return Verdict.APPLIED, None


def _mark_paid(connection: Connection, order: OrderFacts, report: Notification) -> Order | None:
    """The order as paid, from the UPDATE's RETURNING (one round trip); None if it was no longer unpaid."""
    now = utcnow()
    params: dict[str, Any] = {"order_id": order.id, "paid_at": report.paid_at or now, "now": now}
    statement = _MARK_PAID
    if report.provider_order_id and not order.provider_order_id:
        statement, params["provider_order_id"] = _MARK_PAID_WITH_ID, report.provider_order_id
    row = connection.execute(statement, params).first()
    if row is None:
        return None
    # The caller's own Order (refresh, reconcile) shows what was written, as if it had been reloaded;
    # the notify pipeline, which read no Order, gets a detached one for the event and the hooks.
    return as_order(row, order if isinstance(order, Order) else None)
