"""Example Pay's configuration from the gateway's settings (EXAMPLE_* variables)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.plugin import DEFAULT_READ_TIMEOUT, Settings

log = logging.getLogger(__name__)

NAME = "example"  # the provider's name: /notify/example, and its simulator's mount /sandbox/example
DEFAULT_TIMEOUT = DEFAULT_READ_TIMEOUT
# Made up, shared by the provider and the simulator in sandbox mode. Not a secret, but handled as one.
SANDBOX_SECRET = "example-sandbox-secret"


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
        from gateway.sandbox import sandbox_url  # outside the sandbox, a worker never imports gateway.sandbox

        return ExampleConfig(SANDBOX_SECRET, sandbox_url(settings, NAME), timeout, sandbox=True)
    if not settings.any_set(("EXAMPLE_SECRET", "EXAMPLE_API_URL")):
        log.info("example: disabled (EXAMPLE_SECRET and EXAMPLE_API_URL are not set)")
        return None
    # Each ConfigError names the setting at fault, never its value.
    secret = settings.required("EXAMPLE_SECRET", "when EXAMPLE_API_URL is set")
    # https, or plain http to this machine only: signed calls never cross a network in clear text.
    api_url = settings.service_url(
        "EXAMPLE_API_URL", settings.required("EXAMPLE_API_URL", "when EXAMPLE_SECRET is set")
    )
    log.info("example: enabled at %s", api_url)  # never the secret
    return ExampleConfig(secret, api_url, timeout)
