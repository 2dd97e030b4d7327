"""IOTPay against the gateway's provider conformance kit (gateway.testing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.testing import ProviderConformance
from tests.iotpay.harness import IotPayHarness


class TestIotPayConformance(ProviderConformance):
    @pytest.fixture(autouse=True)
    def another_plugins_variables(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Half a Stripe configuration in the environment, as on a developer's machine: the kit
        disables every plugin but IOTPay's, so Stripe's never reads it (else: a ConfigError)."""
        monkeypatch.setenv("STRIPE_TIMEOUT", "5")

    @pytest.fixture
    def harness(self, tmp_path: Path) -> IotPayHarness:
        return IotPayHarness(tmp_path)
