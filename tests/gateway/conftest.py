"""A provider that belongs to no one, for the core's own tests: Example Pay (examples/), with its
simulator, so that a core test fails for the core's reasons, never for a real provider's.

A module marked `neutral` (`pytestmark = pytest.mark.neutral`) gets the gateway with Example Pay as
its only provider (every other installed provider plugin disabled) from `app_factory`, `app` and
`client`; elsewhere `neutral_factory(**settings)`, `neutral_app` and `neutral_client` give it. The
order a core test sends is `neutral_order`'s; the payer pays with `neutral_provider.pay(order)`
(tests/support/flows.py: `order_with`, `paid_with`); the simulator misbehaves on
`neutral_provider.simulator.fault_next(...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer
from tests.support.plugins import all_plugins_but

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gateway-example-provider"
NEUTRAL_PLUGIN = "gateway_example_provider.plugin"  # loaded by module path (GATEWAY_PLUGINS): not installed here
NEUTRAL_NAME = "example"  # its entry point's name, should it be installed


@pytest.fixture
def neutral_plugin(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The settings that load Example Pay's plugin and disable every installed provider plugin (it is
    importable for the test's length: loaded by module path, as it is not installed here)."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return {"GATEWAY_PLUGINS": NEUTRAL_PLUGIN, "GATEWAY_DISABLED_PLUGINS": all_plugins_but(NEUTRAL_NAME)}


@pytest.fixture
def neutral_provider(tmp_path: Path, neutral_plugin: dict[str, str]) -> Iterator[ProviderHarness]:
    """Example Pay's harness, its simulator started (channel `wallet`, USD and JPY, HMAC-signed JSON)."""
    from gateway_example_provider.harness import ExampleHarness

    harness = ExampleHarness(tmp_path)
    harness.start()
    yield harness
    harness.stop()


def neutral_settings(harness: ProviderHarness, public_url: str) -> dict[str, str]:
    """The settings that make Example Pay, talking to `harness`'s simulator, the gateway's only provider."""
    return {
        "GATEWAY_PLUGINS": NEUTRAL_PLUGIN,
        "GATEWAY_DISABLED_PLUGINS": all_plugins_but(NEUTRAL_NAME),
        **harness.settings(public_url),
    }


@pytest.fixture
def app_factory(app_factory: Callable[..., Any], request: pytest.FixtureRequest) -> Callable[..., Any]:
    """The switch: in a test marked `neutral` (most modules here: `pytestmark = pytest.mark.neutral`),
    `app_factory` and so `app` and `client` are `neutral_factory`'s."""
    if request.node.get_closest_marker("neutral") is None:
        return app_factory
    harness: ProviderHarness = request.getfixturevalue("neutral_provider")
    server: LiveServer = request.getfixturevalue("gateway_server")

    def build(**extra: Any) -> Any:
        return app_factory(**{**neutral_settings(harness, server.url), **extra})

    return build


@pytest.fixture
def neutral_factory(
    app_factory: Callable[..., Any], neutral_provider: ProviderHarness, gateway_server: LiveServer
) -> Callable[..., Any]:
    """`app_factory` with Example Pay as the only provider, in any test; keyword settings are laid over it."""

    def build(**extra: Any) -> Any:
        return app_factory(**{**neutral_settings(neutral_provider, gateway_server.url), **extra})

    return build


@pytest.fixture
def neutral_app(neutral_factory: Callable[..., Any]) -> Any:
    """The gateway with Example Pay as its only provider."""
    return neutral_factory()


@pytest.fixture
def neutral_client(neutral_app: Any) -> Any:
    return neutral_app.test_client()


@pytest.fixture
def neutral_order(neutral_provider: ProviderHarness) -> dict[str, Any]:
    """The body of a valid `POST /v1/orders` for Example Pay (12.50 USD on `wallet`)."""
    return {
        "channel": neutral_provider.channel,
        "amount": neutral_provider.amount,
        "currency": neutral_provider.currency,
        "subject": "Tea",
        "body": "Green",
    }
