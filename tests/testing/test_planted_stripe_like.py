"""The kit's checks of checkout parameters, paid times, shared accounts and downgraded addresses fail
Stripe with a bug planted.

Each check runs on a harness declaration (`sdk_params`, `notifications_carry_paid_time`,
`notifications_reach_every_endpoint`, `api_url_setting`) that Example Pay has no use for, so the
bugs are planted in Stripe's own plugin, one pytester session each: the client secret left out of
what the checkout is handed; a payment dated when its notification arrived; no tag of the gateway
on its PaymentIntents, so that another gateway's events on the same account are refused here, and
a dashboard payment's event refused; a
plain http address accepted from a provider served over https; a PaymentIntent's status made
optional, and a refund's status that defaults to succeeded (answers with one field garbled).
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

KIT_MODULE = """
import dataclasses
import pytest
from gateway.plugin import NextAction, NotificationRejected, Verdict
from gateway.testing import ProviderConformance
from marshmallow import fields
from gateway_stripe import provider, schemas
from tests.stripe.harness import StripeHarness

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "client_secret_not_handed_to_checkout":  # the publishable key alone: Stripe.js cannot confirm
            create = provider.StripeProvider.create_order
            def without_secret(self, request):
                created = create(self, request)
                params = {{k: v for k, v in created.next_action.params.items() if k != "client_secret"}}
                return dataclasses.replace(created, next_action=NextAction(created.next_action.type, params=params))
            monkeypatch.setattr(provider.StripeProvider, "create_order", without_secret)
        if BUG == "paid_when_notified":  # the event's time thrown away: the gateway's receipt time instead
            verify = provider.StripeProvider.verify_notification
            def undated(self, request):
                found = verify(self, request)
                return dataclasses.replace(found, paid_at=None) if hasattr(found, "paid_at") else found
            monkeypatch.setattr(provider.StripeProvider, "verify_notification", undated)
        if BUG == "no_gateway_tag":  # PaymentIntents carry no mark of the gateway that made them
            init = provider.StripeProvider.__init__
            def untagged(self, config, *args, **kwargs):
                init(self, dataclasses.replace(config, instance=""), *args, **kwargs)
            monkeypatch.setattr(provider.StripeProvider, "__init__", untagged)
        if BUG == "outside_payments_refused":  # a dashboard payment's event refused: Stripe re-sends it for days
            verify = provider.StripeProvider.verify_notification
            def refusing(self, request):
                try:
                    return verify(self, request)
                except NotificationRejected as rejection:
                    if "not created by the gateway" in str(rejection):
                        raise NotificationRejected(Verdict.UNKNOWN_ORDER, "no such order") from None
                    raise
            monkeypatch.setattr(provider.StripeProvider, "verify_notification", refusing)
        if BUG == "intent_status_optional":  # a PaymentIntent without its status is read, then crashes
            monkeypatch.setitem(schemas.PaymentIntent._declared_fields, "status", fields.String())
        if BUG == "refund_status_defaults_to_succeeded":  # a refund without its status taken as settled
            monkeypatch.setitem(schemas.Refund._declared_fields, "status", fields.String(load_default="succeeded"))
        if BUG == "plain_http_accepted":  # any http(s) address, whatever the API is served over
            monkeypatch.setattr(provider, "_schemes", lambda api_url: ("https://", "http://"))

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = (
    "sdk_needs or late_paid_notification or shared_account or served_over_https or field_garbled or outside_any_gateway"
)


def run_kit(pytester: pytest.Pytester, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, KIT_MODULE.format(bug=bug), SELECTION)


def test_these_checks_pass_stripe_as_it_is(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "")
    assert_kit_passed(result, exactly=13)


@pytest.mark.parametrize(
    ("bug", "failure"),
    [
        ("client_secret_not_handed_to_checkout", "the payer's checkout needs it"),
        ("paid_when_notified", "when it arrived, not when the provider says"),
        ("no_gateway_tag", "another gateway's paid notification on the same account"),
        ("plain_http_accepted", "accept plain http only where the provider's own address is plain http"),
        ("outside_payments_refused", "a payment no gateway made was recorded as"),
        ("intent_status_optional", "'status' left out"),
        ("refund_status_defaults_to_succeeded", "'status' left out"),
    ],
)
def test_these_checks_fail_stripe_with_a_planted_bug(pytester: pytest.Pytester, bug: str, failure: str) -> None:
    result = run_kit(pytester, bug)
    assert_kit_failed(result, f"Stripe with {bug!r} planted", failure)
