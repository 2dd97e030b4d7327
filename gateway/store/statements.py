"""Prebuilt statements of the hot paths (create, notify, pay), built once at import.

On these paths, building a statement per call, and the ORM's unit of work, cost more CPU than the
database's own work. Each runs as a Core statement on a session's connection, or raw on a DBAPI
cursor (`Database.raw`, the notify path's).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, case, delete, insert, literal_column, or_, select, text, update

from gateway.plugin.provider import Verdict
from gateway.store.models import (
    NOTIFICATIONS,
    ORDER_ATTEMPTS,
    ORDERS,
    OUTBOX_EVENTS,
    PAID_STATUSES,
    PROVIDER_CALLS,
    OrderStatus,
)

_ORDERS = ORDERS

# -- orders: create, store the provider's answer --------------------------------------------------

INSERT_ORDER = insert(_ORDERS)
ORDER_COLUMNS = tuple(_ORDERS.columns.keys())  # INSERT_ORDER's, as a RawStatement (rows.column_values gives each)
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

# What a create's provider call is recorded with (gateway.domain.instrument), and its attempt
# (gateway.domain.attempts.Attempt.values); the keys of the records these statements write.
CALL_KEYS = frozenset((
    "provider", "operation", "outcome", "code", "message", "duration_ms", "merchant_order_no", "refund_id",
    "request_id", "created_at",
))  # fmt: skip
ATTEMPT_KEYS = frozenset((
    "order_id", "position", "account_id", "provider", "merchant_order_no", "outcome", "account_fault", "code",
    "message", "duration_ms", "started_at",
))  # fmt: skip


def _insert_cte(table: Any, keys: frozenset[str], prefix: str) -> Any:
    values = {key: bindparam(prefix + key, type_=table.c[key].type) for key in sorted(keys)}
    return insert(table).values(values).cte(f"{prefix}row")


def _store_answer_recording(call: bool, attempt: bool) -> Any:
    """STORE_ANSWER with the call's record (`call_*` parameters) and the attempt's (`attempt_*`) as
    data-modifying CTEs: one statement, so in autocommit one round trip and one commit, all or nothing."""
    stored = STORE_ANSWER.cte("stored")
    statement = select(*stored.c)
    if call:
        statement = statement.add_cte(_insert_cte(PROVIDER_CALLS, CALL_KEYS, "call_"))
    if attempt:
        statement = statement.add_cte(_insert_cte(ORDER_ATTEMPTS, ATTEMPT_KEYS, "attempt_"))
    return statement


# PostgreSQL only (SQLite has no data-modifying CTEs): by (a call's record, an attempt's record).
STORE_ANSWER_RECORDING = {
    (call, attempt): _store_answer_recording(call, attempt) for call in (False, True) for attempt in (False, True)
}

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
    _ORDERS.c.account_id,
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

# A payment on PostgreSQL in one round trip, in autocommit: the conditional UPDATE, and only if it
# changed the row, the outbox event and the notification's record, all or nothing (one statement).
# Exactly once still rests on `status IN (unpaid)`. The row must also be as the notify read it
# (`status`, `updated_at`: every write to an order sets it), because the webhook's payload was
# built from that read; if it is not, nothing is written, and the caller pays in a transaction.
_UNPAID_LIST = ", ".join(f"'{status}'" for status in UNPAID_STATUSES)
_PAY_AND_RECORD = (
    "WITH paid AS ("
    f" UPDATE orders SET status = '{OrderStatus.PAID.value}', paid_at = :paid_at, updated_at = :now,"
    " paid_after_expiry = (status = 'expired' OR paid_after_expiry),"
    " provider_order_id = COALESCE(provider_order_id, :provider_order_id)"
    f" WHERE id = :order_id AND status IN ({_UNPAID_LIST}) AND status = :read_status"
    " AND updated_at = :read_updated_at RETURNING id"
    "), event AS ("
    " INSERT INTO outbox_events (id, type, data, created_at, next_attempt_at, attempts, order_id)"
    " SELECT CAST(:event_id AS text), CAST(:event_type AS text), CAST(:event_data AS json),"
    " CAST(:now AS timestamptz), CAST(:now AS timestamptz), 0, id FROM paid"
    ") INSERT INTO notifications (provider, received_at, method, query_string, body, body_digest, request_size,"
    " content_type, verdict, reason, order_id, event_id)"
    # Typed: in a SELECT list, PostgreSQL has no column to infer a parameter's type from.
    " SELECT CAST(:provider AS text), CAST(:received_at AS timestamptz), CAST(:method AS text),"
    " CAST(:query_string AS text), CAST(:body AS text), CAST(:body_digest AS text), CAST(:request_size AS integer),"
    " CAST(:content_type AS text), CAST(:verdict AS text), CAST(:reason AS text), id,"
    " CAST(:notification_event_id AS text) FROM paid RETURNING order_id"
)
PAY_AND_RECORD = text(_PAY_AND_RECORD)
# The same, also writing the record of the provider call that confirmed the payment (`call_*` parameters,
# CALL_KEYS): a data-modifying CTE always runs, so the call is on record whether or not the order was paid.
_CALL_COLUMNS = sorted(CALL_KEYS)
PAY_AND_RECORD_WITH_CALL = text(
    f"WITH call_row AS (INSERT INTO provider_calls ({', '.join(_CALL_COLUMNS)})"
    f" VALUES ({', '.join(':call_' + key for key in _CALL_COLUMNS)})), " + _PAY_AND_RECORD.removeprefix("WITH ")
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

# A notify's lock-free read on PostgreSQL, of every column (rows.stored_order_of keeps StoredOrder's,
# rows.as_order makes the whole an Order: a payment is then one statement, PAY_AND_RECORD, whose webhook
# payload is the Order this row becomes), which also records a duplicate: one round trip where a
# duplicate took two (three with an event id). It reads the order's whole row (NULLs when there is
# none), whether the notification's event was already accepted, and writes the duplicate's record
# only on terms that imply the pipeline's own verdict, "duplicate" with the same reason: the account
# the notify was verified for, and then the event already accepted, or a payment report about the
# order as paid, equal in amount and currency, and equal (not merely compatible) in provider account
# and provider order id. The pipeline still judges the row in Python; whatever this did not record,
# it records as before. Its last three columns: whether the event was accepted before, and the id and
# reason of the record written (NULLs when none was).
ALREADY_PAID = "already paid"  # the reason of payments.verdict_on's "duplicate"
_PAID_LIST = ", ".join(f"'{status.value}'" for status in sorted(PAID_STATUSES))
_ACCEPTED_LIST = ", ".join(f"'{verdict}'" for verdict in _ACCEPTED_VERDICTS)


def _find_recording_duplicate(event: bool) -> Any:
    # Without an event id, no `seen` at all: a cached generic plan may scan the table for it (a plan
    # made while `notifications` was small was seen to, its time growing with every record).
    seen = "EXISTS (SELECT 1 FROM seen)" if event else "false"
    return text(
        f"WITH found AS (SELECT {', '.join(ORDER_COLUMNS)} FROM orders"
        " WHERE provider = :provider AND merchant_order_no = :merchant_order_no),"
        + (
            " seen AS (SELECT 1 FROM notifications WHERE provider = :provider AND event_id = CAST(:event_id AS text)"
            f" AND verdict IN ({_ACCEPTED_LIST}) LIMIT 1),"
            if event
            else ""
        )
        + " recorded AS (INSERT INTO notifications (provider, received_at, method, query_string, body, body_digest,"
        " request_size, content_type, verdict, reason, order_id, event_id)"
        " SELECT CAST(:provider AS text), CAST(:received_at AS timestamptz), CAST(:method AS text),"
        " CAST(:query_string AS text), CAST(:body AS text), CAST(:body_digest AS text), CAST(:request_size AS integer),"
        f" CAST(:content_type AS text), '{Verdict.DUPLICATE.value}',"
        f" CASE WHEN {seen} THEN CAST(:event_reason AS text) ELSE '{ALREADY_PAID}' END,"
        " found.id, CAST(:event_id AS text) FROM found"
        " WHERE COALESCE(found.account_id, CAST(:default_account AS text)) = CAST(:account_id AS text)"
        f" AND ({seen} OR (CAST(:paid AS boolean) AND found.status IN ({_PAID_LIST})"
        " AND found.amount = CAST(:amount AS bigint) AND found.currency = CAST(:currency AS text)"
        " AND found.provider_account IS NOT DISTINCT FROM CAST(:report_account AS text)"
        " AND found.provider_order_id IS NOT DISTINCT FROM CAST(:report_provider_order_id AS text)))"
        " RETURNING id, reason)"
        f" SELECT {', '.join('found.' + column for column in ORDER_COLUMNS)}, {seen},"
        " (SELECT id FROM recorded), (SELECT reason FROM recorded)"
        " FROM (SELECT 1) AS one LEFT JOIN found ON true"
    )


# By whether the notification has an event id.
FIND_ORDER_RECORDING_DUPLICATE = {event: _find_recording_duplicate(event) for event in (False, True)}
DELETE_NOTIFICATION = delete(_RECORDS).where(_RECORDS.c.id == bindparam("record_id"))

# -- the outbox and the console's timeline ----------------------------------------------------------

INSERT_EVENT = insert(OUTBOX_EVENTS)
INSERT_PROVIDER_CALL = insert(PROVIDER_CALLS)
