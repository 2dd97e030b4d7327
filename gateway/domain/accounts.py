"""Provider accounts: one merchant's credentials at one provider, and the provider object serving each.

A plugin never learns about merchants. For each account the core calls the plugin's usual factory
(`gateway_register_providers`) with a `Settings` made of that account's settings alone (the same
names as the environment's, <PROVIDER>_*) plus the core's public URL, so the provider
validates them exactly as it validates the environment and never sees another account's values.
The provider built is cached per process and per account `version`, which every rotation or
disabling bumps: a request reads the account's row once and rebuilds only when the version moved.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import pluggy
from sqlalchemy import or_, select

from gateway.domain import instrument
from gateway.domain.credentials import Vault, required_vault, vault
from gateway.domain.errors import Invalid, ResourceNotFound, invalid_fields
from gateway.plugin.clock import as_utc, utcnow
from gateway.plugin.provider import Provider
from gateway.plugin.settings import ConfigError, Settings
from gateway.store.db import Database
from gateway.store.models import (
    DEFAULT_MERCHANT_ID,
    PROVIDER_ACCOUNTS,
    Merchant,
    ProviderAccount,
    default_account_id,
    storable,
)

log = logging.getLogger("gateway.accounts")

DEFAULT_GRACE = timedelta(hours=24)
MAX_NAME = 80
_SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
# What an account's Settings carries of the core's own: where the gateway is reachable. Nothing else.
_SHARED = ("GATEWAY_PUBLIC_URL", "GATEWAY_ALLOW_PLAIN_HTTP")

_ROW = select(PROVIDER_ACCOUNTS)


@dataclass(frozen=True)
class AccountProvider:
    """The provider serving one account, and during a rotation's grace period the one built from the
    previous settings (for notifies signed with the previous secret)."""

    account_id: str
    merchant_id: str
    name: str
    disabled: bool
    provider: Provider
    previous: Provider | None
    previous_until: datetime | None

    def previous_in_grace(self, now: datetime) -> Provider | None:
        if self.previous is None or self.previous_until is None or now >= self.previous_until:
            return None
        return self.previous


class Accounts:
    """The stored accounts' providers, cached per process by (account id, version)."""

    def __init__(self, settings: Settings, db: Database, plugin_manager: pluggy.PluginManager) -> None:
        self.settings = settings
        self.db = db
        self.plugin_manager = plugin_manager
        self._cache: dict[str, tuple[int, AccountProvider]] = {}
        self._lock = threading.Lock()

    def notify_url(self, provider: str, account_id: str) -> str:
        if account_id == default_account_id(provider):
            return self.settings.notify_url(provider)
        return f"{self.settings.public_url}/notify/{provider}/{account_id}"

    # -- reads: one row, then the cache ----------------------------------------------------------

    def by_id(self, account_id: str, provider: str | None = None) -> AccountProvider | None:
        """The account with this id (at `provider`, when given); None when there is none."""
        if not _is_uuid(account_id):
            return None
        statement = _ROW.where(PROVIDER_ACCOUNTS.c.id == account_id)
        with self.db.autocommit_connection() as connection:
            row = connection.execute(statement).first()
        if row is None or (provider is not None and row.provider != provider):
            return None
        return self.serving(row)

    def of_merchant(self, merchant_id: str, provider: str | None = None, account: str | None = None) -> list[Any]:
        """The merchant's account rows (at `provider`; named `account` by id or name), one read."""
        statement = _ROW.where(PROVIDER_ACCOUNTS.c.merchant_id == merchant_id)
        if provider is not None:
            statement = statement.where(PROVIDER_ACCOUNTS.c.provider == provider)
        if account is not None:
            by_name = PROVIDER_ACCOUNTS.c.name == account
            statement = statement.where(
                or_(PROVIDER_ACCOUNTS.c.id == account, by_name) if _is_uuid(account) else by_name
            )
        with self.db.autocommit_connection() as connection:
            return list(connection.execute(statement.order_by(PROVIDER_ACCOUNTS.c.created_at)))

    def serving(self, row: Any) -> AccountProvider:
        """The provider(s) for an account row: cached while its version stays the same."""
        cached = self._cache.get(row.id)
        if cached is not None and cached[0] == row.version:
            return cached[1]
        keys = required_vault(self.settings)
        current = self.build(row.provider, keys.decrypt_settings(row.settings), row.id)
        previous = None
        previous_until = as_utc(row.previous_until)
        # Past its grace period the old secret verifies nothing, so it is not decrypted either: its key
        # may have been dropped from GATEWAY_CREDENTIALS_KEYS since.
        if row.previous_settings is not None and previous_until is not None and utcnow() < previous_until:
            previous = self.build(row.provider, keys.decrypt_settings(row.previous_settings), row.id)
        entry = AccountProvider(
            account_id=row.id,
            merchant_id=row.merchant_id,
            name=row.name,
            disabled=bool(row.disabled),
            provider=current,
            previous=previous,
            previous_until=previous_until,
        )
        with self._lock:
            self._cache[row.id] = (row.version, entry)
        return entry

    def build(self, provider_name: str, values: Mapping[str, str], account_id: str) -> Provider:
        """The plugin's provider for these settings alone; ConfigError (naming a setting) when refused."""
        shared = {name: value for name in _SHARED if (value := self.settings.get(name)) is not None}
        own = Settings(
            values={**values, **shared},
            instance_path=self.settings.instance_path,
            account_notify_url=self.notify_url(provider_name, account_id),
        )
        hook = self.plugin_manager.hook.gateway_register_providers
        for impl in reversed(hook.get_hookimpls()):
            if impl.wrapper or impl.hookwrapper:
                continue
            try:
                registered = cast(Iterable[object], impl.function(settings=own) or [])
            except ConfigError:
                raise  # the plugin's own message, naming the setting and never its value
            except Exception as exc:  # a plugin's bug; its message could quote a value, so only the type
                raise ConfigError("settings", f"plugin {impl.plugin_name!r} raised {type(exc).__name__}") from None
            for provider in registered:
                if isinstance(provider, Provider) and provider.name == provider_name:
                    instrument.instrument(provider, self.db, instrument.secret_values(own))
                    return provider
        raise ConfigError("settings", f"configure no {provider_name!r} provider (is its plugin installed?)")

    # -- changes ---------------------------------------------------------------------------------

    def create(self, merchant_id: str, provider: str, name: str, values: Mapping[str, Any]) -> ProviderAccount:
        if merchant_id == DEFAULT_MERCHANT_ID:
            problem = "the default merchant's accounts are the environment's (its providers' variables)"
            raise invalid_fields({"merchant": [problem]})
        keys = required_vault(self.settings)
        name = _name(name)
        checked = _checked_values(values)
        account_id = str(uuid.uuid4())
        _validate(self, provider, checked, account_id)
        now = utcnow()
        account = ProviderAccount(
            id=account_id,
            merchant_id=merchant_id,
            provider=provider,
            name=name,
            settings=keys.encrypt_settings(checked),
            previous_settings=None,
            previous_until=None,
            disabled=False,
            version=1,
            created_at=now,
            updated_at=now,
        )
        with self.db.transaction() as session:
            merchant = session.get(Merchant, merchant_id) if storable(merchant_id) else None
            if merchant is None:
                raise ResourceNotFound("merchant_not_found", f"No merchant with id {merchant_id!r}.")
            taken = select(ProviderAccount.id).where(
                ProviderAccount.merchant_id == merchant_id, ProviderAccount.name == name
            )
            if session.scalar(taken) is not None:
                raise invalid_fields({"name": [f"the merchant already has an account named {name!r}"]})
            session.add(account)
            _changed(merchant)
        return account

    def rotate(self, account_id: str, values: Mapping[str, Any], grace: timedelta = DEFAULT_GRACE) -> ProviderAccount:
        """New settings for new calls now; notifies signed with the previous ones verify until `grace` ends."""
        keys = required_vault(self.settings)
        checked = _checked_values(values)
        with self.db.transaction() as session:
            account = _get(session, account_id)
            rotated = _validate(self, account.provider, checked, account.id)
            _same_provider_account(self, keys, account, rotated)
            now = utcnow()
            try:
                account.previous_settings = keys.encrypt(keys.decrypt(account.settings))  # re-encrypted, first key
                account.previous_until = now + grace
            except ConfigError:
                # The key that encrypted them is gone: nothing can verify with them any more, so the new
                # settings are the only ones (rotating is how such an account is repaired).
                account.previous_settings, account.previous_until = None, None
            account.settings = keys.encrypt_settings(checked)
            account.version += 1
            account.updated_at = now
            _changed(session.get(Merchant, account.merchant_id))
        return account

    def disable(self, account_id: str) -> ProviderAccount:
        with self.db.transaction() as session:
            account = _get(session, account_id)
            if not account.disabled:
                account.disabled = True
                account.version += 1
                account.updated_at = utcnow()
                _changed(session.get(Merchant, account.merchant_id))
        return account

    def list(self, merchant_id: str | None = None) -> Sequence[ProviderAccount]:
        statement = select(ProviderAccount).order_by(ProviderAccount.created_at, ProviderAccount.id)
        if merchant_id is not None:
            if not storable(merchant_id):
                return []
            statement = statement.where(ProviderAccount.merchant_id == merchant_id)
        with self.db.autocommit() as session:
            return list(session.scalars(statement))

    def vault(self) -> Vault | None:
        return vault(self.settings)


def read_settings_file(text: str) -> dict[str, Any]:
    try:
        loaded = json.loads(text)
    except ValueError:
        raise invalid_fields({"settings": ["must be a JSON object of setting names and values"]}) from None
    if not isinstance(loaded, dict):
        raise invalid_fields({"settings": ["must be a JSON object of setting names and values"]})
    return loaded


def is_default_account(account_id: str | None, provider: str) -> bool:
    return account_id is None or account_id == default_account_id(provider)


def _checked_values(values: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    checked: dict[str, str] = {}
    for name, value in values.items():
        if not isinstance(name, str) or not _SETTING_NAME.fullmatch(name) or name.startswith("GATEWAY_"):
            # The name may be anything a stranger typed: quote its kind, never echo a value.
            errors["settings"] = ["names must be the provider's variables, <PROVIDER>_... (no GATEWAY_*)"]
        elif not isinstance(value, str | int | bool) or isinstance(value, float):
            errors[f"settings.{name}"] = ["must be a string"]
        else:
            checked[name] = str(value)
    if not checked and not errors:
        errors["settings"] = ["must name at least one setting"]
    if errors:
        raise invalid_fields(errors)
    return checked


def _validate(accounts: Accounts, provider: str, values: Mapping[str, str], account_id: str) -> Provider:
    try:
        return accounts.build(provider, values, account_id)
    except ConfigError as exc:
        # The plugin's own message names the variable and never its value (the hook's contract).
        field = f"settings.{exc.variable}" if exc.variable != "settings" else "settings"
        message = str(exc).split(": ", 1)[-1]
        raise invalid_fields({field: [message]}) from None


def _same_provider_account(accounts: Accounts, keys: Vault, account: ProviderAccount, rotated: Provider) -> None:
    """A rotation changes an account's secrets, never the merchant it is at the provider (`Provider.account_id`):
    its orders name that merchant, and their notifies' confirming queries, their refunds and reconciliation must
    be asked of it. Settings that can no longer be read or built (the repair a rotation also is) are not compared."""
    try:
        current = accounts.build(account.provider, keys.decrypt_settings(account.settings), account.id)
    except ConfigError:
        return
    if current.account_id is not None and rotated.account_id != current.account_id:
        problem = (
            f"name another merchant at {account.provider} than the account's: its orders could no longer be "
            "confirmed, queried or refunded; create a new account for the other merchant instead"
        )
        raise invalid_fields({"settings": [problem]})


def _changed(merchant: Merchant | None) -> None:
    """The merchant's accounts changed: every process's cached copy (gateway.domain.merchant_config) is stale."""
    if merchant is not None:
        # In SQL (config_version + 1), so that two changes committed at once still move it twice.
        merchant.config_version = Merchant.config_version + 1


def _get(session: Any, account_id: str) -> ProviderAccount:
    account = session.get(ProviderAccount, account_id) if _is_uuid(account_id) else None
    if account is None:
        raise ResourceNotFound("account_not_found", f"No provider account with id {account_id!r}.")
    assert isinstance(account, ProviderAccount)
    return account


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise invalid_fields({"name": [f"must be 1 to {MAX_NAME} printable characters"]})
    if _is_uuid(name) or name.startswith("default-"):
        raise invalid_fields({"name": ["must not look like an account id"]})
    return name


def _is_uuid(text: str) -> bool:
    try:
        return len(text) == 36 and str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


__all__ = ["DEFAULT_MERCHANT_ID", "AccountProvider", "Accounts", "Invalid", "is_default_account"]
