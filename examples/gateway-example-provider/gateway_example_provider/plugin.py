"""The Example Pay plugin: the hooks the gateway calls (entry point `gateway.providers: example`)."""

from __future__ import annotations

import logging
from pathlib import Path

from gateway import hookimpl
from gateway.provider import Provider
from gateway.sandbox import Sandbox
from gateway.settings import ConfigError, Settings
from gateway_example_provider.provider import ExampleProvider

log = logging.getLogger(__name__)

# Made up, shared by the provider and the simulator in sandbox mode. Not a secret.
SANDBOX_SECRET = "example-sandbox-secret"


@hookimpl
def gateway_register_providers(settings: Settings) -> list[Provider]:
    if settings.sandbox:  # talk to our simulator, mounted by gateway_register_sandboxes below
        return [ExampleProvider(SANDBOX_SECRET, f"{settings.public_url}/sandbox/example", sandbox=True)]
    secret, api_url = settings.get("EXAMPLE_SECRET"), settings.get("EXAMPLE_API_URL")
    if secret is None and api_url is None:
        log.info("example: disabled (EXAMPLE_SECRET and EXAMPLE_API_URL are not set)")
        return []
    if secret is None:
        raise ConfigError("EXAMPLE_SECRET", "is required when EXAMPLE_API_URL is set")
    if api_url is None:
        raise ConfigError("EXAMPLE_API_URL", "is required when EXAMPLE_SECRET is set")
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError("EXAMPLE_API_URL", "must be an http(s) URL")
    log.info("example: enabled at %s", api_url)  # never the secret
    return [ExampleProvider(secret, api_url, timeout=settings.number("EXAMPLE_TIMEOUT", 10.0))]


@hookimpl
def gateway_register_sandboxes(settings: Settings) -> list[Sandbox]:
    from gateway_example_provider.simulator import ExampleSimulator  # only sandbox mode pays for the import

    state = Path(settings.instance_path) / "example-sandbox.sqlite3"
    return [Sandbox("example", ExampleSimulator(SANDBOX_SECRET, str(state)))]
