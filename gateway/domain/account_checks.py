"""Can every enabled stored account still serve? (`gateway check`'s question about provider accounts.)

An account stops serving without anyone touching it when the key that encrypted its settings is
dropped from GATEWAY_CREDENTIALS_KEYS, when its provider's plugin is uninstalled, or when a
plugin's newer version validates settings more strictly. Each is found here by doing what a
request would do (decrypt, then build the provider from the settings alone) and is reported by the
account's id and name: never a value, as a ConfigError's message never quotes one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from gateway.domain.core import Gateway
from gateway.domain.credentials import VARIABLE, Vault, vault
from gateway.plugin.clock import as_utc, utcnow
from gateway.plugin.settings import ConfigError
from gateway.store.models import ProviderAccount


@dataclass(frozen=True)
class AccountProblem:
    account_id: str
    name: str
    provider: str
    merchant_id: str
    problem: str  # names a setting or a variable, never a value


@dataclass(frozen=True)
class AccountsHealth:
    checked: int  # enabled stored accounts
    problems: Sequence[AccountProblem]


def check_stored_accounts(gateway: Gateway) -> AccountsHealth:
    """Decrypt every enabled account's settings (and the previous ones a rotation keeps) and let its
    provider validate them, as serving it would."""
    with gateway.db.autocommit() as session:
        accounts = list(
            session.scalars(
                select(ProviderAccount)
                .where(ProviderAccount.disabled.is_(False))
                .order_by(ProviderAccount.created_at, ProviderAccount.id)
            )
        )
    if not accounts:
        return AccountsHealth(0, [])
    try:
        keys = vault(gateway.settings)
    except ConfigError as exc:
        keys, unusable = None, str(exc)
    else:
        unusable = f"{VARIABLE} is not set, so no stored settings can be decrypted"
    problems = []
    for account in accounts:
        problem = unusable if keys is None else _problem(gateway, keys, account)
        if problem is not None:
            problems.append(AccountProblem(account.id, account.name, account.provider, account.merchant_id, problem))
    return AccountsHealth(len(accounts), problems)


def _problem(gateway: Gateway, keys: Vault, account: ProviderAccount) -> str | None:
    try:
        values = keys.decrypt_settings(account.settings)
    except ConfigError:
        return f"no key in {VARIABLE} decrypts its settings (was the key that encrypted them dropped?)"
    if account.previous_settings is not None and _in_grace(account):
        # Serving the account decrypts them too while notifies signed before the rotation still verify.
        try:
            keys.decrypt(account.previous_settings)
        except ConfigError:
            return f"no key in {VARIABLE} decrypts its previous settings (kept since its last rotation)"
    try:
        gateway.accounts.build(account.provider, values, account.id)
    except ConfigError as exc:
        # "<PROVIDER>_API_URL: is required ...", or the plugin is not installed ("settings: ..." says so).
        return str(exc).removeprefix("settings: ")
    return None


def _in_grace(account: ProviderAccount) -> bool:
    until = as_utc(account.previous_until)
    return until is not None and utcnow() < until
