"""Watching providers from outside: every API call is timed, counted, logged with its ids and
recorded for the operator console's timeline; every notify verdict is counted.

The provider objects the plugins return are instrumented in place (their API methods are
wrapped on the instance) rather than hidden behind a proxy: a provider keeps its class, its
attributes and every operation the contract may add, and the domain code calling it stays
unaware of metrics, logs and the console.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from gateway.plugin.clock import utcnow
from gateway.plugin.hookspecs import hookimpl
from gateway.plugin.provider import (
    CreatedOrder,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    Provider,
    ProviderError,
    ProviderMisconfigured,
    RefundResult,
    Refused,
    Verdict,
)
from gateway.plugin.settings import MIN_SECRET_LENGTH, Settings
from gateway.plugin.snapshots import OrderSnapshot
from gateway.store.db import Database
from gateway.store.models import PROVIDER_ORDER_ID_LENGTH, PROVIDER_REFUND_ID_LENGTH
from gateway.store.statements import CALL_KEYS, INSERT_PROVIDER_CALL
from gateway.telemetry import logs, metrics

log = logging.getLogger("gateway.instrument")  # the name operators' log filters know

# The contract's calls to a provider's API (the optional ones only where the provider has them).
API_OPERATIONS = ("create_order", "query_order", "refund", "query_refund", "cancel_order", "check")
_MAX_MESSAGE = 500
Record = dict[str, Any]
Sink = Callable[[Record], None]
M = TypeVar("M", bound=Callable[..., Any])


@contextmanager
def records_held(db: Database) -> Iterator[list[Record]]:
    """A list for the records of provider calls made through `holding(method, held)`, so that the caller
    writes them in the transaction it commits next anyway (`write_records`), instead of one more commit
    each. Whatever the caller has not written when the block ends (it failed, say) is written then."""
    held: list[Record] = []
    try:
        yield held
    finally:
        if held:
            _write_alone(db, held)


def holding(method: M, held: list[Record]) -> M:
    """`method`, a provider's API method, recording its call into `held` rather than on its own.

    The record is handed over explicitly: a provider that was not instrumented has nothing to record."""
    hold: Callable[[Sink], M] | None = getattr(method, "recording_into", None)
    return method if hold is None else hold(held.append)


def write_records(connection: Connection, held: list[dict[str, Any]]) -> None:
    """Write the held records in `connection`'s transaction (one INSERT). Empty `held` once that
    transaction has committed: until then, `records_held` still writes them if it fails."""
    if held:
        connection.execute(INSERT_PROVIDER_CALL, list(held))


def instrument_providers(providers: dict[str, Provider], db: Database, settings: Settings) -> None:
    for provider in providers.values():
        instrument(provider, db, secret_values(settings))


def instrument(provider: Provider, db: Database, secrets: Sequence[str] = ()) -> None:
    """Wrap `provider`'s calls; `secrets` are the values of its settings that no error of it, and no log
    line, may show."""
    logs.keep_out(secrets)
    name = provider.name
    for operation in API_OPERATIONS:
        method = getattr(provider, operation, None)
        if callable(method):
            setattr(provider, operation, _timed(name, operation, method, db, secrets))
    provider.verify_notification = _binding_ids(name, provider.verify_notification)  # type: ignore[method-assign]
    provider.acknowledge = _counting_verdicts(name, provider.acknowledge)  # type: ignore[method-assign]


def outcome_of(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    if isinstance(exc, NotSupported):
        return "not_supported"
    if isinstance(exc, OutcomeUnknown):
        return "unknown" if exc.reason == "outcome_unknown" else exc.reason
    if isinstance(exc, NotFound):
        return "not_found"
    if isinstance(exc, Refused):
        return "refused"
    if isinstance(exc, ProviderError):  # of no kind: the core treats it as unknown
        return "unknown"
    return "error"  # a bug in the plugin: the domain code decides what it means


def is_configuration_error(exc: BaseException) -> bool:
    """A refusal that says the gateway is set up wrong (the provider marks it), not that the request was."""
    return isinstance(exc, ProviderMisconfigured)


def _ids_of(operation: str, args: tuple[Any, ...]) -> dict[str, str]:
    """The ids a call is about, read from the contract's request objects."""
    request = args[0] if args else None
    ids: dict[str, object] = {}
    ref = getattr(request, "order", None) or request  # RefundRequest.order, or the OrderRef itself
    ids["merchant_order_no"] = getattr(ref, "merchant_order_no", None) or getattr(request, "merchant_order_no", None)
    ids["provider_order_id"] = getattr(ref, "provider_order_id", None)
    ids["order_id"] = getattr(request, "order_id", None)
    ids["refund_id"] = getattr(request, "refund_id", None)
    return {name: str(value) for name, value in ids.items() if isinstance(value, str) and value}


# A setting holds a secret when its name says so (ACME_SECRET_KEY, ACME_WEBHOOK_SECRET, an API token, a
# password): merchant ids, app ids, paths and addresses an operator needs in an error stay as they are.
_SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSPHRASE|CREDENTIAL|PRIVATE", re.IGNORECASE)


def secret_values(settings: Settings) -> tuple[str, ...]:
    """What a provider's error must never quote: the value of every setting whose name says it holds a key, a
    secret, a token or a password, at least MIN_SECRET_LENGTH characters long (as `Settings.secret` demands of
    one) and not an http(s) address; as set and as the plugin reads it (`Settings.get` strips the newline a
    secret read from a file keeps). Some providers echo the request's credential in their errors, and a
    plugin passes their words on to the merchant, the record and the log; the core takes them out whatever
    the plugin did. Longest first, so that a secret holding another is taken out whole."""
    values: set[str] = set()
    for name, raw in settings.values.items():
        if not isinstance(raw, str) or not _SECRET_NAME.search(name):
            continue
        for value in (raw, raw.strip()):
            if len(value) >= MIN_SECRET_LENGTH and not value.lower().startswith(("http://", "https://")):
                values.add(value)
    return tuple(sorted(values, key=len, reverse=True))


def _timed(
    provider_name: str, operation: str, method: Callable[..., Any], db: Database, secrets: Sequence[str] = ()
) -> Callable[..., Any]:
    """`method` timed, counted, logged and recorded: on its own by default, or through `recording_into(sink)`."""

    def write_alone(record: Record) -> None:
        _write_alone(db, [record])

    call = _timed_into(provider_name, operation, method, write_alone, secrets)
    call.recording_into = functools.partial(  # type: ignore[attr-defined]
        _timed_into, provider_name, operation, method, secrets=secrets
    )
    return call


def _timed_into(
    provider_name: str, operation: str, method: Callable[..., Any], sink: Sink, secrets: Sequence[str] = ()
) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        ids = _ids_of(operation, args)
        logs.bind(provider=provider_name, **ids)
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            return _storable(method(*args, **kwargs))
        except BaseException as exc:
            error = exc
            if isinstance(exc, ProviderError):
                _mend(exc)
                _scrub(exc, secrets)
            raise
        finally:
            seconds = time.perf_counter() - started
            outcome = outcome_of(error)
            metrics.PROVIDER_CALLS.labels(provider_name, operation, outcome).inc()
            if outcome != "not_supported":
                metrics.PROVIDER_CALL_SECONDS.labels(provider_name, operation).observe(seconds)
            if error is not None and is_configuration_error(error):
                metrics.PROVIDER_CONFIGURATION_ERRORS.labels(provider_name, operation).inc()
                log.error("%s refused the gateway's configuration on %s: %s", provider_name, operation, error)
            if operation == "create_order" and outcome in ("ok", "refused"):
                status = "pending" if outcome == "ok" else "failed"
                metrics.ORDER_TRANSITIONS.labels(provider_name, status).inc()
            if operation == "refund" and outcome not in ("ok", "refused", "not_supported", "error"):
                metrics.REFUNDS.labels(provider_name, "unknown").inc()
            log.info("%s %s: %s in %.0f ms", provider_name, operation, outcome, seconds * 1000)
            if outcome != "not_supported" and operation != "check":
                sink(_record(provider_name, operation, outcome, error, seconds, ids))

    return call


def _storable(result: Any) -> Any:
    """A plugin's answer, if the record can hold it. A provider id past its column would fail the write that
    records the answer (on PostgreSQL; SQLite takes it), a 500 after the provider acted: the answer is
    unclear instead, and the order or refund stays pending or unknown for reconciliation to settle."""
    if isinstance(result, CreatedOrder) and len(result.provider_order_id or "") > PROVIDER_ORDER_ID_LENGTH:
        raise OutcomeUnknown("unstorable_answer", f"a provider order id past {PROVIDER_ORDER_ID_LENGTH} characters")
    if isinstance(result, RefundResult) and len(result.provider_refund_id or "") > PROVIDER_REFUND_ID_LENGTH:
        raise OutcomeUnknown("unstorable_answer", f"a provider refund id past {PROVIDER_REFUND_ID_LENGTH} characters")
    return result


def _mend(error: ProviderError) -> None:
    """Give a plugin's error text where it has none: the core slices, logs, stores and answers `code` and
    `message`, typed `str`, and a plugin that left either `None` (or gave a number) must not turn a
    provider's answer into a 500 for the merchant."""
    for name in ("code", "message"):
        value = getattr(error, name, None)
        if not isinstance(value, str):
            # A plugin's error class with read-only fields is left as it is.
            with contextlib.suppress(AttributeError, TypeError):
                setattr(error, name, as_text(value))


def _scrub(error: ProviderError, secrets: Sequence[str]) -> None:
    """Take every one of `secrets`, in any case, out of the error's code and message, and out of its text
    (`str(error)`, which log lines and tracebacks show) even where a plugin changed its message alone."""
    if not secrets:
        return
    pattern = re.compile("|".join(re.escape(secret) for secret in secrets), re.IGNORECASE)
    for name in ("code", "message"):
        value = getattr(error, name, None)
        if isinstance(value, str) and pattern.search(value):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(error, name, pattern.sub("[secret]", value))
    if any(isinstance(arg, str) and pattern.search(arg) for arg in error.args):
        error.args = tuple(pattern.sub("[secret]", arg) if isinstance(arg, str) else arg for arg in error.args)


def as_text(value: object) -> str:
    """A plugin's value where the contract says text: None as empty text, anything else as `str` gives it."""
    return "" if value is None else str(value)


def _record(
    provider_name: str,
    operation: str,
    outcome: str,
    error: BaseException | None,
    seconds: float,
    ids: dict[str, str],
) -> Record:
    code = getattr(error, "code", None) if isinstance(error, ProviderError) else None
    message = getattr(error, "message", None) if isinstance(error, ProviderError) else None
    return {
        "provider": provider_name,
        "operation": operation,
        "outcome": outcome,
        "code": str(code)[:64] if code else None,
        "message": str(message)[:_MAX_MESSAGE] if message else None,
        "duration_ms": round(seconds * 1000),
        "merchant_order_no": ids.get("merchant_order_no"),
        "refund_id": ids.get("refund_id"),
        "request_id": logs.bound().get("request_id"),
        "created_at": utcnow(),
    }


_CALL_COLUMNS = tuple(sorted(CALL_KEYS))  # what `_record` gives


def _write_alone(db: Database, records: list[dict[str, Any]]) -> None:
    try:
        if len(records) == 1 and db.engine.dialect.name == "postgresql":
            # A confirmed notify's query writes one: on a pooled cursor, without SQLAlchemy's execution
            # (its CPU is most of this INSERT's). On PostgreSQL `writing()` takes nothing.
            with db.raw_autocommit() as cursor:  # one INSERT, its own commit
                db.raw(INSERT_PROVIDER_CALL, _CALL_COLUMNS).execute(cursor, records[0])
            return
        with db.autocommit_connection() as connection:  # one INSERT, its own commit
            connection.execute(INSERT_PROVIDER_CALL, records)
    except SQLAlchemyError:
        # The timeline is for people; the payment it describes must not fail because of it.
        log.exception("could not record %d provider call(s) for the console", len(records))


def _binding_ids(provider_name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def verify(*args: Any, **kwargs: Any) -> Any:
        logs.bind(provider=provider_name)
        notification = method(*args, **kwargs)
        logs.bind(
            merchant_order_no=getattr(notification, "merchant_order_no", None),
            provider_order_id=getattr(notification, "provider_order_id", None),
            event_id=getattr(notification, "event_id", None),
        )
        return notification

    return verify


def _counting_verdicts(provider_name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """The pipeline acknowledges every notify exactly once, with its verdict: the place to count them."""

    @functools.wraps(method)
    def acknowledge(verdict: Verdict, *args: Any, **kwargs: Any) -> Any:
        metrics.NOTIFICATIONS.labels(provider_name, getattr(verdict, "value", str(verdict))).inc()
        return method(verdict, *args, **kwargs)

    return acknowledge


class LifecycleMetrics:
    """Counts committed state changes through the lifecycle hooks every plugin can see."""

    @hookimpl
    def gateway_order_paid(self, order: OrderSnapshot) -> None:
        metrics.ORDER_TRANSITIONS.labels(order.provider, order.status).inc()

    @hookimpl
    def gateway_order_expired(self, order: OrderSnapshot) -> None:
        metrics.ORDER_TRANSITIONS.labels(order.provider, order.status).inc()

    @hookimpl
    def gateway_refund_succeeded(self, refund: Mapping[str, Any], order: OrderSnapshot) -> None:
        metrics.REFUNDS.labels(order.provider, "succeeded").inc()
        metrics.ORDER_TRANSITIONS.labels(order.provider, order.status).inc()

    @hookimpl
    def gateway_refund_failed(self, refund: Mapping[str, Any], order: OrderSnapshot) -> None:
        metrics.REFUNDS.labels(order.provider, "failed").inc()
