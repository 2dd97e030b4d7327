"""gateway.testing: the conformance kit for provider plugins (a pytest plugin, entry point `pytest11`).

A provider author implements a `ProviderHarness` (how to start their simulator, configure the
provider against it, and sign a notification the way their provider does), then subclasses
`ProviderConformance` in a test module with a `harness` fixture. The suite checks behaviour
through the real gateway (HTTP API, notify pipeline, database), not the shape of a class:
known-answer signatures, tampered and unsigned notifications, duplicates applied once,
mismatches and unknown orders refused, time-outs reported as unknown, refund bounds, and no
secret in logs or error bodies.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpRequest:
    """A request as the provider would send it to `/notify/<provider>`."""

    method: str = "POST"
    query: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class KnownAnswer:
    """A notification whose signature was computed outside the code under test (the provider's
    documentation, its own SDK or demo code), with the settings (key) it was computed for."""

    name: str
    settings: Mapping[str, str]
    request: HttpRequest
    valid: bool = True


class ProviderHarness(ABC):
    """What the kit needs from a provider author. One instance per test."""

    provider_name: str  # the name the provider registers under
    channel: str  # a channel to create test orders with
    currency: str  # a currency to create test orders with
    amount: int = 1000  # minor units

    def order_options(self) -> Mapping[str, Any]:
        """`provider_options` for test orders."""
        return {}

    @abstractmethod
    def start(self) -> None:
        """Start the provider's simulator (a real HTTP server is best)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop what `start` started."""

    @abstractmethod
    def settings(self, public_url: str) -> Mapping[str, str]:
        """Environment-style settings that enable the provider against the simulator.

        `public_url` is the gateway's base URL (notifications go to `{public_url}/notify/<name>`).
        """

    @abstractmethod
    def secrets(self) -> Sequence[str]:
        """Every secret in `settings`: none may ever appear in a log line or a response."""

    @abstractmethod
    def paid_notification(
        self, order: Mapping[str, Any], *, amount: int | None = None, currency: str | None = None
    ) -> HttpRequest:
        """A correctly signed "this order is paid" notification for `order` (the API's order JSON).

        `amount`/`currency` override what the notification claims (still correctly signed).
        """

    @abstractmethod
    def tamper(self, request: HttpRequest) -> HttpRequest:
        """`request` with a signed field changed and the signature left as it was."""

    @abstractmethod
    def unsigned(self, request: HttpRequest) -> HttpRequest:
        """`request` with its signature removed."""

    @abstractmethod
    def delay_next(self, operation: str, seconds: float) -> None:
        """Make the simulator answer the next `operation` ("create_order" or "refund") late."""

    def known_answers(self) -> Sequence[KnownAnswer]:
        """Notifications signed outside the code under test. The kit requires at least one."""
        return ()
