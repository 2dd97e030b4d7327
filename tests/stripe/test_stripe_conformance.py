"""Stripe against the gateway's provider conformance kit (gateway.testing).

Named test_stripe_conformance.py, not test_conformance.py: tests/iotpay has one, and without
__init__.py files pytest imports both under the same bare module name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.testing import ProviderConformance
from tests.stripe.harness import StripeHarness


class TestStripeConformance(ProviderConformance):
    @pytest.fixture(autouse=True)
    def another_plugins_variables(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Half an IOTPay configuration in the environment, as on a developer's machine: the kit
        disables every plugin but Stripe's, so IOTPay's never reads it (else: a ConfigError)."""
        monkeypatch.setenv("IOTPAY_MCH_ID", "1")

    @pytest.fixture
    def harness(self, tmp_path: Path) -> StripeHarness:
        return StripeHarness(tmp_path)
