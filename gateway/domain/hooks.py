"""The lifecycle hooks, called through a typed façade over `pm.hook` (as tox does), so that mypy
sees a misspelt hook name or a wrong argument; pluggy's relay would accept any attribute."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

from gateway.plugin.snapshots import OrderSnapshot

# The hooks whose answers the plugin manager gathers plugin by plugin at start-up (gateway.domain.plugin_manager),
# naming the plugin in its errors; every other hook is broadcast, through `Hooks`.
COLLECTED = ("gateway_register_providers", "gateway_register_sandboxes", "gateway_live_settings")


class Hooks:
    """One method per broadcast hook of gateway.plugin.hookspecs, with the spec's name and arguments
    (tests/gateway/test_plugins.py keeps the two alike)."""

    def __init__(self, plugin_manager: pluggy.PluginManager) -> None:
        self._hook = plugin_manager.hook

    def gateway_order_paid(self, *, order: OrderSnapshot) -> None:
        self._hook.gateway_order_paid(order=order)

    def gateway_order_expired(self, *, order: OrderSnapshot) -> None:
        self._hook.gateway_order_expired(order=order)

    def gateway_refund_succeeded(self, *, refund: Mapping[str, Any], order: OrderSnapshot) -> None:
        self._hook.gateway_refund_succeeded(refund=refund, order=order)

    def gateway_refund_failed(self, *, refund: Mapping[str, Any], order: OrderSnapshot) -> None:
        self._hook.gateway_refund_failed(refund=refund, order=order)
