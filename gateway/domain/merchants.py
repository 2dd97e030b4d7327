"""Merchants and their API keys.

A key is a high-entropy token shown once; only its SHA-256 is stored, so a copy of the database
opens nothing. (A slow hash buys nothing for 190 random bits, and would cost every request.) The
environment-configured merchant (DEFAULT_MERCHANT_ID) keeps GATEWAY_API_KEYS, compared in the
process and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.core import Gateway
from gateway.domain.credentials import required_vault
from gateway.domain.errors import Conflict, ResourceNotFound, invalid_fields
from gateway.plugin.clock import utcnow
from gateway.plugin.settings import ConfigError, Settings
from gateway.store.models import DEFAULT_MERCHANT_ID, ApiKey, Merchant, storable

SCOPES = ("orders:write", "orders:read", "refunds:write")
TOKEN_PREFIX = "gwk_"  # says what a leaked string is, to its finder and to secret scanners
MAX_NAME = 80


@dataclass(frozen=True)
class Caller:
    """Who sent an API request: a merchant and what its key may do."""

    merchant_id: str
    scopes: frozenset[str]
    key_id: str | None = None  # None: a GATEWAY_API_KEYS key, or no key (an open sandbox)


ENVIRONMENT_CALLER = Caller(DEFAULT_MERCHANT_ID, frozenset(SCOPES))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def authenticate(gateway: Gateway, token: str) -> Caller | None:
    """The caller a stored key belongs to; None for an unknown or revoked key (one indexed read)."""
    digest = token_digest(token)
    with gateway.db.autocommit() as session:
        row = session.execute(
            select(ApiKey.id, ApiKey.merchant_id, ApiKey.scopes, ApiKey.token_digest).where(
                ApiKey.token_digest == digest, ApiKey.revoked_at.is_(None)
            )
        ).first()
    # The lookup is by digest; comparing the digests again in constant time costs nothing.
    if row is None or not hmac.compare_digest(row.token_digest, digest):
        return None
    return Caller(row.merchant_id, frozenset(row.scopes.split()), row.id)


def create_merchant(gateway: Gateway, name: str) -> tuple[Merchant, str]:
    """A new merchant and its first API key (all scopes); the token is returned, never stored."""
    name = _name(name)
    with gateway.db.transaction() as session:
        if session.scalar(select(Merchant.id).where(Merchant.name == name)) is not None:
            raise Conflict("merchant_exists", f"A merchant named {name!r} already exists.")
        merchant = Merchant(id=str(uuid.uuid4()), name=name, created_at=utcnow())
        session.add(merchant)
        session.flush()
        _, token = _add_key(session, merchant.id, SCOPES)
    return merchant, token


def list_merchants(gateway: Gateway) -> Sequence[Merchant]:
    with gateway.db.autocommit() as session:
        return list(session.scalars(select(Merchant).order_by(Merchant.created_at, Merchant.id)))


def get_merchant(gateway: Gateway, merchant_id: str) -> Merchant:
    with gateway.db.autocommit() as session:
        merchant = session.get(Merchant, merchant_id) if storable(merchant_id) else None
    if merchant is None:
        raise ResourceNotFound("merchant_not_found", f"No merchant with id {merchant_id!r}.")
    return merchant


def set_webhook(gateway: Gateway, merchant_id: str, url: str) -> str:
    """Point the merchant's webhooks at `url` with a new signing secret, returned once (stored encrypted)."""
    if not url.startswith(("https://", "http://")) or len(url) > 2048 or any(c.isspace() for c in url):
        raise invalid_fields({"url": ["must be an http(s) URL of at most 2048 characters, without spaces"]})
    # GATEWAY_WEBHOOK_URL's rule: https, or plain http only to this machine (or in the sandbox, or with
    # GATEWAY_ALLOW_PLAIN_HTTP=1); never a link-local or metadata address.
    as_setting = Settings({**gateway.settings.values, "GATEWAY_WEBHOOK_URL": url}, gateway.settings.instance_path)
    try:
        as_setting.service_url("GATEWAY_WEBHOOK_URL", url)
    except ConfigError as exc:
        raise invalid_fields({"url": [str(exc).split(": ", 1)[-1]]}) from None
    vault = required_vault(gateway.settings)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with gateway.db.transaction() as session:
        merchant = session.get(Merchant, merchant_id) if storable(merchant_id) else None
        if merchant is None:
            raise ResourceNotFound("merchant_not_found", f"No merchant with id {merchant_id!r}.")
        merchant.webhook_url = url
        merchant.webhook_secret = vault.encrypt(secret)
    return secret


def create_key(gateway: Gateway, merchant_id: str, scopes: Iterable[str] = SCOPES) -> tuple[ApiKey, str]:
    wanted = tuple(dict.fromkeys(scopes)) or SCOPES
    unknown = [scope for scope in wanted if scope not in SCOPES]
    if unknown:
        raise invalid_fields({"scope": [f"unknown scope {unknown[0]!r}; scopes: {', '.join(SCOPES)}"]})
    with gateway.db.transaction() as session:
        if not storable(merchant_id) or session.get(Merchant, merchant_id) is None:
            raise ResourceNotFound("merchant_not_found", f"No merchant with id {merchant_id!r}.")
        return _add_key(session, merchant_id, wanted)


def revoke_key(gateway: Gateway, key_id: str) -> ApiKey:
    with gateway.db.transaction() as session:
        key = session.get(ApiKey, key_id) if storable(key_id) else None
        if key is None:
            raise ResourceNotFound("key_not_found", f"No API key with id {key_id!r}.")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
    return key


def _add_key(session: Session, merchant_id: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=str(uuid.uuid4()),
        merchant_id=merchant_id,
        token_digest=token_digest(token),
        scopes=" ".join(scopes),
        created_at=utcnow(),
    )
    session.add(key)
    return key, token


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise invalid_fields({"name": [f"must be 1 to {MAX_NAME} printable characters"]})
    return name
