"""The Stripe plugin's hook implementations (entry point `gateway.providers: stripe`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway import hookimpl
from gateway.plugin import Provider, Settings
from gateway_stripe.client import StripeClient
from gateway_stripe.config import (
    NAME,
    SANDBOX_SECRET_KEY,
    SANDBOX_WEBHOOK_SECRET,
    live_settings,
    load_config,
)
from gateway_stripe.provider import StripeProvider

if TYPE_CHECKING:  # gateway.sandbox is imported in sandbox mode only: a worker outside it has no use for it
    from gateway.sandbox import Sandbox

log = logging.getLogger(__name__)

GATEWAY_CONTRACT_VERSION = 2  # the provider contract and hooks this plugin was written for


@hookimpl
def gateway_register_providers(settings: Settings) -> list[Provider]:
    config = load_config(settings)
    if config is None:
        log.info("stripe: disabled (no STRIPE_* variables set)")
        return []
    log.info(
        "stripe: enabled (%s mode) at %s; Stripe's webhook endpoint must be %s",
        "live" if config.live else "test",
        config.api_url,
        settings.notify_url(NAME),
    )
    return [StripeProvider(config, StripeClient(config.api_url, config.secret_key, config.timeout))]


@hookimpl
def gateway_live_settings(settings: Settings) -> list[str]:
    return live_settings(settings)


@hookimpl
def gateway_register_sandboxes(settings: Settings) -> list[Sandbox]:
    from gateway.sandbox import Sandbox, sandbox_state_path  # only sandbox mode pays for the imports
    from gateway_stripe.sandbox.app import create_simulator

    simulator = create_simulator(
        SANDBOX_SECRET_KEY, SANDBOX_WEBHOOK_SECRET, settings.notify_url(NAME), sandbox_state_path(settings, NAME)
    )
    return [Sandbox(NAME, simulator)]
