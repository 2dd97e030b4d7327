"""The kit's check of a connection check told that its impossible order exists fails three bugs, and passes
Example Pay, IOTPay and Stripe as they are:

- Example Pay's `check()` taking any answer it can read for a working connection ("it answered, so the key
  works"), so `gateway check` passes whatever the provider said;
- IOTPay's `check()` reading a found order as the gateway's settings refused (`ProviderMisconfigured`), so an
  operator is sent to the keys when the provider said something else;
- IOTPay's `check()` giving the unclear answer a code of its own, not the `INVALID_RESPONSE` its page documents
  (the code of the tenth round's surviving mutant on that line).
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import STRIPE_AS_IT_IS, assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

EXAMPLE_KIT = """
import pytest
from gateway_example_provider.provider import ExampleProvider
from tests.testing.example_by_path import ExampleByPath

from gateway.plugin import NotFound
from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedExample(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "any_answer_passes":  # "it answered a signed call: the key works"
            def check(self):
                try:
                    self.client.call("query_order", {{"reference": "gateway-check"}})
                except NotFound:
                    pass
                return "Example Pay answered"

            monkeypatch.setattr(ExampleProvider, "check", check)

    @pytest.fixture
    def harness(self, tmp_path):
        return ExampleByPath(tmp_path)
"""

IOTPAY_KIT = """
import pytest
from gateway_iotpay.provider import IotPayProvider
from tests.iotpay.harness import IotPayHarness

from gateway.plugin import OutcomeUnknown, ProviderMisconfigured
from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        check = IotPayProvider.check

        def planted_check(self):
            try:
                return check(self)
            except OutcomeUnknown as error:
                if BUG == "found_is_misconfigured":  # "the check failed: the settings are wrong"
                    raise ProviderMisconfigured("0015", error.message) from None
                if BUG == "found_has_its_own_code":  # "a code that says what happened"
                    raise OutcomeUnknown("ORDER_FOUND", error.message) from None
                raise

        monkeypatch.setattr(IotPayProvider, "check", planted_check)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

FOUND = "impossible_order_exists"


@pytest.mark.parametrize("kit", [EXAMPLE_KIT.format(bug=""), IOTPAY_KIT.format(bug=""), STRIPE_AS_IT_IS])
def test_the_check_passes_each_plugin_as_it_is(pytester: pytest.Pytester, kit: str) -> None:
    assert_kit_passed(run_planted_kit(pytester, kit, FOUND), exactly=1)


def test_example_pay_passing_its_check_on_any_answer_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, EXAMPLE_KIT.format(bug="any_answer_passes"), FOUND)
    assert_kit_failed(result, "Example Pay's check() passing on any answer", "and still said 'Example Pay answered'")


def test_iotpay_blaming_the_settings_for_a_found_order_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="found_is_misconfigured"), FOUND)
    assert_kit_failed(result, "IOTPay's check() reading a found order as misconfigured", "raised ProviderMisconfigured")


def test_iotpay_giving_a_found_order_a_code_of_its_own_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="found_has_its_own_code"), FOUND)
    assert_kit_failed(result, "IOTPay's check() coding a found order ORDER_FOUND", "(harness.invalid_answer_code)")
