"""The Example Pay plugin: the hooks the gateway calls (entry point `gateway.providers: example`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway import hookimpl
from gateway.plugin import Provider, Settings
from gateway_example_provider.config import NAME, SANDBOX_SECRET, load_config
from gateway_example_provider.provider import ExampleProvider

if TYPE_CHECKING:  # gateway.sandbox is imported in sandbox mode only: a worker outside it has no use for it
    from gateway.sandbox import Sandbox

GATEWAY_CONTRACT_VERSION = 2  # the provider contract and hooks this plugin was written for


@hookimpl
def gateway_register_providers(settings: Settings) -> list[Provider]:
    config = load_config(settings)
    return [] if config is None else [ExampleProvider(config)]


@hookimpl
def gateway_register_sandboxes(settings: Settings) -> list[Sandbox]:
    from gateway.sandbox import Sandbox, sandbox_state_path  # only sandbox mode pays for the imports
    from gateway_example_provider.sandbox import ExampleSimulator

    return [Sandbox(NAME, ExampleSimulator(SANDBOX_SECRET, sandbox_state_path(settings, NAME)))]
