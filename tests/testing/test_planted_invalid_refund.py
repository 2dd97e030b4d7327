"""The kit's check of the refunds a harness declares invalid (`invalid_refunds`) fails Stripe, a built-in
provider, with a bug of each kind planted.

Stripe takes amounts in three-decimal currencies (KWD) only when they end in 0, refunds as payments. Each
bug is planted for one pytester session, where an author would make it: the rule left out of refunds (the
refund goes to Stripe, which the simulator, kinder than Stripe, takes: money moves that Stripe's rules
refuse), the refund sent and then refused all the same (the money moved; the record says failed), and
the refusal given a code of the author's own, not the one the provider's page documents.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

KIT_MODULE = """
import pytest
from marshmallow import ValidationError
from gateway_stripe import provider, schemas
from tests.stripe.harness import StripeHarness

from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "rule_left_out_of_refunds":
            def create_refund(self, request, payment_intent):
                metadata = {{"refund_id": request.refund_id, "merchant_order_no": request.order.merchant_order_no}}
                params = {{"payment_intent": payment_intent, "amount": request.amount, "metadata": metadata}}
                raw = self.client.post("/v1/refunds", params, idempotency_key=request.refund_id)
                return provider._own(provider._load(schemas.Refund(), raw, "Refund"), request.refund_id)
            monkeypatch.setattr(provider.StripeProvider, "_create_refund", create_refund)
        if BUG == "refused_after_sending":
            create_refund = provider.StripeProvider._create_refund
            def sent_anyway(self, request, payment_intent):
                if self.info.currencies.get(request.currency) == 3 and request.amount % 10:
                    metadata = {{"refund_id": request.refund_id, "merchant_order_no": request.order.merchant_order_no}}
                    params = {{"payment_intent": payment_intent, "amount": request.amount, "metadata": metadata}}
                    self.client.post("/v1/refunds", params, idempotency_key=request.refund_id)
                return create_refund(self, request, payment_intent)
            monkeypatch.setattr(provider.StripeProvider, "_create_refund", sent_anyway)
        if BUG == "a_code_of_its_own":
            create_refund = provider.StripeProvider._create_refund
            def own_code(self, request, payment_intent):
                try:
                    return create_refund(self, request, payment_intent)
                except provider.Refused as refused:
                    raise provider.Refused("amount_not_rounded", refused.message) from None
            monkeypatch.setattr(provider.StripeProvider, "_create_refund", own_code)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

pytestmark = pytest.mark.usefixtures("project_importable")
CHECK = "refund_against_the_providers_rules"


def run_kit(pytester: pytest.Pytester, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, KIT_MODULE.format(bug=bug), CHECK)


def test_the_check_passes_stripe_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_kit(pytester, ""), exactly=1)


@pytest.mark.parametrize(
    ("bug", "failure"),
    [
        ("rule_left_out_of_refunds", "not [('failed', 'invalid_amount')]"),
        ("refused_after_sending", "the simulator refunded 5 though the refund failed"),
        ("a_code_of_its_own", "('failed', 'amount_not_rounded')"),
    ],
)
def test_the_check_fails_stripe_with_a_planted_bug(pytester: pytest.Pytester, bug: str, failure: str) -> None:
    assert_kit_failed(run_kit(pytester, bug), f"Stripe with {bug!r} planted", failure)
