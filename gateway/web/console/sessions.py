"""Console sessions kept on the server, so that logging out ends one for every worker.

The browser's (signed) cookie holds a random token; the database holds only its SHA-256, the
admin key's fingerprint and an absolute expiry (GATEWAY_CONSOLE_SESSION_HOURS after the login,
however active the session). A cookie whose row is gone (logged out, expired, or its key
removed) opens nothing, even though its signature is still good.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete

from gateway.plugin.clock import as_utc, utcnow
from gateway.plugin.settings import ConfigError, Settings
from gateway.store.db import Database
from gateway.store.models import ConsoleSession

VARIABLE = "GATEWAY_CONSOLE_SESSION_HOURS"
DEFAULT_HOURS = 8
MAX_HOURS = 168


def lifetime(settings: Settings) -> timedelta:
    hours = settings.count(VARIABLE, DEFAULT_HOURS, maximum=MAX_HOURS)
    if hours < 1:
        raise ConfigError(VARIABLE, f"must be a whole number of hours from 1 to {MAX_HOURS}")
    return timedelta(hours=hours)


def start(db: Database, fingerprint: str, settings: Settings) -> str:
    """A new session for the key with `fingerprint`; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.transaction() as session:
        session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))  # the expired go here
        session.add(
            ConsoleSession(
                token_digest=_digest(token), admin=fingerprint, created_at=now, expires_at=now + lifetime(settings)
            )
        )
    return token


def holder(db: Database, token: object) -> str | None:
    """The fingerprint of the key whose live session `token` is; None when it is none (or expired)."""
    if not isinstance(token, str) or not token:
        return None
    with db.autocommit() as session:
        row = session.get(ConsoleSession, _digest(token))
        if row is None:
            return None
        expires_at = as_utc(row.expires_at)
        return row.admin if expires_at is not None and expires_at > utcnow() else None


def end(db: Database, token: object) -> None:
    if isinstance(token, str) and token:
        with db.transaction() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.token_digest == _digest(token)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
