"""A provider that belongs to no one, for the core's own tests: Example Pay (examples/), with its
simulator, so that a core test fails for the core's reasons, never for IOTPay's or Stripe's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gateway-example-provider"


@pytest.fixture
def neutral_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderHarness]:
    """Example Pay's harness, its simulator started (channel `wallet`, USD and JPY, HMAC-signed JSON)."""
    monkeypatch.syspath_prepend(str(EXAMPLE))  # loaded by module path (GATEWAY_PLUGINS), as not installed here
    from gateway_example_provider.harness import ExampleHarness

    harness = ExampleHarness(tmp_path)
    harness.start()
    yield harness
    harness.stop()


@pytest.fixture
def neutral_app(app_factory: Callable[..., Any], neutral_provider: ProviderHarness, gateway_server: LiveServer) -> Any:
    """The gateway with Example Pay as its only provider."""
    return app_factory(
        GATEWAY_PLUGINS="gateway_example_provider.plugin",
        GATEWAY_DISABLED_PLUGINS="iotpay,stripe",
        **neutral_provider.settings(gateway_server.url),
    )


@pytest.fixture
def neutral_client(neutral_app: Any) -> Any:
    return neutral_app.test_client()
