"""Which provider accounts a new order may go to, in the order they are tried.

- The default merchant's accounts are the environment's, one per provider: no read at all.
- An order that names its `account` goes there, and only there.
- Otherwise the merchant's routing rules decide (gateway.domain.routing_rules): the first matching
  rule's accounts, a split's pick first. Accounts that cannot take the order are skipped: disabled,
  at another provider than the order names, without the channel or the currency (the provider's
  capability manifest), or behind an open breaker (gateway.domain.breaker).
- With no rules, or none matching and no default: the merchant's only account at the provider; with
  two there and none named, the caller is asked to name one.

A stored merchant's routing costs one cached read: the merchant's config version
(gateway.domain.merchant_config).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.domain.core import Gateway
from gateway.domain.errors import UpstreamRefused, invalid_fields
from gateway.domain.merchant_config import MerchantConfig
from gateway.plugin.provider import Provider
from gateway.plugin.settings import ConfigError
from gateway.store.models import DEFAULT_MERCHANT_ID, default_account_id

log = logging.getLogger("gateway.accounts")
UNSERVABLE = "its provider is not installed or its settings are refused"


@dataclass(frozen=True)
class Candidate:
    account_id: str
    provider: Provider


@dataclass(frozen=True)
class Route:
    """The accounts to try, in order; `rule` and `version` say which rules decided (None: no rule)."""

    candidates: tuple[Candidate, ...]
    rule: str | None = None
    version: int | None = None
    skipped: Mapping[str, str] = field(default_factory=dict)  # account id -> why it is not tried


def route(
    gateway: Gateway, merchant_id: str, fields: Mapping[str, Any], sticky_key: str, *, dry_run: bool = False
) -> Route:
    """The accounts a new order of `merchant_id` with these fields goes to; Invalid when none can take it.

    `sticky_key` (the order's id) picks a split's account, the same one every time. A `dry_run` takes no
    breaker's trial slot.
    """
    provider_name, account = fields.get("provider"), fields.get("account")
    if merchant_id == DEFAULT_MERCHANT_ID:
        return Route((_environment_account(gateway, provider_name, account),))
    config = gateway.merchant_configs.current(merchant_id)
    if account is not None:
        return Route((_named_account(gateway, config, provider_name, account),))
    decided = config.rules.route(fields, sticky_key) if config.rules is not None else None
    if decided is None:
        return Route((_only_account(gateway, config, provider_name),))
    rule, ids = decided
    candidates, skipped = _able(gateway, config, ids, fields, dry_run=dry_run)
    if not candidates:
        if skipped and all(reason == "breaker open" for reason in skipped.values()):
            raise UpstreamRefused(
                "accounts_unavailable",
                f"Every account of routing rule {rule!r} is failing and skipped for a cool-down; nothing was created.",
                rule=rule,
            )
        reasons = "; ".join(f"{account_id}: {why}" for account_id, why in skipped.items())
        raise invalid_fields({"account": [f"no account of routing rule {rule!r} can take this order ({reasons})"]})
    return Route(tuple(candidates), rule, config.rules_version, skipped)


def _able(
    gateway: Gateway, config: MerchantConfig, ids: list[str], fields: Mapping[str, Any], *, dry_run: bool
) -> tuple[list[Candidate], dict[str, str]]:
    rows = config.by_id()
    candidates: list[Candidate] = []
    skipped: dict[str, str] = {}
    for account_id in ids:
        row = rows.get(account_id)
        why = _why_not(row, fields)
        provider = None
        if why is None:
            try:
                provider = gateway.accounts.serving(row).provider
            except ConfigError:
                why = UNSERVABLE
        if provider is not None and (why := _cannot_take(provider, fields)) is None:
            # The first account tried takes a breaker's trial now; the others are asked when their turn comes.
            breakers = gateway.breakers
            open_now = breakers.is_open(account_id) if dry_run or candidates else not breakers.allow(account_id)
            if open_now:
                why = "breaker open"
            else:
                candidates.append(Candidate(account_id, provider))
                continue
        skipped[account_id] = why or "cannot take the order"
    return candidates, skipped


def _why_not(row: Any, fields: Mapping[str, Any]) -> str | None:
    if row is None:
        return "no such account"
    if row.disabled:
        return "disabled"
    wanted = fields.get("provider")
    if wanted is not None and row.provider != wanted:
        return f"at {row.provider}, not {wanted}"
    return None


def _cannot_take(provider: Provider, fields: Mapping[str, Any]) -> str | None:
    """Why the provider's capability manifest rules the order out (None: it can take it)."""
    info = provider.info
    if fields.get("channel") not in info.channels:
        return f"{provider.name} has no channel {fields.get('channel')}"
    if fields.get("currency") not in info.channel(fields["channel"]).currencies:
        return f"{provider.name} {fields['channel']} does not take {fields.get('currency')}"
    return None


def _named_account(gateway: Gateway, config: MerchantConfig, provider_name: str | None, account: str) -> Candidate:
    row = config.account(account)
    if row is None:
        raise invalid_fields({"account": [f"you have no account {account!r}"]})
    if provider_name is not None and provider_name != row.provider:
        raise invalid_fields({"account": [f"is an account at {row.provider}, not at {provider_name}"]})
    if row.disabled:
        raise invalid_fields({"account": [f"account {row.name!r} is disabled"]})
    return Candidate(row.id, _serving(gateway, row))


def _only_account(gateway: Gateway, config: MerchantConfig, provider_name: str | None) -> Candidate:
    rows = [row for row in config.accounts if not row.disabled]
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
    return Candidate(candidates[0].id, _serving(gateway, candidates[0]))


def _serving(gateway: Gateway, row: Any) -> Provider:
    """The provider serving a named or only account; a 422 naming the account (the operator's to fix,
    `gateway check` names it) when it cannot be served, never a 500."""
    try:
        return gateway.accounts.serving(row).provider
    except ConfigError as exc:  # a plugin gone, a credentials key dropped: the message names no value
        log.error("account %s (%s) cannot be served: %s", row.id, row.provider, exc)
        raise invalid_fields({"account": [f"account {row.name!r} cannot be used: {UNSERVABLE}"]}) from None


def _environment_account(gateway: Gateway, provider_name: str | None, account: str | None) -> Candidate:
    """The default merchant's accounts are the environment's, one per provider: no database read."""
    provider = gateway.provider(provider_name)  # today's answers: unknown or disabled provider, none enabled
    if account is not None and account != default_account_id(provider.name):
        problem = f"the default merchant's account at {provider.name} is {default_account_id(provider.name)!r}"
        raise invalid_fields({"account": [problem]})
    return Candidate(default_account_id(provider.name), provider)
