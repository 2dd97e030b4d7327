"""The kit's check of a failed refund notification's code fails Stripe with two bugs its mutation run left alive,
and passes it as it is:

- the failure code given only for outcomes other than `failed`, so a refund Stripe reports failed reaches the
  core without Stripe's code;
- the failure code given for every outcome but `failed`.

The core stores `refund_failed` for a failed refund whose notification carries no code, which is also one of
Stripe's declared codes: read through the API alone, the first bug looked right. The kit now reads the
`RefundNotification` the plugin returns.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import STRIPE_AS_IT_IS, assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

STRIPE_KIT = """
import dataclasses

import pytest
from gateway_stripe.provider import StripeProvider
from tests.stripe.harness import StripeHarness

from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        read = StripeProvider._refund_notification

        def planted_read(self, event, obj):
            notification = read(self, event, obj)
            if BUG == "code_on_other_states":  # the code given where the outcome is not "failed"
                code = None if notification.outcome == "failed" else f"refund_{{notification.outcome}}"
                return dataclasses.replace(notification, failure_code=code)
            if BUG == "code_never":  # "the message says it all"
                return dataclasses.replace(notification, failure_code=None)
            return notification

        monkeypatch.setattr(StripeProvider, "_refund_notification", planted_read)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

CHECK = "failed_refund_notification_carries_the_declared_code"


def test_the_check_passes_stripe_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_planted_kit(pytester, STRIPE_AS_IT_IS, CHECK), exactly=1)


@pytest.mark.parametrize("bug", ["code_on_other_states", "code_never"])
def test_stripe_without_its_failed_refunds_code_fails(pytester: pytest.Pytester, bug: str) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug=bug), CHECK)
    assert_kit_failed(result, f"Stripe's refund notification: {bug}", "gives failure_code None, not one of")
