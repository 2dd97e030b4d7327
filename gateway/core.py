"""The per-app object the views and services work with: settings, storage, providers, hooks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import pluggy
from flask import current_app

from gateway.db import Database
from gateway.models import Order
from gateway.provider import Provider
from gateway.settings import Settings
from gateway.views.errors import ApiError, validation_error

EXTENSION_KEY = "gateway"


@dataclass
class Gateway:
    settings: Settings
    db: Database
    plugin_manager: pluggy.PluginManager
    providers: Mapping[str, Provider]
    default_provider: str

    @property
    def hooks(self) -> pluggy.HookRelay:
        return self.plugin_manager.hook

    @property
    def order_lifetime(self) -> timedelta:
        """How long an unpaid order waits before reconciliation expires it (GATEWAY_ORDER_EXPIRY)."""
        return timedelta(seconds=self.settings.count("GATEWAY_ORDER_EXPIRY", 7200, maximum=30 * 86400))

    def provider_of(self, order: Order) -> Provider:
        """The provider an order was created with; 409 when it has been disabled since."""
        try:
            return self.providers[order.provider]
        except KeyError:
            raise ApiError(409, "provider_disabled", f"Provider {order.provider!r} is not enabled.") from None

    def provider(self, name: str | None, *, field: str = "provider") -> Provider:
        """The enabled provider called `name` (the default one when None), or a 422 naming `field`."""
        chosen = name or self.default_provider
        try:
            return self.providers[chosen]
        except KeyError:
            enabled = ", ".join(sorted(self.providers)) or "none"
            raise validation_error({field: [f"unknown or disabled provider {chosen!r}; enabled: {enabled}"]}) from None


def current_gateway() -> Gateway:
    gateway: Gateway = current_app.extensions[EXTENSION_KEY]
    return gateway
