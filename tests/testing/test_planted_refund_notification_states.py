"""The kit's check of a refund notification's states fails Stripe with two bugs of the webhook's own reading, and
passes it as it is.

A blind trial planted the first: `requires_action` read as succeeded in `refund.updated`, so a refund still waiting
on Stripe was settled succeeded while no money had moved. The kit judged the states of the answer to a refund
(`refund_states`), but the webhook path reads them on its own. Planted:

- `requires_action` read as succeeded ("Stripe accepted it");
- `canceled` read as pending ("it may still be retried"), so a refund that never happens stays open.
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
            status = obj.get("status")
            if BUG == "requires_action_succeeded" and status == "requires_action":
                return dataclasses.replace(notification, outcome="succeeded")
            if BUG == "canceled_pending" and status == "canceled":
                return dataclasses.replace(notification, outcome="pending", failure_code=None, failure_message=None)
            return notification

        monkeypatch.setattr(StripeProvider, "_refund_notification", planted_read)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

CHECK = "state_of_a_refund_notification"


def test_the_check_passes_stripe_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_planted_kit(pytester, STRIPE_AS_IT_IS, CHECK), exactly=1)


@pytest.mark.parametrize(
    ("bug", "shown"),
    [
        ("requires_action_succeeded", "data.object.status='requires_action' (pending) read as"),
        ("canceled_pending", "data.object.status='canceled' (failed) read as"),
    ],
)
def test_stripe_misreading_a_refund_events_state_fails(pytester: pytest.Pytester, bug: str, shown: str) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug=bug), CHECK)
    assert_kit_failed(result, f"Stripe's refund webhook: {bug}", shown)
