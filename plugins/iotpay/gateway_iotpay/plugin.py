"""The IOTPay plugin's hook implementations (entry point `gateway.providers: iotpay`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway import hookimpl
from gateway.plugin import Provider, Settings
from gateway_iotpay.client import IotPayClient
from gateway_iotpay.config import NAME, SANDBOX_KEY, SANDBOX_MCH_ID, live_settings, load_config
from gateway_iotpay.provider import IotPayProvider

if TYPE_CHECKING:  # gateway.sandbox is imported in sandbox mode only: a worker outside it has no use for it
    from gateway.sandbox import Sandbox

log = logging.getLogger(__name__)

GATEWAY_CONTRACT_VERSION = 2  # the provider contract and hooks this plugin was written for


@hookimpl
def gateway_register_providers(settings: Settings) -> list[Provider]:
    config = load_config(settings)
    if config is None:
        log.info("iotpay: disabled (no IOTPAY_* variables set)")
        return []
    log.info("iotpay: enabled for merchant %s at %s", config.mch_id, config.api_url)
    return [IotPayProvider(config, IotPayClient(config.api_url, config.timeout))]


@hookimpl
def gateway_live_settings(settings: Settings) -> list[str]:
    return live_settings(settings)


@hookimpl
def gateway_register_sandboxes(settings: Settings) -> list[Sandbox]:
    from gateway.sandbox import Sandbox, sandbox_state_path  # only sandbox mode pays for the imports
    from gateway_iotpay.sandbox.app import create_simulator

    simulator = create_simulator({SANDBOX_MCH_ID: SANDBOX_KEY}, sandbox_state_path(settings, NAME))
    return [Sandbox(NAME, simulator)]
