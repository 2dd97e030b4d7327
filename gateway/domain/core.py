"""The per-app object the views and services work with: settings, storage, providers, hooks."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

import pluggy

from gateway.domain.accounts import Accounts, is_default_account
from gateway.domain.breaker import Breakers, BreakerSettings
from gateway.domain.errors import Conflict, invalid_fields
from gateway.domain.hooks import Hooks
from gateway.domain.merchant_config import MerchantConfigs
from gateway.domain.notify_guard import RejectionThrottle
from gateway.plugin.provider import Provider
from gateway.plugin.settings import ConfigError, Settings
from gateway.store.db import Database
from gateway.store.models import Order

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    settings: Settings
    db: Database
    plugin_manager: pluggy.PluginManager
    providers: Mapping[str, Provider]
    default_provider: str | None  # None: no provider is enabled
    notify_guard: RejectionThrottle | None = None  # None: rejected notifies are not throttled

    @cached_property
    def hooks(self) -> Hooks:
        """The lifecycle hooks, typed (gateway.domain.hooks)."""
        return Hooks(self.plugin_manager)

    @cached_property
    def accounts(self) -> Accounts:
        """The merchants' stored provider accounts, and the providers serving them (cached)."""
        return Accounts(self.settings, self.db, self.plugin_manager)

    @cached_property
    def merchant_configs(self) -> MerchantConfigs:
        """Each stored merchant's accounts and routing rules, cached per process by config version."""
        return MerchantConfigs(self.db)

    @cached_property
    def breakers(self) -> Breakers:
        """This process's circuit breaker per provider account (GATEWAY_BREAKER_*)."""
        return Breakers(BreakerSettings.from_settings(self.settings))

    @property
    def order_lifetime(self) -> timedelta:
        """How long an unpaid order waits before reconciliation expires it (GATEWAY_ORDER_EXPIRY)."""
        return timedelta(seconds=self.settings.count("GATEWAY_ORDER_EXPIRY", 7200, maximum=30 * 86400))

    def provider_of(self, order: Order) -> Provider:
        """The provider (of the account) an order was created with; Conflict when it is not enabled."""
        provider = self.provider_for(order)
        if provider is None:
            raise Conflict("provider_disabled", f"Provider {order.provider!r} is not enabled.")
        return provider

    def provider_for(self, order: Order) -> Provider | None:
        """`provider_of`, or None: the environment's provider, or the order's stored account's."""
        if is_default_account(order.account_id, order.provider):
            return self.providers.get(order.provider)
        assert order.account_id is not None
        try:
            serving = self.accounts.by_id(order.account_id, order.provider)
        except ConfigError as exc:  # its settings no longer decrypt, or its plugin is gone: nobody to ask
            log.error("account %s of order %s cannot be used: %s", order.account_id, order.id, exc)
            return None
        return None if serving is None else serving.provider

    def provider(self, name: str | None, *, field: str = "provider") -> Provider:
        """The enabled provider called `name` (the default one when None), or Invalid naming `field`."""
        chosen = name or self.default_provider
        if chosen is None:
            raise invalid_fields({field: ["no provider is enabled"]})
        try:
            return self.providers[chosen]
        except KeyError:
            enabled = ", ".join(sorted(self.providers)) or "none"
            raise invalid_fields({field: [f"unknown or disabled provider {chosen!r}; enabled: {enabled}"]}) from None
