"""The hooks a gateway plugin can implement. Their docstrings are the plugin author's manual.

They are versioned with the provider contract: `CONTRACT_VERSION` (gateway.provider). A plugin
says which version it was built for with ``GATEWAY_CONTRACT_VERSION = 2`` beside its hooks.

Implement them with ``from gateway import hookimpl`` in a module named by an entry point in
the ``gateway.providers`` group (or listed in GATEWAY_PLUGINS).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

PROJECT_NAME = "gateway"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)  # plugins import it from the package: `from gateway import hookimpl`

if TYPE_CHECKING:
    from gateway.plugin.provider import Provider
    from gateway.plugin.settings import Settings
    from gateway.plugin.snapshots import OrderSnapshot
    from gateway.sandbox import Sandbox


@hookspec
def gateway_register_providers(settings: Settings) -> Iterable[Provider] | None:
    """Return the providers this plugin offers, configured from `settings`.

    Read your own variables with ``settings.get("MYPROVIDER_...")``. Return nothing (or an
    empty list) when the provider has no configuration at all, and log that it is disabled.
    Raise ``gateway.plugin.ConfigError(variable, problem)`` when configuration is partial or
    malformed: start-up stops with that message. Never put a secret in the message.
    When ``settings.sandbox`` is true, configure the provider to talk to your simulator.
    """


@hookspec
def gateway_register_sandboxes(settings: Settings) -> Iterable[Sandbox] | None:
    """Return simulators of your provider's API, mounted at ``/sandbox/<name>`` in sandbox mode.

    Only called when GATEWAY_SANDBOX=1. A simulator is a WSGI app; it must not block a
    request on a call back into the gateway (send notifies from a background thread).
    """


@hookspec
def gateway_live_settings(settings: Settings) -> Iterable[str] | None:
    """Return the names of your variables that are set to what looks like your live service: real
    credentials, or a URL of the real API (never their values).

    Only called when GATEWAY_SANDBOX=1, where your provider talks to its simulator and ignores
    them. Start-up then warns loudly, naming them: someone may believe they are in production.
    Only your plugin knows what "live" looks like (a `sk_live_` key, an API URL that is not your
    simulator's), so the core asks. Return nothing when none is set.
    """


@hookspec
def gateway_order_paid(order: OrderSnapshot) -> None:
    """Called after the transaction that marked an order paid has committed.

    At most one call per order, however many times (or however concurrently) the provider's
    notification arrives, or however the payment is learnt (notify, `?refresh=true`,
    reconcile). At most, not exactly: a process that dies right after the commit makes no
    call. For at-least-once delivery use the `order.paid` merchant webhook, queued in the same
    transaction as the change. It runs before the provider gets its acknowledgement, so keep
    it quick; an exception here is logged and never changes that acknowledgement.
    """


@hookspec
def gateway_order_expired(order: OrderSnapshot) -> None:
    """Called (at most once, after the commit) when reconciliation expires an unpaid order."""


@hookspec
def gateway_refund_succeeded(refund: Mapping[str, Any], order: OrderSnapshot) -> None:
    """Called (at most once, after the commit) when a refund is known to have succeeded.

    `refund` is the refund as the API shows it (`GET /v1/refunds/<id>`).
    """


@hookspec
def gateway_refund_failed(refund: Mapping[str, Any], order: OrderSnapshot) -> None:
    """Called (at most once, after the commit) when a refund is known to have failed; its amount is
    refundable again."""
