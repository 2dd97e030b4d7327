"""Prebuilt statements of the hot paths (create, notify, pay), built once at import.

On these paths, building a statement per call, and the ORM's unit of work, cost more CPU than the
database's own work. Each runs as a Core statement on a session's connection, or raw on a DBAPI
cursor (`Database.raw`, the notify path's).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, case, insert, literal_column, or_, select, update

from gateway.plugin.provider import Verdict
from gateway.store.models import NOTIFICATIONS, ORDERS, OUTBOX_EVENTS, PROVIDER_CALLS, OrderStatus

_ORDERS = ORDERS

# -- orders: create, store the provider's answer --------------------------------------------------

INSERT_ORDER = insert(_ORDERS)
STORE_ANSWER = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("order_id"))
    .values(
        provider_order_id=bindparam("provider_order_id"),
        pay_params=bindparam("pay_params"),
        next_action=bindparam("next_action"),
    )
    .returning(*_ORDERS.columns)
)

# -- paying: exactly once rests on the conditional UPDATE ------------------------------------------

# An order in any of these states becomes paid when the provider says money moved.
UNPAID_STATUSES = (OrderStatus.PENDING.value, OrderStatus.FAILED.value, OrderStatus.EXPIRED.value)

# The notify pipeline's read (no lock): what `payments.verdict_on` needs, and what a confirming query asks
# about (rows.StoredOrder).
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
MARK_PAID = (
    update(_ORDERS)
    .where(_UNPAID, _ORDERS.c.status.in_(UNPAID_STATUSES))
    .values(**_MARK_PAID_VALUES)
    .returning(*_ORDERS.columns)
)
# The same, also storing the provider's order id when the order had none yet.
MARK_PAID_WITH_ID = (
    update(_ORDERS)
    .where(_UNPAID, _ORDERS.c.status.in_(UNPAID_STATUSES))
    .values(**_MARK_PAID_VALUES, provider_order_id=bindparam("provider_order_id"))
    .returning(*_ORDERS.columns)
)

# -- notifications: their records, and "was this event already applied?" ---------------------------

_ACCEPTED_VERDICTS = [verdict.value for verdict in Verdict if verdict.accepted]
_RECORDS = NOTIFICATIONS
INSERT_NOTIFICATION = insert(_RECORDS).inline()  # nothing read back (no RETURNING of the new id)
NOTIFICATION_COLUMNS = (
    "provider", "received_at", "method", "query_string", "body", "body_digest", "request_size", "content_type",
    "verdict", "reason", "order_id", "event_id",
)  # fmt: skip
FIND_ACCEPTED_EVENT = (
    select(_RECORDS.c.id)
    .where(
        _RECORDS.c.provider == bindparam("provider"),
        _RECORDS.c.event_id == bindparam("event_id"),
        # Constants of our own, written into the SQL: the statement runs raw (no expanding IN list).
        or_(*(_RECORDS.c.verdict == literal_column(f"'{verdict}'") for verdict in _ACCEPTED_VERDICTS)),
    )
    .limit(1)
)

# -- the outbox and the console's timeline ----------------------------------------------------------

INSERT_EVENT = insert(OUTBOX_EVENTS)
INSERT_PROVIDER_CALL = insert(PROVIDER_CALLS)
