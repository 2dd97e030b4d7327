"""The kit's check of one refund's answer given to another refund of the same payment and amount fails Stripe as it
was, and passes the built-in providers as they are.

A blind trial found it: Stripe's `refund()` compared the answer's amount, currency and PaymentIntent with the refund
asked for, never its `metadata.refund_id`; two refunds of one payment and one amount then differ in nothing else, so
an answer about the first (a proxy's mix-up) made the second succeeded, a refund recorded that never moved a cent.
The kit's check of an answer given to another refund used another order's, whose PaymentIntent differs.
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

STRIPE_KIT = """
import pytest
from gateway_stripe import provider
from tests.stripe.harness import StripeHarness

from gateway.testing import ProviderConformance


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        monkeypatch.setattr(provider, "_own", lambda refund, refund_id: refund)  # "the PaymentIntent says whose"

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

CHECK = "given_to_another_of_the_same_amount"


def test_the_check_passes_the_providers_as_they_are(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_planted_kit(pytester, STRIPE_AS_IT_IS, CHECK), exactly=1)
    assert_kit_passed(run_planted_kit(pytester, IOTPAY_AS_IT_IS, CHECK), exactly=1)


def test_stripe_taking_another_refunds_answer_of_the_same_amount_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT, CHECK)
    assert_kit_failed(
        result, "Stripe not checking the refund's metadata", "another refund of the same order and amount"
    )
