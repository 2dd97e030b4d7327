"""Creating orders: validate, store, ask the provider, store its answer.

The order row is committed before the provider is called and no transaction stays open
during the call, so a slow provider holds no locks, and an order whose creation outcome is
unknown (time-out) is still on record for the caller and for reconciliation.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from marshmallow import ValidationError
from sqlalchemy import null

from gateway.domain import idempotency, instrument
from gateway.domain.core import Gateway
from gateway.domain.errors import ResourceNotFound, invalid_fields
from gateway.domain.lifecycle import Transitions
from gateway.domain.payments import settle_payment
from gateway.domain.provider_failures import is_definite_refusal, provider_failure, require_operation
from gateway.plugin.clock import utcnow
from gateway.plugin.provider import (
    QUERY,
    CreatedOrder,
    InvalidOrder,
    NoAnswer,
    OrderDraft,
    OrderRef,
    OrderRequest,
    Provider,
    ProviderError,
    Refused,
    Verdict,
)
from gateway.plugin.validation import flatten_messages
from gateway.store.models import PAID_STATUSES, Order, OrderStatus
from gateway.store.rows import as_order, column_values, is_resource_id
from gateway.store.statements import INSERT_ORDER, STORE_ANSWER

log = logging.getLogger("gateway.domain.orders")  # the name operators' log filters know


def new_merchant_order_no() -> str:
    """26 characters: sortable by time for humans, 48 random bits against collisions."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(6)


def get_order(gateway: Gateway, order_id: str) -> Order:
    order = None
    if is_resource_id(order_id):
        with gateway.db.transaction() as session:
            order = session.get(Order, order_id)
    if order is None:
        raise ResourceNotFound("order_not_found", f"No order with id {order_id!r}.")
    return order


def create_order(
    gateway: Gateway, fields: Mapping[str, Any], caller_ip: str | None, claim: idempotency.Claim | None = None
) -> Order:
    """`claim`: the idempotency key this request holds, which will name the order (None: no key)."""
    provider = gateway.provider(fields.get("provider"))
    draft = _draft(provider, fields, caller_ip, sandbox=gateway.settings.sandbox)
    order = Order(
        id=str(uuid.uuid4()),
        provider=provider.name,
        channel=draft.channel,
        amount=draft.amount,
        currency=draft.currency,
        status=OrderStatus.PENDING.value,
        merchant_order_no=new_merchant_order_no(),
        provider_account=provider.account_id,
        subject=draft.subject,
        body=draft.body,
        client_ip=draft.client_ip,
        merchant_reference=fields.get("merchant_reference"),
        return_url=draft.return_url,
        order_metadata=dict(fields.get("metadata") or {}),
        created_at=(now := utcnow()),
        updated_at=now,
        expires_at=now + gateway.order_lifetime,
        paid_after_expiry=False,
        refunded_amount=0,
        sandbox=gateway.settings.sandbox,
    )
    # Stored before the provider is called. With an Idempotency-Key, the key must name the order in the
    # same commit (a retry after a crash then resumes it); without one, a lone INSERT is enough.
    with gateway.db.transaction() if claim is not None else gateway.db.autocommit() as session:
        session.connection().execute(INSERT_ORDER, column_values(order))
        idempotency.attach_resource(session, claim, order.id)
    request = OrderRequest(
        draft=draft,
        order_id=order.id,
        merchant_order_no=order.merchant_order_no,
        notify_url=gateway.settings.notify_url(provider.name),
    )
    with instrument.records_held(gateway.db) as calls:  # the call's record goes in with its answer
        try:
            created = instrument.holding(provider.create_order, calls)(request)
        except ProviderError as exc:
            _refused_or_unknown(gateway, provider, order, exc)
            raise provider_failure(provider, exc, "create the order", order_id=order.id) from exc
        return _record_creation(gateway, order, created, calls)


def _refused_or_unknown(gateway: Gateway, provider: Provider, order: Order, exc: ProviderError) -> None:
    if is_definite_refusal(exc):
        _record_refusal(gateway, order, exc)
        log.warning("%s refused order %s: %s %s", provider.name, order.id, exc.code, exc.message)
    else:  # the provider may still have the order; leave it pending for reconciliation
        log.warning("%s create_order for %s: outcome unknown (%s %s)", provider.name, order.id, exc.code, exc.message)


def order_answer(gateway: Gateway, order_id: str) -> Order:
    """The order as its creation request would have answered (for an idempotent resume).

    A request that died mid-way has no provider answer on record: that is reported as an
    unknown outcome, never as a payable order.
    """
    order = get_order(gateway, order_id)
    provider = gateway.provider_of(order)
    if order.status == OrderStatus.FAILED.value:
        refusal = Refused(order.failure_code or "", order.failure_message or "")
        raise provider_failure(provider, refusal, "create the order", order_id=order.id)
    if order.status == OrderStatus.PENDING.value and order.next_action is None and order.pay_params is None:
        raise provider_failure(provider, NoAnswer(), "create the order", order_id=order.id)
    return order


def refresh_order(gateway: Gateway, order_id: str) -> Order:
    """Ask the provider about an unpaid order and settle it like a notify would (`?refresh=true`)."""
    order = get_order(gateway, order_id)
    if order.status in PAID_STATUSES:
        return order
    provider = gateway.provider_of(order)
    require_operation(provider, QUERY)
    try:
        report = provider.query_order(order_ref(order))
    except ProviderError as exc:
        raise provider_failure(provider, exc, "report the order's state", order_id=order.id) from exc
    transitions = Transitions()
    with gateway.db.transaction() as session:
        stored = session.get(Order, order.id)
        verdict, reason = settle_payment(session.connection(), stored, report, transitions)
    transitions.announce(gateway.hooks)
    if verdict is Verdict.MISMATCH:
        log.error("%s query for order %s does not match it: %s", provider.name, order.id, reason)
    assert stored is not None
    return stored


def order_ref(order: Order) -> OrderRef:
    return OrderRef(
        merchant_order_no=order.merchant_order_no,
        provider_order_id=order.provider_order_id,
        amount=order.amount,
        currency=order.currency,
        client_ip=order.client_ip,
    )


def _draft(provider: Provider, fields: Mapping[str, Any], caller_ip: str | None, *, sandbox: bool) -> OrderDraft:
    errors: dict[str, list[str]] = {}
    if fields["channel"] not in provider.info.channels:
        errors["channel"] = [f"{provider.name} takes one of: {', '.join(provider.info.channels)}"]
    elif fields["currency"] not in (channel := provider.info.channel(fields["channel"])).currencies:
        errors["currency"] = [f"{provider.name} {channel.name} takes one of: {', '.join(channel.currencies)}"]
    options = _provider_options(provider, fields.get("provider_options") or {}, errors)
    return_url = fields.get("return_url")
    if return_url is not None and (problem := return_url_problem(return_url, sandbox=sandbox)):
        errors["return_url"] = [problem]
    if not errors and fields["channel"] in provider.info.channels:
        given = {"return_url"} if return_url else set()
        given |= {f"provider_options.{name}" for name, value in options.items() if value not in (None, "")}
        for field in provider.info.channel(fields["channel"]).required_fields:
            if field not in given:
                errors[field] = [f"{provider.name} {fields['channel']} orders need it"]
    client_ip = fields.get("client_ip") or caller_ip
    if not client_ip:
        errors["client_ip"] = ["is required when the caller's address is unknown"]
    stored = {"channel": fields["channel"], "subject": fields["subject"], "client_ip": str(client_ip or "")}
    errors.update(_too_long_for_their_columns(stored))
    if errors:
        raise invalid_fields(errors)
    draft = OrderDraft(
        channel=fields["channel"],
        amount=fields["amount"],
        currency=fields["currency"],
        subject=fields["subject"],
        body=fields["body"],
        client_ip=str(client_ip),
        options=options,
        return_url=return_url,
    )
    try:
        provider.validate_order(draft)
    except InvalidOrder as exc:
        raise invalid_fields(exc.errors) from exc
    return draft


def _too_long_for_their_columns(values: Mapping[str, str]) -> dict[str, list[str]]:
    """SQLite stores any length; PostgreSQL refuses what exceeds a column. Refuse it here, naming the field."""
    errors = {}
    for name, value in values.items():
        length = getattr(Order.__table__.c[name].type, "length", None)
        if length is not None and len(value) > length:
            errors[name] = [f"must be at most {length} characters"]
    return errors


MAX_RETURN_URL = 2048
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def return_url_problem(url: str, *, sandbox: bool) -> str | None:
    """Why `url` cannot be where a payer's browser is sent back to (None: it can).

    https only: the page the payer lands on shows their order, and a provider may refuse plain http.
    The sandbox also takes http on this machine, so that `make run` and browser tests need no TLS.
    """
    if len(url) > MAX_RETURN_URL:
        return f"must be at most {MAX_RETURN_URL} characters"
    if not url.isprintable() or any(char.isspace() for char in url):
        return "must not contain spaces or control characters"
    parts = urlsplit(url)
    if parts.scheme == "http" and sandbox and parts.hostname in _LOOPBACK_HOSTS:
        return None
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https:// address" + (" (or http:// on localhost in the sandbox)" if sandbox else "")
    return None


def _provider_options(provider: Provider, raw: Mapping[str, Any], errors: dict[str, list[str]]) -> Mapping[str, Any]:
    schema = provider.options_schema()
    if schema is None:
        if raw:
            errors["provider_options"] = [f"{provider.name} takes no provider_options"]
        return {}
    try:
        loaded: Mapping[str, Any] = schema.load(raw)
    except ValidationError as exc:
        errors.update(flatten_messages(exc.messages, "provider_options"))
        return {}
    return loaded


def _record_refusal(gateway: Gateway, order: Order, exc: ProviderError) -> None:
    with gateway.db.transaction() as session:
        stored = session.get(Order, order.id)
        if stored is not None and stored.status == OrderStatus.PENDING.value:
            stored.status = OrderStatus.FAILED.value
            stored.failure_code = exc.code[:64]
            stored.failure_message = exc.message


def _record_creation(gateway: Gateway, order: Order, created: CreatedOrder, calls: list[dict[str, Any]]) -> Order:
    """One UPDATE ... RETURNING and the call's record, one commit: the order as the response shows it."""
    assert created.next_action is not None  # CreatedOrder makes one from pay_params
    with gateway.db.transaction() as session:
        connection = session.connection()
        row = connection.execute(
            STORE_ANSWER,
            {
                "order_id": order.id,
                "provider_order_id": created.provider_order_id,
                "pay_params": null() if created.pay_params is None else dict(created.pay_params),  # SQL NULL
                "next_action": created.next_action.as_dict(),
            },
        ).one()
        instrument.write_records(connection, calls)
    calls.clear()  # committed with the answer
    return as_order(row, order)
