"""IOTPay against the gateway's provider conformance kit (gateway.testing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.testing import ProviderConformance
from tests.iotpay.harness import IotPayHarness


class TestIotPayConformance(ProviderConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> IotPayHarness:
        return IotPayHarness(tmp_path)
