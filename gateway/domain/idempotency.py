"""Idempotency keys for requests that create something (orders, refunds): the state behind them.

The same key with the same body gets the first response again (header `Idempotent-Replayed:
true`) without running the view a second time; the same key with another body is a 422; the same
key while its first request still runs is a 409. State lives in the `idempotency_keys` table, so
every gunicorn worker and every instance on the same database sees the same keys.

A key is claimed by inserting its row before the view runs; the row carries a lease
(`locked_until`) so that a request whose process died mid-way does not block its key forever: once
the lease has run out, a retry takes the key over. If the dead request had already recorded what it
created (`attach_resource`, in the same transaction as the creation), the retry answers with that
resource as it is now instead of creating a second one.

The HTTP side (the `Idempotency-Key` header, replaying a stored answer) is gateway.web.idempotent;
a service that creates something takes the request's `Claim` as an argument and calls
`attach_resource` with it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.domain.errors import Conflict, Invalid
from gateway.plugin import clock
from gateway.store.db import Database
from gateway.store.models import IdempotencyKey

log = logging.getLogger("gateway.idempotency")  # the name operators' log filters know

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


@dataclass(frozen=True)
class Claim:
    """A request holds the key's row: `token` is the lease it wrote, proof that it still owns it."""

    row_id: int
    token: datetime
    resume_resource: str | None = None  # taken over from a dead request that had created this


@dataclass(frozen=True)
class StoredAnswer:
    """The answer a finished request with the same key and body got, to be given again."""

    status: int
    body: str


def attach_resource(session: Session, claim: Claim | None, resource_id: str) -> None:
    """Record, in `session`'s transaction, what the claimed request is creating (no-op without a claim).

    Call it in the transaction that stores the resource, before any provider call: then the key
    names the resource exactly when the resource exists, and a retry after a crash resumes it
    instead of creating it again.
    """
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


# -- claiming, finishing, releasing --------------------------------------------------------------


def claim(db: Database, scope: str, key: str, request_hash: str) -> Claim | StoredAnswer:
    """Take the key for this request, or the answer stored for it; Conflict or Invalid when neither."""
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
                return Claim(row_id, token)
            row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key))
            if row is None:
                continue
            if row.request_hash != request_hash:
                raise Invalid(
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with a different request body; use a new key for a new request.",
                )
            if row.status == DONE:
                log.info("idempotency key replayed (row %s)", row.id)
                return StoredAnswer(status=row.response_status or 200, body=row.response_body or "")
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
            return Claim(row.id, token, resume_resource=row.resource_id)
    raise _in_progress()


def _in_progress() -> Conflict:
    return Conflict(
        "idempotency_key_in_progress",
        "A request with this Idempotency-Key is still in progress; retry after it has finished.",
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


def finish(db: Database, claim: Claim, status: int, body: str, *, refused: bool) -> None:
    """Store the answer (`status`, `body`) the request got, to be replayed for its key.

    `refused`: the request was turned down without effect (invalid fields, not found, conflict);
    then the key is forgotten instead, unless something was created under it, so the client can fix
    the request and send it again under the same key.
    """
    with db.transaction() as session:
        if refused:
            forgotten = session.execute(
                delete(IdempotencyKey).where(*_owned(claim), IdempotencyKey.resource_id.is_(None))
            )
            if forgotten.rowcount == 1:  # type: ignore[attr-defined]
                return
        # Success, a provider failure (the order or refund created stays on record, and the body
        # names it), or a refusal after something was created: this is the answer for good.
        stored = session.execute(
            update(IdempotencyKey)
            .where(*_owned(claim))
            .values(
                status=DONE,
                response_status=status,
                response_body=body,
                locked_until=None,
            )
        )
        if stored.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("idempotency key row %s was taken over before its request finished", claim.row_id)


def abandon(db: Database, claim: Claim) -> None:
    """The request failed without an answer to store: free the key (keep it if it names a resource)."""
    with db.transaction() as session:
        deleted = session.execute(delete(IdempotencyKey).where(*_owned(claim), IdempotencyKey.resource_id.is_(None)))
        if deleted.rowcount != 1:  # type: ignore[attr-defined]
            # A retry takes over at once and resumes the resource (instead of 409 until the lease ends).
            session.execute(update(IdempotencyKey).where(*_owned(claim)).values(locked_until=clock.utcnow()))


def _owned(claim: Claim) -> tuple[Any, ...]:
    return (IdempotencyKey.id == claim.row_id, IdempotencyKey.locked_until == claim.token)
