"""The kit's check of another refund's answer with any one of its top-level fields left out fails IOTPay with the
bug IOTPay's third blind trial planted, and passes the built-in providers as they are.

IOTPay's refund answer is about this refund when it echoes the refund's number and amount; where it gives
`resCode`, an answer that echoes neither is IOTPay's bare acknowledgement, which the plugin takes. The trial made
the rule `all(echoed)` where it is `any(echoed)`: an answer that echoes only one of the two, and that one another
refund's, is then taken for this refund's success, a refund recorded made that never moved a cent. Another
refund's whole answer still fails the plugin's check (both echoed, both different), so only the answer with one
field left out shows the bug: without `refundAmount`, it still names the other refund by its number.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import (
    IOTPAY_AS_IT_IS,
    STRIPE_AS_IT_IS,
    assert_kit_failed,
    assert_kit_passed,
    run_planted_kit,
)

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

IOTPAY_KIT = """
import pytest
from gateway_iotpay import provider
from tests.iotpay.harness import IotPayHarness

from gateway.testing import ProviderConformance


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        # The refund's echo rule, and nothing else in the module, calls any(): all() in its place.
        monkeypatch.setattr(provider, "any", all, raising=False)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

CHECK = "given_to_another_without_any_one_field"


def test_the_check_passes_the_providers_as_they_are(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_planted_kit(pytester, STRIPE_AS_IT_IS, CHECK), exactly=1)
    assert_kit_passed(run_planted_kit(pytester, IOTPAY_AS_IT_IS, CHECK), exactly=1)


def test_iotpay_taking_an_answer_that_echoes_one_of_two_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT, CHECK)
    assert_kit_failed(result, "IOTPay's refund echo rule made all(echoed)", "without 'refundAmount'")
