"""Example Pay's configuration from the gateway's settings (EXAMPLE_* variables)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.settings import ConfigError, Settings

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
# Made up, shared by the provider and the simulator in sandbox mode. Not a secret, but handled as one.
SANDBOX_SECRET = "example-sandbox-secret"
SANDBOX_MOUNT = "/sandbox/example"


@dataclass(frozen=True, repr=False)
class ExampleConfig:
    secret: str
    api_url: str
    timeout: float = DEFAULT_TIMEOUT
    sandbox: bool = False

    def __repr__(self) -> str:  # the secret must never reach a log line through a repr
        return f"ExampleConfig(api_url={self.api_url!r}, timeout={self.timeout}, sandbox={self.sandbox})"


def load_config(settings: Settings) -> ExampleConfig | None:
    """The configuration, or None when Example Pay is not configured at all (it is then disabled).

    Raises ConfigError naming the variable when the configuration is partial or malformed.
    """
    timeout = settings.number("EXAMPLE_TIMEOUT", DEFAULT_TIMEOUT)
    if settings.sandbox:  # talk to our simulator, mounted by the plugin's gateway_register_sandboxes
        return ExampleConfig(SANDBOX_SECRET, settings.public_url + SANDBOX_MOUNT, timeout, sandbox=True)
    secret, api_url = settings.get("EXAMPLE_SECRET"), settings.get("EXAMPLE_API_URL")
    if secret is None and api_url is None:
        log.info("example: disabled (EXAMPLE_SECRET and EXAMPLE_API_URL are not set)")
        return None
    if secret is None:
        raise ConfigError("EXAMPLE_SECRET", "is required when EXAMPLE_API_URL is set")
    if api_url is None:
        raise ConfigError("EXAMPLE_API_URL", "is required when EXAMPLE_SECRET is set")
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError("EXAMPLE_API_URL", "must be an http(s) URL")
    log.info("example: enabled at %s", api_url)  # never the secret
    return ExampleConfig(secret, api_url, timeout)
