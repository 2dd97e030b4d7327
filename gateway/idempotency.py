"""Idempotency-Key for POST endpoints that create something (orders, refunds).

The same key with the same body gets the first response again (header `Idempotent-Replayed:
true`) without running the view a second time; the same key with another body is a 422; the same
key while its first request still runs is a 409. State lives in the `idempotency_keys` table, so
every gunicorn worker and every instance on the same database sees the same keys.

A key is claimed by inserting its row before the view runs; the row carries a lease
(`locked_until`) so that a request whose process died mid-way does not block its key forever: once
the lease has run out, a retry takes the key over. If the dead request had already recorded what it
created (`attach_resource`, in the same transaction as the creation), the retry answers with that
resource as it is now instead of creating a second one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, overload

from flask import Response, current_app, g, has_app_context, request
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway import clock
from gateway.core import current_gateway
from gateway.db import Database
from gateway.models import IdempotencyKey
from gateway.views.errors import ApiError, error_response

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)
# The lease must outlast any live request, or a retry would take over a request that is still
# running. The core cannot know each provider's timeout, so this is a constant above the longest one
# settings allow (600 s per provider call, plus database work). The price of a long lease is paid
# only when a process dies mid-request: retries of that one key get 409 until the lease runs out.
LEASE = timedelta(minutes=15)
# Longer paths (only possible with absurd URL values) are hashed to fit the 255-character scope column.
_MAX_SCOPE_PATH = 150

IN_PROGRESS = "in_progress"
DONE = "done"

_G_CLAIM = "idempotency_claim"

Resume = Callable[[str], ResponseReturnValue]


@dataclass(frozen=True)
class _Claim:
    """This request holds the key's row: `token` is the lease it wrote, proof that it still owns it."""

    row_id: int
    token: datetime
    resume_resource: str | None = None  # taken over from a dead request that had created this


# -- the decorator -------------------------------------------------------------------------------


View = Callable[..., Any]


@overload
def idempotent(view: View, /) -> View: ...
@overload
def idempotent(*, resume: Resume | None = None) -> Callable[[View], View]: ...
def idempotent(view: View | None = None, /, *, resume: Resume | None = None) -> View | Callable[[View], View]:
    """Honour an Idempotency-Key header on a flask-smorest MethodView method: `@idempotent` or
    `@idempotent(resume=...)`, above `@blp.arguments` and `@blp.response`.

    Outermost, because it must claim the key (and answer 409/422 or replay) before the body is
    validated, and store the response exactly as the client got it, which only exists once
    `@blp.response` has serialized the view's result. A validation error (webargs' 422) reaches it
    as an exception, after which the key is released for a corrected retry.

    `resume(resource_id)` answers a retry that takes over the key of a request that died after
    recording (`attach_resource`) what it created: the current representation of that resource,
    as anything a Flask view may return. Without `resume` such a retry runs the view again, which
    creates a second resource.
    """
    if view is None:
        return lambda view: _decorate(view, resume)
    return _decorate(view, resume)


def _decorate(view: View, resume: Resume | None) -> View:
    @wraps(view)  # copies flask-smorest's `_apidoc` too: the OpenAPI document keeps the view's body and answers
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        key = request.headers.get(HEADER)
        if key is None:
            return current_app.ensure_sync(view)(*args, **kwargs)  # type: ignore[no-any-return]
        _check_key(key)
        db = current_gateway().db
        outcome = _claim(db, _scope(), key, body_hash(request.get_data(cache=True)))
        if isinstance(outcome, Response):
            return outcome
        return _run(db, outcome, view, resume, args, kwargs)

    # `doc` is a staticmethod of flask-smorest's Blueprint: no blueprint needed. Its `parameters`
    # replace the operation's own, of which JSON-body POSTs have none (the body is `requestBody`,
    # path parameters are documented on the path).
    documented: View = Blueprint.doc(parameters=[_HEADER_DOC])(wrapper)
    return documented


_HEADER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    "description": (
        "A unique value per operation (a UUID), kept for at least 24 hours. Retrying with the same key and "
        "body replays the first response (header Idempotent-Replayed: true) instead of doing it twice. "
        "The same key with another body: 422 idempotency_key_reused; while the first request still runs: "
        "409 idempotency_key_in_progress; empty, over 255 characters or not printable ASCII: 400 "
        "invalid_idempotency_key."
    ),
}


def attach_resource(session: Session, resource_id: str) -> None:
    """Record, in `session`'s transaction, what the request in flight is creating (no-op without a key).

    Call it in the transaction that stores the resource, before any provider call: then the key
    names the resource exactly when the resource exists, and a retry after a crash resumes it
    instead of creating it again.
    """
    claim: _Claim | None = g.get(_G_CLAIM) if has_app_context() else None
    if claim is None:
        return
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claim.row_id, IdempotencyKey.locked_until == claim.token)
        .values(resource_id=resource_id)
    )


def purge_expired(db: Database, older_than: timedelta = RETENTION) -> int:
    """Delete keys created more than `older_than` ago; the number deleted.

    Finished keys, and also unfinished ones whose lease ran out long ago (their process died
    and nobody retried): those would otherwise stay forever. A key whose lease still runs is kept.
    """
    now = clock.utcnow()
    with db.transaction() as session:
        result = session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.created_at < now - older_than,
                or_(IdempotencyKey.status == DONE, IdempotencyKey.locked_until < now),
            )
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- what identifies a request -------------------------------------------------------------------


def scope_of(method: str, path: str, api_key: str | None) -> str:
    """Who (a hash of the API key, never the key) and which endpoint, with its URL values."""
    if len(path) > _MAX_SCOPE_PATH:
        path = "sha256:" + hashlib.sha256(path.encode()).hexdigest()
    client = hashlib.sha256(api_key.encode()).hexdigest() if api_key else "anonymous"
    return f"{method} {path} {client}"


def body_hash(raw: bytes) -> str:
    """SHA-256 of the body's canonical JSON (so spacing and key order do not matter), else of its bytes."""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):  # not JSON (or not UTF-8, or absurdly deep): compare the bytes
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


def _scope() -> str:
    api_key = None
    if current_gateway().settings.names("GATEWAY_API_KEYS"):
        # Parsed as gateway.auth does; its before_request hook has already accepted this key.
        api_key = request.headers.get("Authorization", "").partition(" ")[2].strip()
    return scope_of(request.method, request.path, api_key)


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            {HEADER: ["must be 1 to 255 printable ASCII characters"]},
        )


# -- claiming, finishing, releasing --------------------------------------------------------------


def _claim(db: Database, scope: str, key: str, request_hash: str) -> _Claim | Response:
    """Take the key for this request, or answer from what the row says; ApiError for 409/422."""
    for _ in range(3):  # a row deleted between our insert and our look (its request failed) is retried
        now = clock.utcnow()
        token = now + LEASE
        with db.transaction() as session:
            row_id = _insert_unless_present(
                session,
                scope=scope,
                key=key,
                request_hash=request_hash,
                status=IN_PROGRESS,
                locked_until=token,
                created_at=now,
            )
            if row_id is not None:
                return _Claim(row_id, token)
            row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key))
            if row is None:
                continue
            if row.request_hash != request_hash:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    f"This {HEADER} was used with a different request body; use a new key for a new request.",
                )
            if row.status == DONE:
                log.info("idempotency key replayed (row %s)", row.id)
                return _replay(row)
            locked_until = clock.as_utc(row.locked_until)
            if locked_until is not None and locked_until > now:
                raise _in_progress()
            # The lease ran out: the process handling the first request died. Take the key over, unless
            # another retry has just done so.
            taken = session.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.id == row.id,
                    IdempotencyKey.status == IN_PROGRESS,
                    or_(IdempotencyKey.locked_until.is_(None), IdempotencyKey.locked_until < now),
                )
                .values(locked_until=token)
                # `row` is in this session: without this, SQLAlchemy would compare SQLite's naive
                # datetimes with `now` in Python to update it, and fail. It is not used afterwards.
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise _in_progress()
            log.warning("idempotency key taken over after its lease ran out (row %s)", row.id)
            return _Claim(row.id, token, resume_resource=row.resource_id)
    raise _in_progress()


def _in_progress() -> ApiError:
    return ApiError(
        409,
        "idempotency_key_in_progress",
        f"A request with this {HEADER} is still in progress; retry after it has finished.",
    )


def _insert_unless_present(session: Session, **values: Any) -> int | None:
    """INSERT the row; its id, or None when (scope, key) is taken."""
    # ON CONFLICT DO NOTHING rather than catching IntegrityError: a unique violation would fail the
    # transaction and log an ERROR on the PostgreSQL server for every ordinary retry. PostgreSQL waits
    # for a concurrent uncommitted insert of the same key, then does nothing if that one committed.
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(IdempotencyKey).values(**values)
    row_id: int | None = session.scalar(
        statement.on_conflict_do_nothing(index_elements=["scope", "key"]).returning(IdempotencyKey.id)
    )
    return row_id


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.response_body or "", status=row.response_status or 200, mimetype="application/json")
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _run(
    db: Database,
    claim: _Claim,
    view: Callable[..., Any],
    resume: Resume | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Response:
    setattr(g, _G_CLAIM, claim)
    try:
        if claim.resume_resource is not None and resume is not None:
            result = resume(claim.resume_resource)
        else:
            result = current_app.ensure_sync(view)(*args, **kwargs)
        response = current_app.make_response(result)
    except ApiError as exc:
        # Rendered here rather than by the app's handler (same function), so that it can be stored.
        response = error_response(exc)
    except BaseException:
        # Nothing to store: webargs' validation errors and unexpected failures. If the request had
        # created something, the key must keep naming it, so only the lease is given up; otherwise
        # the row goes, and the client may retry with the same key.
        _abandon(db, claim)
        raise
    finally:
        g.pop(_G_CLAIM, None)
    _finish(db, claim, response)
    return response


def _finish(db: Database, claim: _Claim, response: Response) -> None:
    with db.transaction() as session:
        if 400 <= response.status_code < 500:
            # A refusal that changed nothing (invalid fields, not found, conflict): forget the key, so
            # the client can fix the request and send it again under the same key, as Stripe allows.
            forgotten = session.execute(
                delete(IdempotencyKey).where(*_owned(claim), IdempotencyKey.resource_id.is_(None))
            )
            if forgotten.rowcount == 1:  # type: ignore[attr-defined]
                return
        # Success, a 5xx (502/504: the order or refund created stays on record, and the body names
        # it), or a 4xx after something was created: this is the answer for good.
        stored = session.execute(
            update(IdempotencyKey)
            .where(*_owned(claim))
            .values(
                status=DONE,
                response_status=response.status_code,
                response_body=response.get_data(as_text=True),
                locked_until=None,
            )
        )
        if stored.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("idempotency key row %s was taken over before its request finished", claim.row_id)


def _abandon(db: Database, claim: _Claim) -> None:
    with db.transaction() as session:
        deleted = session.execute(delete(IdempotencyKey).where(*_owned(claim), IdempotencyKey.resource_id.is_(None)))
        if deleted.rowcount != 1:  # type: ignore[attr-defined]
            # A retry takes over at once and resumes the resource (instead of 409 until the lease ends).
            session.execute(update(IdempotencyKey).where(*_owned(claim)).values(locked_until=clock.utcnow()))


def _owned(claim: _Claim) -> tuple[Any, ...]:
    return (IdempotencyKey.id == claim.row_id, IdempotencyKey.locked_until == claim.token)
