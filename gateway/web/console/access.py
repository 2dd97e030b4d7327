"""Who may use the console: admin keys, the session cookie, and CSRF tokens.

Admin keys (GATEWAY_ADMIN_KEYS) are separate from API keys: a checkout backend's key never
opens the console. Each entry is `label=key` or just `key`; a person is shown and audited as
the label plus a fingerprint (the first 8 hex digits of the key's SHA-256), never the key.

The session cookie is signed with a secret derived from the admin keys, so every gunicorn
worker agrees on it without another setting, and removing a key ends its sessions. It only
carries a token: the session itself is a database row (gateway.web.console.sessions), so
logging out ends it everywhere and it ends GATEWAY_CONSOLE_SESSION_HOURS after the login. Every form
carries a per-session CSRF token, compared in constant time; the cookie is HttpOnly,
SameSite=Strict and, behind https, Secure.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from flask import Flask, abort, request, session

from gateway.plugin.settings import ConfigError, Settings
from gateway.store.db import Database
from gateway.web.console import sessions

VARIABLE = "GATEWAY_ADMIN_KEYS"
MIN_KEY_LENGTH = 16
_LABEL = re.compile(r"[A-Za-z0-9_.-]{1,40}")


@dataclass(frozen=True, repr=False)
class AdminKey:
    label: str
    fingerprint: str
    key: str

    def __repr__(self) -> str:
        return f"AdminKey({self.who!r})"

    @property
    def who(self) -> str:
        """How the key's holder appears in the audit trail and on every page."""
        return f"{self.label} ({self.fingerprint})" if self.label else f"key {self.fingerprint}"


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def admin_keys(settings: Settings) -> list[AdminKey]:
    found = []
    for entry in settings.names(VARIABLE):
        label, sep, key = entry.partition("=")
        if not sep:
            label, key = "", entry
        elif not _LABEL.fullmatch(label):
            raise ConfigError(VARIABLE, "a label (before '=') must be 1 to 40 letters, digits, '_', '.' or '-'")
        if len(key) < MIN_KEY_LENGTH:
            raise ConfigError(VARIABLE, f"every admin key must be at least {MIN_KEY_LENGTH} characters")
        found.append(AdminKey(label=label, fingerprint=fingerprint(key), key=key))
    return found


def configure_sessions(app: Flask, settings: Settings) -> None:
    keys = admin_keys(settings)
    if keys:
        material = "\n".join(sorted(key.key for key in keys)).encode("utf-8")
        app.secret_key = hmac.new(material, b"gateway console session", hashlib.sha256).hexdigest()
    app.config.update(
        SESSION_COOKIE_NAME="gateway_console",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=sessions.lifetime(settings),
        SESSION_REFRESH_EACH_REQUEST=False,  # the cookie ends with its session, not later
    )


def match(keys: list[AdminKey], presented: str) -> AdminKey | None:
    """The key `presented` is, compared against every key without stopping early."""
    found = None
    for key in keys:
        if hmac.compare_digest(presented.encode("utf-8"), key.key.encode("utf-8")):
            found = key
    return found


def log_in(key: AdminKey, db: Database, settings: Settings) -> None:
    session.clear()  # a new session: nothing from before the login survives
    session.permanent = True
    session["sid"] = sessions.start(db, key.fingerprint, settings)
    session["csrf"] = secrets.token_urlsafe(32)


def log_out(db: Database) -> None:
    sessions.end(db, session.get("sid"))
    session.clear()


def current_admin(keys: list[AdminKey], db: Database) -> AdminKey | None:
    """The logged-in admin: a live session on the server, for a key that is still configured."""
    wanted = sessions.holder(db, session.get("sid")) if keys else None
    return next((key for key in keys if key.fingerprint == wanted), None) if wanted else None


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf() -> None:
    """Every POST must carry the session's token; anything else is refused before it acts."""
    expected = session.get("csrf")
    presented = request.form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(str(expected).encode(), presented.encode("utf-8", "replace")):
        abort(400, description="The form has expired or did not come from this console. Reload the page and retry.")
