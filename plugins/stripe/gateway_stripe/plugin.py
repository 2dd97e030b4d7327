"""The Stripe plugin's hook implementations (entry point `gateway.providers: stripe`)."""

from __future__ import annotations

import logging

from gateway import hookimpl
from gateway.plugin import Provider, Settings
from gateway.sandbox import Sandbox, sandbox_state_path
from gateway_stripe.client import StripeClient
from gateway_stripe.config import (
    NAME,
    SANDBOX_SECRET_KEY,
    SANDBOX_WEBHOOK_SECRET,
    live_settings,
    load_config,
)
from gateway_stripe.provider import StripeProvider

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
    from gateway_stripe.sandbox.app import create_simulator  # only sandbox mode pays for the import

    simulator = create_simulator(
        SANDBOX_SECRET_KEY, SANDBOX_WEBHOOK_SECRET, settings.notify_url(NAME), sandbox_state_path(settings, NAME)
    )
    return [Sandbox(NAME, simulator)]
