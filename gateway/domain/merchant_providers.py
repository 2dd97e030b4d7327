"""What `/v1/providers` answers a merchant whose accounts are stored: one item per account.

The environment-configured merchant's answer is the environment's providers, as it always was. A
stored merchant's is its own accounts, each with its provider's channels and currencies (the
provider built from that account's settings: the cached one that serves its orders). An account
that cannot be served (its key dropped, its plugin gone) is left out and logged by id: `gateway
check` names it to the operator, and the caller is never shown a secret or a stack trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.domain.core import Gateway
from gateway.domain.errors import Conflict
from gateway.plugin.provider import Operation, Provider, ProviderInfo
from gateway.plugin.settings import ConfigError

log = logging.getLogger("gateway.accounts")


@dataclass(frozen=True)
class AccountOffer:
    """An account and its provider: what orders naming `account` get. Shows no setting."""

    account: str  # the account's id, as orders show it
    account_name: str
    enabled: bool
    provider: Provider

    @property
    def info(self) -> ProviderInfo:
        return self.provider.info

    @property
    def operations(self) -> frozenset[Operation]:
        return frozenset(self.provider.operations)


def offers_of(gateway: Gateway, merchant_id: str) -> list[AccountOffer]:
    """The merchant's stored accounts, oldest first, disabled ones included (`enabled: false`)."""
    offers = []
    for row in gateway.accounts.of_merchant(merchant_id):
        try:
            serving = gateway.accounts.serving(row)
        except (ConfigError, Conflict) as exc:  # a key dropped or unset, a plugin gone: never a value
            log.error("account %s (%s) cannot be served: %s", row.id, row.provider, exc)
            continue
        offers.append(AccountOffer(row.id, row.name, not row.disabled, serving.provider))
    return offers
