"""The kit's check of `harness.display_name` fails IOTPay shown under another name, and passes it as it is.

`/v1/providers` gives each provider's `display_name`, which a checkout shows its payers beside the pay button;
a name other than the one the provider's own pages use (here the registered name, `iotpay`, where IOTPay
writes "IOTPay") is what a payer sees and does not recognise.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

IOTPAY_KIT = """
import dataclasses

import pytest
from gateway_iotpay.provider import IotPayProvider
from tests.iotpay.harness import IotPayHarness

from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "registered_name_shown":  # "the display name is the provider's name"
            init = IotPayProvider.__init__

            def named(self, *args, **kwargs):
                init(self, *args, **kwargs)
                self.info = dataclasses.replace(self.info, display_name=self.info.name)

            monkeypatch.setattr(IotPayProvider, "__init__", named)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

DECLARED = "declared_capabilities_are_well_formed"


def test_the_check_passes_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_planted_kit(pytester, IOTPAY_KIT.format(bug=""), DECLARED), exactly=1)


def test_iotpay_shown_under_its_registered_name_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="registered_name_shown"), DECLARED)
    assert_kit_failed(result, "IOTPay shown as 'iotpay'", "/v1/providers shows iotpay as ['iotpay'], not 'IOTPay'")
