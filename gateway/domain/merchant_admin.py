"""Administering merchants, their API keys and provider accounts, as JSON documents.

`gateway merchants|keys|accounts` (gateway.ops.merchants_cli) and the admin API (/v1/admin,
gateway.web.admin) both answer with these documents, so an operator's script reads the same JSON
from either. A secret (an API key, a webhook secret) is in the document of the call that creates
it, once, and in no other: account settings are never shown, not even to an admin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from gateway.domain import merchants
from gateway.domain.accounts import DEFAULT_GRACE
from gateway.domain.core import Gateway
from gateway.plugin.clock import as_utc
from gateway.store.models import DEFAULT_MERCHANT_ID, ProviderAccount, default_account_id

Document = dict[str, Any]


def create_merchant(gateway: Gateway, name: str) -> Document:
    """A new merchant and its first API key (every scope), shown this once."""
    merchant, token = merchants.create_merchant(gateway, name)
    return {"id": merchant.id, "name": merchant.name, "api_key": token}


def list_merchants(gateway: Gateway) -> list[Document]:
    """Every merchant (the environment-configured one is `default`). No secret."""
    return [
        {"id": merchant.id, "name": merchant.name, "webhook_url": merchant.webhook_url}
        for merchant in merchants.list_merchants(gateway)
    ]


def set_webhook(gateway: Gateway, merchant_id: str, url: str) -> Document:
    """Point the merchant's webhooks at `url` with a new signing secret, shown this once."""
    secret = merchants.set_webhook(gateway, merchant_id, url)
    return {"merchant": merchant_id, "url": url, "secret": secret}


def create_key(gateway: Gateway, merchant_id: str, scopes: Iterable[str] = ()) -> Document:
    """A new API key of the merchant (every scope when none is named), shown this once."""
    key, token = merchants.create_key(gateway, merchant_id, scopes)
    return {"id": key.id, "merchant": key.merchant_id, "scopes": key.scopes.split(), "api_key": token}


def revoke_key(gateway: Gateway, key_id: str) -> Document:
    key = merchants.revoke_key(gateway, key_id)
    return {"id": key.id, "merchant": key.merchant_id, "revoked_at": _time(key.revoked_at)}


def create_account(
    gateway: Gateway, merchant_id: str, provider: str, name: str, settings: Mapping[str, Any]
) -> Document:
    """Store an account, its settings validated by its provider and encrypted. Shows no setting."""
    account = gateway.accounts.create(merchant_id, provider, name, settings)
    return {
        "id": account.id,
        "name": account.name,
        "provider": account.provider,
        "notify_url": gateway.accounts.notify_url(provider, account.id),
    }


def list_accounts(gateway: Gateway, merchant_id: str | None = None) -> list[Document]:
    """The accounts (of one merchant), the environment's first (id default-<provider>). No setting."""
    if merchant_id is not None:
        merchants.get_merchant(gateway, merchant_id)  # an unknown merchant says so, rather than []
    listed: list[Document] = []
    if merchant_id in (None, DEFAULT_MERCHANT_ID):
        for provider in gateway.providers:
            account_id = default_account_id(provider)
            listed.append(
                {
                    "id": account_id,
                    "merchant": DEFAULT_MERCHANT_ID,
                    "name": account_id,
                    "provider": provider,
                    "disabled": False,
                    "version": None,
                    "notify_url": gateway.accounts.notify_url(provider, account_id),
                    "previous_settings_until": None,
                    "source": "environment",
                }
            )
    listed += [
        {**account_document(gateway, account), "source": "database"} for account in gateway.accounts.list(merchant_id)
    ]
    return listed


def rotate_account(
    gateway: Gateway, account_id: str, settings: Mapping[str, Any], grace: timedelta = DEFAULT_GRACE
) -> Document:
    """New settings for new calls now; notifies signed with the previous ones verify until `grace` ends."""
    return account_document(gateway, gateway.accounts.rotate(account_id, settings, grace))


def disable_account(gateway: Gateway, account_id: str) -> Document:
    """No new orders use the account; its orders' notifies, queries and refunds still work."""
    return account_document(gateway, gateway.accounts.disable(account_id))


def account_document(gateway: Gateway, account: ProviderAccount) -> Document:
    return {
        "id": account.id,
        "merchant": account.merchant_id,
        "name": account.name,
        "provider": account.provider,
        "disabled": account.disabled,
        "version": account.version,
        "notify_url": gateway.accounts.notify_url(account.provider, account.id),
        "previous_settings_until": _time(account.previous_until) if account.previous_settings else None,
    }


def _time(moment: datetime | None) -> str | None:
    utc = as_utc(moment)
    return None if utc is None else utc.isoformat()  # UTC, ISO 8601, as the API shows times
