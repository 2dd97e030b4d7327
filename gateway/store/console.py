"""What the console shows: read-only queries over orders, notifications, provider calls, refunds and webhooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Text,
    bindparam,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.plugin.clock import as_utc, utcnow
from gateway.plugin.money import format_money
from gateway.plugin.provider import Verdict
from gateway.store.db import Database
from gateway.store.models import (
    DEFAULT_MERCHANT_ID,
    ConsoleAction,
    Merchant,
    NotificationRecord,
    Order,
    OrderAttempt,
    OrderStatus,
    OutboxEvent,
    ProviderAccount,
    ProviderCall,
    Refund,
    RefundStatus,
    WebhookDelivery,
)
from gateway.store.order_filters import Cursor, OrderFilter
from gateway.store.rows import is_resource_id

LIST_LIMIT = 50
UNSETTLED_REFUNDS = (RefundStatus.PENDING.value, RefundStatus.UNKNOWN.value)
REJECTED_VERDICTS = tuple(verdict.value for verdict in Verdict if not verdict.accepted)


# Built once: building the statement per page cost as much as running it (SQLAlchemy's coercions).
_NAMES = union_all(
    select(literal("m"), Merchant.id, Merchant.name).where(Merchant.id.in_(bindparam("merchants", expanding=True))),
    select(literal("a"), ProviderAccount.id, ProviderAccount.name).where(
        ProviderAccount.id.in_(bindparam("accounts", expanding=True))
    ),
)


@dataclass(frozen=True)
class Names:
    """The names of the merchants and accounts of the orders on a page, by id. An id without a row
    (the environment's accounts, `default-<provider>`, or a row since deleted) is its own name."""

    merchants: Mapping[str, str] = field(default_factory=dict)
    accounts: Mapping[str, str] = field(default_factory=dict)

    def merchant(self, merchant_id: str) -> str:
        return self.merchants.get(merchant_id, merchant_id)

    def account(self, account_id: str | None) -> str:
        return "" if account_id is None else self.accounts.get(account_id, account_id)


def names_of(session: Session, orders: Sequence[Order]) -> Names:
    """The names a page of orders shows: one indexed read of both tables, for that page's ids only
    (a page is at most PAGE_SIZE orders, however many merchants and accounts exist), in the
    transaction that read the page."""
    if not orders:
        return Names()
    merchant_ids = {order.merchant_id for order in orders}
    account_ids = {order.account_id for order in orders if order.account_id is not None}
    if merchant_ids == {DEFAULT_MERCHANT_ID}:  # the environment's merchant and accounts: no stored name to read
        return Names()
    merchants: dict[str, str] = {}
    accounts: dict[str, str] = {}
    # Core rows, not the ORM's: a third of the cost for the same tuples.
    found = session.connection().execute(_NAMES, {"merchants": list(merchant_ids), "accounts": list(account_ids)})
    for kind, row_id, name in found:
        (merchants if kind == "m" else accounts)[row_id] = name
    return Names(merchants, accounts)


@dataclass
class Dashboard:
    counts_by_status: dict[str, int]
    stuck_orders: Sequence[Order]
    unsettled_refunds: Sequence[Refund]
    webhook_backlog: int
    oldest_undelivered: datetime | None
    rejected_notifies_last_hour: dict[str, int]
    names: Names = field(default_factory=Names)  # of the stuck orders' merchants and accounts


def dashboard(db: Database, now: datetime | None = None) -> Dashboard:
    now = now or utcnow()
    with db.transaction() as session:
        counts = {
            status: number
            for status, number in session.execute(select(Order.status, func.count()).group_by(Order.status))
        }
        stuck = session.scalars(
            select(Order)
            .where(Order.status == OrderStatus.PENDING.value, Order.expires_at < now)
            .order_by(Order.expires_at)
            .limit(LIST_LIMIT)
        ).all()
        names = names_of(session, stuck)
        unsettled = session.scalars(
            select(Refund).where(Refund.status.in_(UNSETTLED_REFUNDS)).order_by(Refund.created_at).limit(LIST_LIMIT)
        ).all()
        backlog, oldest = session.execute(
            select(func.count(OutboxEvent.id), func.min(OutboxEvent.created_at)).where(
                OutboxEvent.delivered_at.is_(None)
            )
        ).one()
        rejected = {
            verdict: number
            for verdict, number in session.execute(
                select(NotificationRecord.verdict, func.count())
                .where(
                    NotificationRecord.received_at >= now - timedelta(hours=1),
                    NotificationRecord.verdict.in_(REJECTED_VERDICTS),
                )
                .group_by(NotificationRecord.verdict)
            )
        }
    return Dashboard(
        counts_by_status={status.value: int(counts.get(status.value, 0)) for status in OrderStatus},
        stuck_orders=stuck,
        unsettled_refunds=unsettled,
        webhook_backlog=int(backlog or 0),
        oldest_undelivered=as_utc(oldest),
        rejected_notifies_last_hour={verdict: int(number) for verdict, number in sorted(rejected.items())},
        names=names,
    )


@dataclass(frozen=True)
class Entry:
    """One line of an order's timeline."""

    at: datetime
    kind: str  # notification, provider call, attempt, refund, webhook, delivery, console
    title: str
    detail: str = ""
    good: bool | None = None  # True: went well, False: went wrong, None: neutral


@dataclass
class OrderPage:
    order: Order
    refunds: Sequence[Refund]
    events: Sequence[OutboxEvent]
    timeline: list[Entry] = field(default_factory=list)
    names: Names = field(default_factory=Names)


def order_page(db: Database, order_id: str) -> OrderPage | None:
    if not is_resource_id(order_id):
        return None
    with db.transaction() as session:
        order = session.get(Order, order_id.lower())
        if order is None:
            return None
        notifications = session.scalars(
            select(NotificationRecord).where(NotificationRecord.order_id == order.id).order_by(NotificationRecord.id)
        ).all()
        refunds = session.scalars(select(Refund).where(Refund.order_id == order.id).order_by(Refund.created_at)).all()
        refund_ids = [refund.id for refund in refunds]
        attempts = session.scalars(
            select(OrderAttempt).where(OrderAttempt.order_id == order.id).order_by(OrderAttempt.position)
        ).all()
        numbers = {(order.provider, order.merchant_order_no)} | {(a.provider, a.merchant_order_no) for a in attempts}
        calls = session.scalars(
            select(ProviderCall)
            .where(
                or_(
                    *(
                        (ProviderCall.provider == provider) & (ProviderCall.merchant_order_no == number)
                        for provider, number in sorted(numbers)
                    ),
                    ProviderCall.refund_id.in_(refund_ids),
                )
            )
            .order_by(ProviderCall.id)
        ).all()
        events = session.scalars(
            select(OutboxEvent).where(OutboxEvent.order_id == order.id).order_by(OutboxEvent.created_at)
        ).all()
        deliveries = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.event_id.in_([event.id for event in events]))
            .order_by(WebhookDelivery.id)
        ).all()
        actions = session.scalars(
            select(ConsoleAction).where(ConsoleAction.order_id == order.id).order_by(ConsoleAction.id)
        ).all()
        names = names_of(session, [order])
    page = OrderPage(order=order, refunds=refunds, events=events, names=names)
    page.timeline = _timeline(order, notifications, calls, refunds, events, deliveries, actions)
    page.timeline = sorted([*page.timeline, *_attempt_entries(attempts, order.currency)], key=lambda entry: entry.at)
    return page


def _attempt_entries(attempts: Sequence[OrderAttempt], currency: str) -> list[Entry]:
    """Each try at an account (routing), and a payment that reached one the order had left."""
    entries = []
    for attempt in attempts:
        detail = f"account {attempt.account_id}, {attempt.merchant_order_no}, {attempt.duration_ms} ms"
        if attempt.code or attempt.message:
            detail += f"; {attempt.code or ''} {attempt.message or ''}".rstrip()
        good = {"created": True, "not_created": False}.get(attempt.outcome)
        entries.append(
            Entry(_at(attempt.started_at), "attempt", f"attempt {attempt.position}: {attempt.outcome}", detail, good)
        )
        if attempt.surplus_paid_at is not None:
            amount = format_money(attempt.surplus_amount or 0, currency)
            entries.append(
                Entry(
                    _at(attempt.surplus_paid_at),
                    "attempt",
                    f"surplus payment on attempt {attempt.position}: refund it",
                    f"{amount} paid on {attempt.merchant_order_no} after the order had moved on",
                    False,
                )
            )
    return entries


def _timeline(
    order: Order,
    notifications: Sequence[NotificationRecord],
    calls: Sequence[ProviderCall],
    refunds: Sequence[Refund],
    events: Sequence[OutboxEvent],
    deliveries: Sequence[WebhookDelivery],
    actions: Sequence[ConsoleAction],
) -> list[Entry]:
    entries = [Entry(_at(order.created_at), "order", "order stored", format_money(order.amount, order.currency))]
    for note in notifications:
        accepted = note.verdict in {verdict.value for verdict in Verdict if verdict.accepted}
        entries.append(
            Entry(_at(note.received_at), "notification", f"notify: {note.verdict}", note.reason or "", accepted)
        )
    for call in calls:
        detail = f"{call.duration_ms} ms"
        if call.code or call.message:
            detail += f"; {call.code or ''} {call.message or ''}".rstrip()
        entries.append(
            Entry(
                _at(call.created_at), "provider call", f"{call.operation}: {call.outcome}", detail, call.outcome == "ok"
            )
        )
    for refund in refunds:
        entries.append(
            Entry(
                _at(refund.created_at),
                "refund",
                f"refund {refund.id} requested",
                format_money(refund.amount, refund.currency),
            )
        )
        if refund.settled_at is not None:
            succeeded = refund.status == RefundStatus.SUCCEEDED.value
            reason = f"{refund.failure_code or ''} {refund.failure_message or ''}".strip()
            entries.append(
                Entry(_at(refund.settled_at), "refund", f"refund {refund.id} {refund.status}", reason, succeeded)
            )
    for event in events:
        entries.append(Entry(_at(event.created_at), "webhook", f"webhook event {event.type}", event.id))
    for delivery in deliveries:
        entries.append(
            Entry(
                _at(delivery.created_at),
                "delivery",
                f"webhook {delivery.event_id} {'delivered' if delivery.delivered else 'not delivered'}",
                f"answer: {delivery.answer} ({delivery.trigger})",
                delivery.delivered,
            )
        )
    for action in actions:
        entries.append(Entry(_at(action.created_at), "console", f"{action.action} by {action.admin}", action.result))
    entries.sort(key=lambda entry: entry.at)
    return entries


def _at(moment: datetime | None) -> datetime:
    utc = as_utc(moment)
    assert utc is not None
    return utc


# -- the order list -----------------------------------------------------------------------------------

PAGE_SIZE = 50
CSV_BATCH = 1000
CSV_MAX_ROWS = 100_000
BULK_RETRY_MAX = 500

AnySelect = Select[*tuple[Any, ...]]  # of whole orders, or of the columns the CSV export reads

# The list's equality filters: query parameter -> column, one line each.
ORDER_EQUALS: Mapping[str, InstrumentedAttribute[str] | InstrumentedAttribute[str | None]] = {
    "status": Order.status,
    "provider": Order.provider,
    "channel": Order.channel,
    "merchant": Order.merchant_id,  # a merchant's id or name (`default`: the environment-configured one)
    "account": Order.account_id,  # a provider account's id or name (`default-<provider>`: the environment's)
}
# Filters that take a name as well as an id: parameter -> (the named table's id, its name). An
# account's name is unique only within its merchant, so `account=usd` alone means every merchant's.
BY_NAME: Mapping[str, tuple[InstrumentedAttribute[str], InstrumentedAttribute[str]]] = {
    "merchant": (Merchant.id, Merchant.name),
    "account": (ProviderAccount.id, ProviderAccount.name),
}


def _no_json(column: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
    """SQL NULL, or the JSON value null (what the ORM writes for None)."""
    return column.is_(None) | (cast(column, Text) == "null")


def _failing_webhooks() -> ColumnElement[bool]:
    return OutboxEvent.delivered_at.is_(None) & OutboxEvent.last_error.is_not(None)


@dataclass(frozen=True)
class SavedView:
    title: str
    where: Callable[[OrderFilter, datetime], ColumnElement[bool]]


# The questions operators ask, as named conditions on orders (`?view=name`), combinable with every filter.
SAVED_VIEWS: Mapping[str, SavedView] = {
    "pending_long": SavedView(
        "Pending for longer than N minutes",
        lambda wanted, now: (
            (Order.status == OrderStatus.PENDING.value) & (Order.created_at < now - timedelta(minutes=wanted.minutes))
        ),
    ),
    "unknown": SavedView(
        "Unknown outcome: the provider's answer to the creation never arrived",
        lambda wanted, now: (
            (Order.status == OrderStatus.PENDING.value) & _no_json(Order.next_action) & _no_json(Order.pay_params)
        ),
    ),
    "paid_after_expiry": SavedView(
        "Paid after expiry",
        lambda wanted, now: Order.paid_after_expiry == true(),  # as the partial index ix_orders_paid_after_expiry
    ),
    "refunds_open": SavedView(
        "Refunds pending, unknown or discrepant",
        lambda wanted, now: Order.id.in_(
            select(Refund.order_id).where(Refund.status.in_(UNSETTLED_REFUNDS) | ~_no_json(Refund.discrepancy))
        ),
    ),
    "webhooks_failing": SavedView(
        "Webhooks failing: not delivered, and the last attempt failed",
        lambda wanted, now: Order.id.in_(select(OutboxEvent.order_id).where(_failing_webhooks())),
    ),
}


@dataclass
class OrderList:
    orders: Sequence[Order]
    next_page: Cursor | None  # None: this is the last page
    names: Names = field(default_factory=Names)  # of the page's merchants and accounts


def _filtered(wanted: OrderFilter, now: datetime) -> AnySelect:
    query = select(Order)
    if wanted.errors:
        return query.where(false())
    for name, values in wanted.equals.items():
        column = ORDER_EQUALS[name]
        if name in BY_NAME:
            row_id, row_name = BY_NAME[name]
            query = query.where(column.in_(values) | column.in_(select(row_id).where(row_name.in_(values))))
        else:
            query = query.where(column.in_(values))
    if wanted.created_from is not None:
        query = query.where(Order.created_at >= wanted.created_from)
    if wanted.created_to is not None:
        query = query.where(Order.created_at < wanted.created_to)
    if wanted.q:
        query = query.where(_matches(wanted.q))
    if wanted.view:
        query = query.where(SAVED_VIEWS[wanted.view].where(wanted, now))
    return query


def _matches(text: str) -> ColumnElement[bool]:
    """A part of the merchant order no, the provider order id or the merchant reference (any case),
    or exactly the gateway's own order id."""
    matches: list[ColumnElement[bool]] = [
        column.icontains(text, autoescape=True)
        for column in (Order.merchant_order_no, Order.provider_order_id, Order.merchant_reference)
    ]
    if is_resource_id(text):
        matches.append(Order.id == text.lower())
    return or_(*matches)


def _newest_first(query: AnySelect, after: Cursor | None, limit: int) -> AnySelect:
    # Keyset pagination: stable while orders arrive, and each page costs the same on page 1 or 20,000.
    if after is not None:
        query = query.where(tuple_(Order.created_at, Order.id) < tuple_(after.created_at, after.order_id))
    return query.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)


def list_orders(db: Database, wanted: OrderFilter, now: datetime | None = None) -> OrderList:
    query = _newest_first(_filtered(wanted, now or utcnow()), wanted.after, PAGE_SIZE + 1)
    with db.transaction() as session:
        found = session.scalars(query).all()
        names = names_of(session, found)
    if len(found) <= PAGE_SIZE:
        return OrderList(found, None, names)
    last = found[PAGE_SIZE - 1]
    return OrderList(found[:PAGE_SIZE], Cursor(_at(last.created_at), last.id), names)


# What the CSV export reads: plain rows of these columns, not whole ORM objects (5x faster per row).
EXPORT_COLUMNS = (
    Order.id, Order.created_at, Order.status, Order.provider, Order.channel, Order.amount, Order.currency,
    Order.refunded_amount, Order.merchant_order_no, Order.provider_order_id, Order.merchant_reference,
    Order.paid_at, Order.expires_at, Order.paid_after_expiry, Order.failure_code,
    Order.merchant_id, Merchant.name.label("merchant_name"), Order.account_id,
    ProviderAccount.name.label("account_name"),
)  # fmt: skip


def export_orders(db: Database, wanted: OrderFilter, now: datetime | None = None) -> Iterator[Row[Any]]:
    """Every order of the view, newest first, at most CSV_MAX_ROWS: one short transaction per batch."""
    # The names by primary key, per row: an account stored in the environment has none (its id is its name).
    query: AnySelect = (
        _filtered(wanted, now or utcnow())
        .with_only_columns(*EXPORT_COLUMNS)
        .select_from(Order)
        .outerjoin(Merchant, Merchant.id == Order.merchant_id)
        .outerjoin(ProviderAccount, ProviderAccount.id == Order.account_id)
    )
    after, sent = wanted.after, 0
    while sent < CSV_MAX_ROWS:
        with db.transaction() as session:
            batch = session.execute(_newest_first(query, after, min(CSV_BATCH, CSV_MAX_ROWS - sent))).all()
        yield from batch
        sent += len(batch)
        if len(batch) < CSV_BATCH:
            return
        after = Cursor(_at(batch[-1].created_at), batch[-1].id)


def count_views(db: Database, now: datetime | None = None, cap: int = 1000) -> dict[str, int]:
    """How many orders each saved view holds, counted up to `cap` (the dashboard shows "1000+")."""
    now = now or utcnow()
    default = OrderFilter()
    with db.transaction() as session:
        return {
            name: int(
                session.scalar(
                    select(func.count()).select_from(
                        select(Order.id).where(view.where(default, now)).limit(cap).subquery()
                    )
                )
                or 0
            )
            for name, view in SAVED_VIEWS.items()
        }


def retry_failing_webhooks(
    db: Database, wanted: OrderFilter, audit: Callable[[OutboxEvent], ConsoleAction], now: datetime | None = None
) -> list[OutboxEvent]:
    """Make the failing webhook events of the view's orders due now, oldest first, at most BULK_RETRY_MAX,
    with `audit(event)`'s entry for each in the same commit.

    The webhook worker sends them on its next pass, under its own lease: a request thread never
    waits on a merchant's endpoint, and no event is POSTed by two senders at once. An event a
    worker holds right now is left to it.
    """
    now = now or utcnow()
    orders = _filtered(wanted, now).with_only_columns(Order.id).order_by(None)
    with db.transaction() as session:
        events = session.scalars(
            select(OutboxEvent)
            .where(
                _failing_webhooks(),
                OutboxEvent.order_id.in_(orders),
                or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until < now),
            )
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
            .limit(BULK_RETRY_MAX)
        ).all()
        if events:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_([event.id for event in events]), OutboxEvent.delivered_at.is_(None))
                .values(next_attempt_at=now)
            )
            session.add_all(audit(event) for event in events)
    return list(events)
