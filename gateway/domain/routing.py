"""Which provider account a new order goes to: the one the caller names, else the merchant's only one.

(Choosing among several by currency, country or cost is the next step; until then, with two
accounts at the provider and none named, the caller is asked to name one.)
"""

from __future__ import annotations

from gateway.domain.core import Gateway
from gateway.domain.errors import invalid_fields
from gateway.plugin.provider import Provider
from gateway.store.models import DEFAULT_MERCHANT_ID, default_account_id


def choose_account(
    gateway: Gateway, merchant_id: str, provider_name: str | None, account: str | None
) -> tuple[str, Provider]:
    """(the account's id, the provider serving it) for an order of `merchant_id`; Invalid when none fits.

    The environment's accounts belong to the default merchant (`default-<provider>`), and are its only
    ones: orders of the environment-configured merchant cost no read of the accounts table.
    """
    if merchant_id == DEFAULT_MERCHANT_ID:
        return _environment_account(gateway, provider_name, account)
    if account is not None:
        rows = gateway.accounts.of_merchant(merchant_id, account=account)
        if not rows:
            raise invalid_fields({"account": [f"you have no account {account!r}"]})
        row = rows[0]
        _same_provider(row.provider, provider_name)
        if row.disabled:
            raise invalid_fields({"account": [f"account {row.name!r} is disabled"]})
        return row.id, gateway.accounts.serving(row).provider

    rows = [row for row in gateway.accounts.of_merchant(merchant_id) if not row.disabled]
    chosen = provider_name
    if chosen is None:
        at = sorted({row.provider for row in rows})
        if len(at) != 1:
            problem = f"name one: your accounts are at {', '.join(at)}" if at else "you have no enabled account"
            raise invalid_fields({"provider": [problem]})
        chosen = at[0]
    candidates = [row for row in rows if row.provider == chosen]
    if not candidates:
        raise invalid_fields({"provider": [f"you have no enabled account at {chosen!r}"]})
    if len(candidates) > 1:
        names = ", ".join(row.name for row in candidates)
        problem = f"you have {len(candidates)} accounts at {chosen} ({names}): name one in `account`"
        raise invalid_fields({"account": [problem]})
    return candidates[0].id, gateway.accounts.serving(candidates[0]).provider


def _environment_account(gateway: Gateway, provider_name: str | None, account: str | None) -> tuple[str, Provider]:
    """The default merchant's accounts are the environment's, one per provider: no database read."""
    provider = gateway.provider(provider_name)  # today's answers: unknown or disabled provider, none enabled
    if account is not None and account != default_account_id(provider.name):
        problem = f"the default merchant's account at {provider.name} is {default_account_id(provider.name)!r}"
        raise invalid_fields({"account": [problem]})
    return default_account_id(provider.name), provider


def _same_provider(actual: str, asked: str | None) -> None:
    if asked is not None and asked != actual:
        raise invalid_fields({"account": [f"is an account at {actual}, not at {asked}"]})
