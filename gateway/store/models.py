"""Tables. Schema changes go through Alembic (gateway/store/migrations), never `create_all`."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.plugin.clock import as_utc, utcnow
from gateway.plugin.provider import NextActionType
from gateway.plugin.snapshots import OrderSnapshot


class OrderStatus(enum.StrEnum):
    PENDING = "pending"  # stored; created at the provider, or the provider's answer is not known yet
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"  # the provider definitely refused to create it
    EXPIRED = "expired"  # never paid before its expiry (a later payment still counts: see paid_after_expiry)


# Money has moved for orders in these states; refunds draw on them.
PAID_STATUSES = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED})


class RefundStatus(enum.StrEnum):
    PENDING = "pending"  # stored, the provider call is under way (or its process died)
    UNKNOWN = "unknown"  # the provider call ended without a clear answer; reconciliation settles it
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# Refunds in these states hold their amount against the order, so the sum can never exceed what was paid.
RESERVING_REFUND_STATUSES = frozenset({RefundStatus.PENDING, RefundStatus.UNKNOWN, RefundStatus.SUCCEEDED})


class Base(DeclarativeBase):
    pass


# The merchant configured by the environment (GATEWAY_API_KEYS, the providers' own variables): it owns
# every order created before merchants existed, and its accounts are the ones the environment sets.
DEFAULT_MERCHANT_ID = "default"
MERCHANT_ORDER_NO_LENGTH = 64  # the gateway's own order references are 26 characters
EVENT_ID_LENGTH = 255  # a provider's event id, as notifications record it
PROVIDER_ORDER_ID_LENGTH = 128  # the provider's own id of an order
PROVIDER_REFUND_ID_LENGTH = 128  # the provider's own id of a refund


def default_account_id(provider: str) -> str:
    """The id of the default merchant's account at `provider`, configured by the environment."""
    return f"default-{provider}"


class Merchant(Base):
    """A shop served by this gateway: its own API keys, webhook endpoint, provider accounts and orders."""

    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(Text)  # encrypted (gateway.domain.credentials)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Bumped with every change to the merchant's accounts or routing rules, in the same transaction:
    # each process keeps both cached and reads only this to know its copy is current (gateway.domain.routing).
    config_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiKey(Base):
    """A merchant's API key, stored as the SHA-256 of the token: the token itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(255))  # space-separated, e.g. "orders:write orders:read"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProviderAccount(Base):
    """One merchant's credentials at one provider, encrypted; `version` changes with every change."""

    __tablename__ = "provider_accounts"
    __table_args__ = (
        UniqueConstraint("merchant_id", "name", name="uq_provider_accounts_merchant_name"),
        Index("ix_provider_accounts_merchant_provider", "merchant_id", "provider"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    provider: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))
    settings: Mapped[str] = mapped_column(Text)  # encrypted JSON object
    previous_settings: Mapped[str | None] = mapped_column(Text)  # encrypted; notifies still verify with it
    previous_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("provider", "merchant_order_no", name="uq_orders_provider_reference"),
        Index("ix_orders_status_created_at", "status", "created_at"),  # reconciliation's scan
        Index("ix_orders_created_at_id", "created_at", "id"),  # the console's list: newest first, keyset pages
        Index(
            "ix_orders_paid_after_expiry",
            "created_at",
            "id",
            postgresql_where=text("paid_after_expiry"),
            sqlite_where=text("paid_after_expiry = 1"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.PENDING.value)
    merchant_order_no: Mapped[str] = mapped_column(String(MERCHANT_ORDER_NO_LENGTH))
    provider_order_id: Mapped[str | None] = mapped_column(String(PROVIDER_ORDER_ID_LENGTH))
    provider_account: Mapped[str | None] = mapped_column(String(128))
    pay_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    next_action: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # NextAction.as_dict()
    return_url: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    client_ip: Mapped[str] = mapped_column(String(64))
    merchant_reference: Mapped[str | None] = mapped_column(String(128), index=True)
    # `metadata` is taken by SQLAlchemy's declarative base, hence the attribute name.
    order_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_after_expiry: Mapped[bool] = mapped_column(Boolean, default=False)
    # Created in sandbox mode (GATEWAY_SANDBOX=1): no real money was ever asked for.
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # Lease taken by a reconcile run, so that several runs never work on the same order at once.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Whose order, and which of their provider accounts it was created with (DEFAULT_MERCHANT_ID and
    # default_account_id(provider) for the environment-configured merchant).
    merchant_id: Mapped[str] = mapped_column(String(36), default=DEFAULT_MERCHANT_ID, index=True)
    account_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # The routing rule and the version of the merchant's rules that chose the account (None: not routed).
    routing_rule: Mapped[str | None] = mapped_column(String(80))
    routing_version: Mapped[int | None] = mapped_column(Integer)
    # Not a column: the order's attempts as the API shows them, when the domain has read them.
    attempt_list = cast(list[dict[str, Any]], [])

    @property
    def payer_next_action(self) -> dict[str, Any] | None:
        """The next action as the API shows it; orders stored before next actions had pay_params only."""
        if self.next_action is not None:
            return self.next_action
        return None if self.pay_params is None else {"type": str(NextActionType.SDK_PARAMS), "params": self.pay_params}

    def snapshot(self) -> OrderSnapshot:
        created_at = as_utc(self.created_at)
        assert created_at is not None
        return OrderSnapshot(
            id=self.id,
            provider=self.provider,
            channel=self.channel,
            amount=self.amount,
            currency=self.currency,
            status=self.status,
            merchant_order_no=self.merchant_order_no,
            provider_order_id=self.provider_order_id,
            merchant_reference=self.merchant_reference,
            metadata=dict(self.order_metadata or {}),
            created_at=created_at,
            paid_at=as_utc(self.paid_at),
            refunded_amount=self.refunded_amount or 0,
            paid_after_expiry=bool(self.paid_after_expiry),
        )


class RoutingRules(Base):
    """One version of a merchant's routing rules (gateway.domain.routing_rules); the newest one rules."""

    __tablename__ = "routing_rules"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)  # accounts by id
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OrderAttempt(Base):
    """One try at creating an order at one account, with its own provider order number and its outcome."""

    __tablename__ = "order_attempts"
    __table_args__ = (Index("ix_order_attempts_provider_reference", "provider", "merchant_order_no"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1, 2 ... in the order tried
    account_id: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(40))
    merchant_order_no: Mapped[str] = mapped_column(String(MERCHANT_ORDER_NO_LENGTH))
    # created | not_created (nothing can exist at the provider) | unknown (it may exist: time-out, unclear)
    outcome: Mapped[str] = mapped_column(String(20))
    # A not-created failure of the account itself (misconfigured, unreachable), the only kind a breaker
    # counts (gateway.domain.provider_failures.account_failing); NULL on rows older than the column.
    account_fault: Mapped[bool | None] = mapped_column(Boolean)
    code: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A payment that reached this attempt although the order went on elsewhere: money to refund by hand.
    surplus_amount: Mapped[int | None] = mapped_column(BigInteger)
    surplus_paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationRecord(Base):
    """Every request that reached /notify/<provider>, with the pipeline's verdict."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_provider_event", "provider", "event_id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,  # SQLite autoincrements INTEGER only
    )
    provider: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    method: Mapped[str] = mapped_column(String(10))
    query_string: Mapped[str] = mapped_column(Text)  # a bounded prefix, for requests nobody vouched for
    body: Mapped[str] = mapped_column(Text)
    body_digest: Mapped[str | None] = mapped_column(String(64))  # sha256 of the whole query string and body
    request_size: Mapped[int | None] = mapped_column(Integer)  # bytes received
    content_type: Mapped[str | None] = mapped_column(String(255))
    verdict: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), index=True)
    event_id: Mapped[str | None] = mapped_column(String(EVENT_ID_LENGTH))


class Refund(Base):
    __tablename__ = "refunds"
    # A client's own name for a refund, unique per order: the same reference again is the same refund.
    __table_args__ = (UniqueConstraint("order_id", "reference", name="uq_refunds_order_reference"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default=RefundStatus.PENDING.value, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(255))
    provider_refund_id: Mapped[str | None] = mapped_column(String(PROVIDER_REFUND_ID_LENGTH))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when the provider contradicted a settled refund: what had been recorded, what it reported.
    discrepancy: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class IdempotencyKey(Base):
    """A client's Idempotency-Key and the response it got, kept at least 24 hours."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(255))  # who and which endpoint: keys of two clients never meet
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # in_progress | done
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    resource_id: Mapped[str | None] = mapped_column(String(64))  # what the first request created, if anything
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class OutboxEvent(Base):
    """A merchant webhook event, written in the same transaction as the change it reports."""

    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The order the event is about (None for events about no order), for the console's timeline.
    order_id: Mapped[str | None] = mapped_column(String(36), index=True)


class ProviderCall(Base):
    """One call to a provider's API, with what came of it: the operator console's timeline shows these."""

    __tablename__ = "provider_calls"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))  # ok, refused, unknown, timeout, unreachable, ...
    code: Mapped[str | None] = mapped_column(String(64))  # the provider's own error code, when it gave one
    message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    merchant_order_no: Mapped[str | None] = mapped_column(String(64), index=True)
    refund_id: Mapped[str | None] = mapped_column(String(36), index=True)
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    """One POST of a merchant webhook event and the merchant's answer (a status, or why there was none)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), index=True)
    delivered: Mapped[bool] = mapped_column(Boolean)
    answer: Mapped[str] = mapped_column(String(255))  # "HTTP 200", "HTTP 500", "ConnectTimeout", ...
    trigger: Mapped[str] = mapped_column(String(20))  # worker | console
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleAction(Base):
    """The audit trail of the operator console: who did what to which record, when, and what came of it."""

    __tablename__ = "console_actions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    admin: Mapped[str] = mapped_column(String(80))  # the admin key's label and fingerprint, never the key
    action: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str | None] = mapped_column(String(36), index=True)
    refund_id: Mapped[str | None] = mapped_column(String(36))
    event_id: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleSession(Base):
    """A console login, kept on the server so that logging out (or its lifetime running out) ends it
    for every worker, whatever the browser still holds. Only a digest of the session's token is stored."""

    __tablename__ = "console_sessions"

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin: Mapped[str] = mapped_column(String(8))  # the admin key's fingerprint, never the key
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# The tables themselves, for Core statements built once on the hot paths (notify, create_order).
ORDERS = cast(Table, Order.__table__)
NOTIFICATIONS = cast(Table, NotificationRecord.__table__)
OUTBOX_EVENTS = cast(Table, OutboxEvent.__table__)
PROVIDER_CALLS = cast(Table, ProviderCall.__table__)
PROVIDER_ACCOUNTS = cast(Table, ProviderAccount.__table__)
MERCHANTS = cast(Table, Merchant.__table__)
ORDER_ATTEMPTS = cast(Table, OrderAttempt.__table__)


def storable(text: str) -> bool:
    """Whether an id can be stored at all: text with NUL (PostgreSQL refuses it) or a surrogate (argv's
    undecodable bytes become one; no database encodes it) names nothing, and is answered before a query."""
    return text.isprintable()
