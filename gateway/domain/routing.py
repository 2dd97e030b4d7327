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

    The environment's accounts belong to the default merchant: `default-<provider>`.
    """
    environment = merchant_id == DEFAULT_MERCHANT_ID
    if account is not None:
        if environment and account.startswith("default-") and account[len("default-") :] in gateway.providers:
            provider = gateway.providers[account[len("default-") :]]
            _same_provider(provider.name, provider_name)
            return account, provider
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
        at = sorted({row.provider for row in rows} | (set(gateway.providers) if environment else set()))
        if environment and gateway.default_provider is not None:
            chosen = gateway.default_provider
        elif len(at) == 1:
            chosen = at[0]
        elif not at:
            gateway.provider(None)  # the environment's answer: no provider is enabled
            raise invalid_fields({"provider": ["you have no enabled provider account"]})
        else:
            raise invalid_fields({"provider": [f"name one: your accounts are at {', '.join(at)}"]})
    candidates: list[tuple[str, str]] = [(row.id, row.name) for row in rows if row.provider == chosen]
    if environment and chosen in gateway.providers:
        candidates.insert(0, (default_account_id(chosen), default_account_id(chosen)))
    if not candidates:
        if environment:
            gateway.provider(chosen)  # today's message: unknown or disabled provider, or none enabled
        raise invalid_fields({"provider": [f"you have no enabled account at {chosen!r}"]})
    if len(candidates) > 1:
        names = ", ".join(name for _, name in candidates)
        problem = f"you have {len(candidates)} accounts at {chosen} ({names}): name one in `account`"
        raise invalid_fields({"account": [problem]})
    account_id = candidates[0][0]
    if environment and account_id == default_account_id(chosen):
        return account_id, gateway.provider(chosen)
    row = next(row for row in rows if row.id == account_id)
    return account_id, gateway.accounts.serving(row).provider


def _same_provider(actual: str, asked: str | None) -> None:
    if asked is not None and asked != actual:
        raise invalid_fields({"account": [f"is an account at {actual}, not at {asked}"]})
