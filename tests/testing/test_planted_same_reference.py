"""The kit's check of a query answer naming another payment under the order's reference fails one bug, and passes
Example Pay, IOTPay and Stripe as they are, and Example Pay with a bug that does no harm:

- Example Pay's `query_order` checking only the reference of the payment answered and reporting the provider
  order id it asked about: the core's comparison of ids then compares the order with itself, and another
  payment under the same reference pays the order;
- (no harm) the same check of the reference alone, the id reported as answered (a fourth blind trial's bug 02):
  the core keeps the payment off the order as a `mismatch`, and the kit passes it.
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

EXAMPLE_KIT = """
import dataclasses

import pytest
from gateway_example_provider import schemas
from gateway_example_provider.provider import ExampleProvider
from tests.testing.example_by_path import ExampleByPath

from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedExample(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        def by_reference(self, order):  # "the reference is ours: the answer is this order's"
            payment = schemas.Payment().load(self.client.call("query_order", {{"reference": order.merchant_order_no}}))
            notification = self._notification(payment)
            if BUG == "asked_id_reported":
                notification = dataclasses.replace(notification, provider_order_id=order.provider_order_id)
            return notification

        if BUG:
            monkeypatch.setattr(ExampleProvider, "query_order", by_reference)

    @pytest.fixture
    def harness(self, tmp_path):
        return ExampleByPath(tmp_path)
"""

SAME_REFERENCE = "another_payment_under_the_orders_reference"


@pytest.mark.parametrize(
    "kit",
    [EXAMPLE_KIT.format(bug=""), EXAMPLE_KIT.format(bug="answered_id_reported"), IOTPAY_AS_IT_IS, STRIPE_AS_IT_IS],
)
def test_the_check_passes_each_plugin_as_it_is_and_the_harmless_bug(pytester: pytest.Pytester, kit: str) -> None:
    assert_kit_passed(run_planted_kit(pytester, kit, SAME_REFERENCE), exactly=1)


def test_example_pay_reporting_the_id_it_asked_about_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, EXAMPLE_KIT.format(bug="asked_id_reported"), SAME_REFERENCE)
    assert_kit_failed(result, "Example Pay reporting the id it asked about", "report the provider order id the answer")
