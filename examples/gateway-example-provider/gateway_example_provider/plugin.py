"""The Example Pay plugin: the hooks the gateway calls (entry point `gateway.providers: example`)."""

from __future__ import annotations

from gateway import hookimpl
from gateway.plugin import Provider, Settings
from gateway.sandbox import Sandbox, sandbox_state_path
from gateway_example_provider.config import NAME, SANDBOX_SECRET, load_config
from gateway_example_provider.provider import ExampleProvider

GATEWAY_CONTRACT_VERSION = 2  # the provider contract and hooks this plugin was written for


@hookimpl
def gateway_register_providers(settings: Settings) -> list[Provider]:
    config = load_config(settings)
    return [] if config is None else [ExampleProvider(config)]


@hookimpl
def gateway_register_sandboxes(settings: Settings) -> list[Sandbox]:
    from gateway_example_provider.sandbox import ExampleSimulator  # only sandbox mode pays for the import

    return [Sandbox(NAME, ExampleSimulator(SANDBOX_SECRET, sandbox_state_path(settings, NAME)))]
