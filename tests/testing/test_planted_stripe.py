"""The kit's time and refund-notification checks fail Stripe, a built-in provider, with a bug planted.

Example Pay signs no timestamps and sends no refund notifications, so these bugs are planted in
Stripe's own plugin, for one pytester session each: the provider reading the wall clock instead
of the gateway's (`Provider.clock`); one that checks the signature but not how old it is; a refund
event read as a payment; and refund events verified and thrown away.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

KIT_MODULE = """
import pytest
from gateway.plugin import Notification, NotificationRejected, Verdict
from gateway.plugin.clock import SYSTEM_CLOCK
from gateway.testing import ProviderConformance
from gateway_stripe import provider, signing
from tests.stripe.harness import StripeHarness

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "wall_clock_not_the_gateways":  # time.time(), whatever clock the gateway gives it
            wall = property(lambda self: SYSTEM_CLOCK, lambda self, clock: None)
            monkeypatch.setattr(provider.StripeProvider, "clock", wall, raising=False)
        if BUG == "refund_event_read_as_a_payment":  # what the PaymentIntent path would make of it
            def paid(self, event, obj):
                return Notification(obj["metadata"]["merchant_order_no"], obj["amount"], obj["currency"].upper(), True)
            monkeypatch.setattr(provider.StripeProvider, "_refund_notification", paid)
        if BUG == "refund_events_ignored":  # verified and thrown away: the refund waits for reconcile
            def ignored(self, event, obj):
                raise NotificationRejected(Verdict.IGNORED, "not about a payment")
            monkeypatch.setattr(provider.StripeProvider, "_refund_notification", ignored)
        if BUG == "no_replay_window":
            verify = signing.verify
            monkeypatch.setattr(signing, "verify", lambda *a, **k: verify(*a, **{{**k, "tolerance": 10**9}}))

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = (
    "test_a_signed_timestamp or test_known_answer or test_a_refund_notification"
    " or test_a_pending_refund_is_settled_by_the_providers_own_notification"
)


def run_kit(pytester: pytest.Pytester, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, KIT_MODULE.format(bug=bug), SELECTION)


def test_these_checks_pass_stripe_as_it_is(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "")
    assert_kit_passed(result, exactly=7)


@pytest.mark.parametrize(
    ("bug", "failure"),
    [
        ("wall_clock_not_the_gateways", "never time.time()"),
        ("no_replay_window", "never time.time()"),
        ("refund_event_read_as_a_payment", "the gateway never made was applied"),
        ("refund_events_ignored", "must return RefundNotification"),
    ],
)
def test_these_checks_fail_stripe_with_a_planted_bug(pytester: pytest.Pytester, bug: str, failure: str) -> None:
    result = run_kit(pytester, bug)
    assert_kit_failed(result, f"Stripe with {bug!r} planted", failure)
