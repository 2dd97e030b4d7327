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
from sqlalchemy import null, update

from gateway.domain import attempt_view, attempts, idempotency, instrument
from gateway.domain.attempts import Attempt
from gateway.domain.core import Gateway
from gateway.domain.errors import Conflict, Invalid, ResourceNotFound, invalid_fields
from gateway.domain.lifecycle import Transitions
from gateway.domain.payments import settle_payment
from gateway.domain.provider_failures import created_nothing, is_definite_refusal, provider_failure, require_operation
from gateway.domain.routing import Candidate, route
from gateway.plugin.clock import utcnow
from gateway.plugin.provider import (
    QUERY,
    CreatedOrder,
    InvalidOrder,
    NoAnswer,
    Notification,
    OrderDraft,
    OrderRef,
    OrderRequest,
    OutcomeUnknown,
    Provider,
    ProviderError,
    Refused,
    Verdict,
)
from gateway.plugin.validation import flatten_messages
from gateway.store.models import (
    DEFAULT_MERCHANT_ID,
    ORDERS,
    PAID_STATUSES,
    PROVIDER_ORDER_ID_LENGTH,
    Order,
    OrderStatus,
)
from gateway.store.rows import as_order, is_resource_id, new_order_values
from gateway.store.statements import (
    ATTEMPT_KEYS,
    CALL_KEYS,
    INSERT_ORDER,
    ORDER_COLUMNS,
    STORE_ANSWER,
    STORE_ANSWER_RECORDING,
)
from gateway.telemetry import metrics

log = logging.getLogger("gateway.domain.orders")  # the name operators' log filters know


def new_merchant_order_no() -> str:
    """26 characters: sortable by time for humans, 48 random bits against collisions."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(6)


def get_order(gateway: Gateway, order_id: str, merchant_id: str | None = None) -> Order:
    """The order; ResourceNotFound when there is none, or when it is another merchant's than
    `merchant_id` (None: any merchant's, for operators): another's order is not found, not forbidden."""
    order = None
    if is_resource_id(order_id):
        with gateway.db.transaction() as session:
            order = session.get(Order, order_id)
    if order is None or (merchant_id is not None and order.merchant_id != merchant_id):
        raise ResourceNotFound("order_not_found", f"No order with id {order_id!r}.")
    if order.merchant_id != DEFAULT_MERCHANT_ID:  # the environment's merchant's orders have no attempt records
        order.attempt_list = attempts.of_order(gateway.db, order.id)
    return order


def create_order(
    gateway: Gateway,
    fields: Mapping[str, Any],
    caller_ip: str | None,
    claim: idempotency.Claim | None = None,
    merchant_id: str = DEFAULT_MERCHANT_ID,
) -> Order:
    """`claim`: the idempotency key this request holds, which will name the order (None: no key).

    Routing (gateway.domain.routing) gives the accounts to try, in order. The order goes on to the next
    one only after an outcome that leaves nothing at the provider (`created_nothing`); after a time-out
    or an unclear answer it stays where it is, unknown, as any order does."""
    order_id = str(uuid.uuid4())
    chosen = route(gateway, merchant_id, fields, order_id)
    first = chosen.candidates[0]
    draft = _draft(first.provider, fields, caller_ip, sandbox=gateway.settings.sandbox)
    # The row as a dict of its columns: the `Order` is built once, from what the database answers.
    order = new_order_values(
        id=order_id,
        provider=first.provider.name,
        channel=draft.channel,
        amount=draft.amount,
        currency=draft.currency,
        status=OrderStatus.PENDING.value,
        merchant_order_no=new_merchant_order_no(),
        provider_account=first.provider.account_id,
        merchant_id=merchant_id,
        account_id=first.account_id,
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
        routing_rule=chosen.rule,
        routing_version=chosen.version,
    )
    # Stored before the provider is called. With an Idempotency-Key, the key must name the order in the
    # same commit (a retry after a crash then resumes it); without one, a lone INSERT is enough.
    if claim is None:
        _insert_alone(gateway, order)
    else:
        with gateway.db.transaction() as session:
            session.connection().execute(INSERT_ORDER, order)
            idempotency.attach_resource(session, claim, order_id)
    # The environment's merchant has one account per provider and no routing: no attempt records.
    recorded = merchant_id != DEFAULT_MERCHANT_ID
    shown: list[dict[str, Any]] = []
    candidates = list(chosen.candidates)
    candidate, position = candidates.pop(0), 1
    while True:
        provider = candidate.provider
        attempt = (
            Attempt.begin(order_id, position, candidate.account_id, provider.name, order["merchant_order_no"])
            if recorded
            else None
        )
        request = OrderRequest(
            draft=draft,
            order_id=order_id,
            merchant_order_no=order["merchant_order_no"],
            notify_url=gateway.accounts.notify_url(provider.name, candidate.account_id),
        )
        with instrument.records_held(gateway.db) as calls:  # the call's record goes in with its answer
            try:
                created = instrument.holding(provider.create_order, calls)(request)
            except ProviderError as exc:
                values = attempt.values(exc) if attempt is not None else None
                if values is not None:
                    metrics.count_attempt(provider.name, values["outcome"])
                    _breaker_learns(gateway, candidate.account_id, values["account_fault"])
                    shown.append(attempt_view.shown(values))
                following = _next_able(gateway, candidates, fields, caller_ip) if created_nothing(exc) else None
                if following is None:
                    _refused_or_unknown(gateway, provider, order_id, exc, values)
                    raise provider_failure(provider, exc, "create the order", order_id=order_id) from exc
                log.warning(
                    "%s account %s did not create order %s (%s %s); trying account %s",
                    provider.name, candidate.account_id, order_id, exc.code, exc.message, following[0].account_id,
                )  # fmt: skip
                candidate, draft = following
                position += 1
                _move_to(gateway, order, candidate, values, calls)
                continue
            values = attempt.values(None) if attempt is not None else None
            if values is not None:
                metrics.count_attempt(provider.name, attempts.CREATED)
                gateway.breakers.created(candidate.account_id)
                shown.append(attempt_view.shown(values))
            stored = _record_creation(gateway, order_id, created, calls, values)
            stored.attempt_list = shown
            return stored


def evaluate_route(
    gateway: Gateway, fields: Mapping[str, Any], caller_ip: str | None, merchant_id: str = DEFAULT_MERCHANT_ID
) -> dict[str, Any]:
    """Where an order with these fields would go, checked as `create_order` checks it: no provider is
    called, nothing is stored, no breaker's trial is taken. A split picks for a new order id, as a new
    order would."""
    chosen = route(gateway, merchant_id, fields, str(uuid.uuid4()), dry_run=True)
    _draft(chosen.candidates[0].provider, fields, caller_ip, sandbox=gateway.settings.sandbox)
    return {
        "rule": chosen.rule,
        "version": chosen.version,
        "accounts": [candidate.account_id for candidate in chosen.candidates],
        "skipped": dict(chosen.skipped),
    }


def _breaker_learns(gateway: Gateway, account_id: str, account_fault: bool) -> None:
    if account_fault:
        gateway.breakers.not_created(account_id)
    else:
        gateway.breakers.unclear(account_id)


def _next_able(
    gateway: Gateway, candidates: list[Candidate], fields: Mapping[str, Any], caller_ip: str | None
) -> tuple[Candidate, OrderDraft] | None:
    """The next account that may be tried now (its breaker lets it, its provider takes the order)."""
    while candidates:
        candidate = candidates.pop(0)
        if not gateway.breakers.allow(candidate.account_id):
            continue
        try:
            return candidate, _draft(candidate.provider, fields, caller_ip, sandbox=gateway.settings.sandbox)
        except Invalid:  # another provider's own limits (lengths, options): not for this account
            continue
    return None


def _move_to(
    gateway: Gateway,
    order: dict[str, Any],
    candidate: Candidate,
    left: Mapping[str, Any] | None,
    calls: list[dict[str, Any]],
) -> None:
    """The order (its columns) goes on to `candidate` under a new provider order number; the attempt it
    leaves is recorded in the same commit, so a payment that ever reaches the old number is found (as
    surplus)."""
    moved = {
        "merchant_order_no": new_merchant_order_no(),
        "provider": candidate.provider.name,
        "account_id": candidate.account_id,
        "provider_account": candidate.provider.account_id,
    }
    order.update(moved)
    with gateway.db.transaction() as session:
        connection = session.connection()
        attempts.write(connection, dict(left) if left is not None else None)
        connection.execute(update(ORDERS).where(ORDERS.c.id == order["id"]).values(**moved, updated_at=utcnow()))
        instrument.write_records(connection, calls)
    calls.clear()


def _refused_or_unknown(
    gateway: Gateway, provider: Provider, order_id: str, exc: ProviderError, attempt: Mapping[str, Any] | None = None
) -> None:
    if is_definite_refusal(exc):
        _record_refusal(gateway, order_id, exc, attempt)
        log.warning("%s refused order %s: %s %s", provider.name, order_id, exc.code, exc.message)
    else:  # the provider may still have the order; leave it pending for reconciliation
        if attempt is not None:
            with gateway.db.transaction() as session:
                attempts.write(session.connection(), dict(attempt))
        log.warning("%s create_order for %s: outcome unknown (%s %s)", provider.name, order_id, exc.code, exc.message)


def order_answer(gateway: Gateway, order_id: str, merchant_id: str | None = None) -> Order:
    """The order as its creation request would have answered (for an idempotent resume).

    A request that died mid-way has no provider answer on record: that is reported as an
    unknown outcome, never as a payable order.
    """
    order = get_order(gateway, order_id, merchant_id)
    provider = gateway.provider_of(order)
    if order.status == OrderStatus.FAILED.value:
        refusal = Refused(order.failure_code or "", order.failure_message or "")
        raise provider_failure(provider, refusal, "create the order", order_id=order.id)
    if order.status == OrderStatus.PENDING.value and order.next_action is None and order.pay_params is None:
        raise provider_failure(provider, NoAnswer(), "create the order", order_id=order.id)
    return order


def refresh_order(gateway: Gateway, order_id: str, merchant_id: str | None = None) -> Order:
    """Ask the provider about an unpaid order and settle it like a notify would (`?refresh=true`)."""
    order = get_order(gateway, order_id, merchant_id)
    if order.status in PAID_STATUSES:
        return order
    provider = gateway.provider_of(order)
    require_operation(provider, QUERY)
    require_same_account(provider, order)
    try:
        report = ask_about(provider, order)
    except ProviderError as exc:
        raise provider_failure(provider, exc, "report the order's state", order_id=order.id) from exc
    transitions = Transitions()
    with gateway.db.transaction() as session:
        stored = session.get(Order, order.id)
        verdict, reason = settle_payment(session.connection(), stored, report, transitions)
        found = report.provider_order_id or ""
        # A create whose answer was lost, found unpaid: the order the provider made is named from now on
        # (the API shows it; a later notify naming another one is a mismatch).
        unnamed = stored is not None and stored.provider_order_id is None
        if verdict is Verdict.IGNORED and unnamed and 0 < len(found) <= PROVIDER_ORDER_ID_LENGTH:
            assert stored is not None
            stored.provider_order_id, stored.updated_at = found, utcnow()
    transitions.announce(gateway.hooks)
    if verdict is Verdict.MISMATCH:
        log.error("%s query for order %s does not match it: %s", provider.name, order.id, reason)
    assert stored is not None
    return stored


def other_account(provider: Provider, order: Order) -> str | None:
    """Why `provider` cannot speak for `order`, or None: it is configured for another merchant account at the
    provider than the one the order was made under (its settings changed since). Asked, that account knows no
    such order, which is no answer about it: it must never expire it, nor be asked for its refund."""
    if order.provider_account is None or provider.account_id in (None, order.provider_account):
        return None
    return (
        f"order {order.id} was made under {order.provider} account {order.provider_account}, and {order.provider} "
        f"is now configured for {provider.account_id}: only the former can say what became of it"
    )


def require_same_account(provider: Provider, order: Order) -> None:
    problem = other_account(provider, order)
    if problem is not None:
        raise Conflict("provider_account_changed", problem, order_id=order.id)


def ask_about(provider: Provider, order: Order) -> Notification:
    """The provider's `query_order` answer about `order`. An answer that names another order by its
    reference says nothing about this one, so it is unclear (`OutcomeUnknown`), whatever it says: read
    as this order's, a paid one would pay it and a closed one would expire it. The provider order id is
    compared later, by the payment's own rules; after a lost create answer it is not known yet, and the
    reference is all that says which order an answer is about."""
    report = provider.query_order(order_ref(order))
    if report.merchant_order_no != order.merchant_order_no:
        # The call's own record says "ok" (the plugin answered): this line says why it was not believed.
        log.error("%s answered a query of order %s about another order: a bug in its plugin?", provider.name, order.id)
        raise OutcomeUnknown(
            "answer_about_another_order",
            f"asked about order {order.merchant_order_no}, {provider.name} answered about another order",
        )
    return report


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


_COLUMN_LENGTHS = {column.name: getattr(column.type, "length", None) for column in ORDERS.columns}


def _too_long_for_their_columns(values: Mapping[str, str]) -> dict[str, list[str]]:
    """SQLite stores any length; PostgreSQL refuses what exceeds a column. Refuse it here, naming the field."""
    errors = {}
    for name, value in values.items():
        length = _COLUMN_LENGTHS.get(name)
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


def _record_refusal(
    gateway: Gateway, order_id: str, exc: ProviderError, attempt: Mapping[str, Any] | None = None
) -> None:
    with gateway.db.transaction() as session:
        attempts.write(session.connection(), dict(attempt) if attempt is not None else None)
        stored = session.get(Order, order_id)
        if stored is not None and stored.status == OrderStatus.PENDING.value:
            stored.status = OrderStatus.FAILED.value
            stored.failure_code = exc.code[:64]
            stored.failure_message = exc.message


def _record_creation(
    gateway: Gateway,
    order_id: str,
    created: CreatedOrder,
    calls: list[dict[str, Any]],
    attempt: Mapping[str, Any] | None = None,
) -> Order:
    """The answer, the call's record and the attempt's, in one commit: the order as the response shows it.

    On PostgreSQL one statement in autocommit (UPDATE ... RETURNING with the INSERTs as data-modifying
    CTEs): one round trip where a transaction takes four (BEGIN, UPDATE, INSERT, COMMIT)."""
    assert created.next_action is not None  # CreatedOrder makes one from pay_params
    answer = {
        "order_id": order_id,
        "provider_order_id": created.provider_order_id,
        "pay_params": null() if created.pay_params is None else dict(created.pay_params),  # SQL NULL
        "next_action": created.next_action.as_dict(),
    }
    db = gateway.db
    records = _as_parameters(calls, attempt) if db.engine.dialect.name == "postgresql" else None
    if records is not None:
        statement = db.raw(STORE_ANSWER_RECORDING[(bool(calls), attempt is not None)])
        # updated_at: the column's onupdate, which only SQLAlchemy's own execution fills in.
        parameters = {**answer, "updated_at": utcnow(), **records}
        with db.raw_autocommit() as cursor:
            row = statement.execute(cursor, parameters).fetchone()
        if row is None:
            raise LookupError(f"order {order_id} vanished before its answer was stored")  # none is ever deleted
    else:
        with gateway.db.transaction_connection() as connection:
            row = connection.execute(STORE_ANSWER, answer).one()
            instrument.write_records(connection, calls)
            attempts.write(connection, dict(attempt) if attempt is not None else None)
    calls.clear()  # committed with the answer
    return as_order(row)


def _insert_alone(gateway: Gateway, values: Mapping[str, Any]) -> None:
    """The order's INSERT, its own commit. On PostgreSQL on a DBAPI cursor (`RawStatement`): most of a
    Core INSERT's CPU is SQLAlchemy's own."""
    db = gateway.db
    if db.engine.dialect.name == "postgresql":
        with db.raw_autocommit() as cursor:
            db.raw(INSERT_ORDER, ORDER_COLUMNS).execute(cursor, values)
    else:
        with db.autocommit_connection() as connection:
            connection.execute(INSERT_ORDER, values)


def _as_parameters(calls: list[dict[str, Any]], attempt: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The records as STORE_ANSWER_RECORDING's parameters; None when they are not what it writes (more
    than one call, other keys), for the transaction to write them instead."""
    if len(calls) > 1 or (calls and calls[0].keys() != CALL_KEYS) or (attempt and attempt.keys() != ATTEMPT_KEYS):
        return None
    parameters = {f"call_{key}": value for key, value in calls[0].items()} if calls else {}
    if attempt is not None:
        parameters.update((f"attempt_{key}", value) for key, value in attempt.items())
    return parameters
