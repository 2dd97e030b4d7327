"""The kit's checks of a refund listing past its first page, of refunds made outside any gateway and of
the largest notified amount, and Stripe's simulator refusing unknown parameters, fail Stripe, a
built-in provider, with a bug of each kind planted.

Each bug is planted for one pytester session, where an author would make it: the refund listing's
`limit` misspelt (Stripe refuses the unknown parameter, so every refund fails), only the first page
of a PaymentIntent's refunds read (a refund whose answer was lost, older than a page, is made again
by reconciliation once Stripe forgot its Idempotency-Key: paid back twice), the next page asked for
after the newest refund of a page instead of its oldest (the listing never reaches a third page, and
refunds past the 110th fail), a listing that never ends (its first page given as every page) taken
for "no such refund" after ten pages, or read on without end, a Refund's `payment_intent` read as
never null (a dashboard refund of a charge made without a PaymentIntent refused as malformed: Stripe
re-sends it for days), and an event's amount bounded one unit short of what a record holds.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

KIT_MODULE = """
import pytest
from marshmallow import fields, validate
from gateway.plugin import StrictInt
from gateway.testing import ProviderConformance
from gateway_stripe import client, provider, schemas
from tests.stripe.harness import StripeHarness

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "limit_misspelt":
            get = client.StripeClient.get
            def misspelt(self, path, params=None):
                if params and "limit" in params:
                    params = {{("limt" if name == "limit" else name): value for name, value in params.items()}}
                return get(self, path, params)
            monkeypatch.setattr(client.StripeClient, "get", misspelt)
        if BUG == "first_page_only":
            def first_page(self, payment_intent, refund_id):
                listed = self.client.get("/v1/refunds", {{"payment_intent": payment_intent, "limit": 100}})
                for item in schemas.loaded(schemas.RefundList(), listed)["data"]:
                    refund = schemas.loaded(schemas.Refund(), item)
                    if refund["metadata"].get("refund_id") == refund_id:
                        return refund
                return None
            monkeypatch.setattr(provider.StripeProvider, "_find_refund", first_page)
        if BUG == "pages_on_from_the_newest":
            def from_the_newest(self, payment_intent, refund_id):
                query = {{"payment_intent": payment_intent, "limit": 100}}
                for _ in range(provider.MAX_REFUND_PAGES):
                    page = schemas.loaded(schemas.RefundList(), self.client.get("/v1/refunds", query))
                    refunds = [schemas.loaded(schemas.Refund(), item) for item in page["data"]]
                    for refund in refunds:
                        if refund["metadata"].get("refund_id") == refund_id:
                            return refund
                    if not page["has_more"] or not refunds:
                        return None
                    query["starting_after"] = refunds[0]["id"]  # the page's first, not its last
                raise provider.OutcomeUnknown("too_many_refunds", "too many refunds listed")
            monkeypatch.setattr(provider.StripeProvider, "_find_refund", from_the_newest)
        if BUG in ("endless_listing_read_as_none", "endless_listing_read_on_and_on"):
            def endless(self, payment_intent, refund_id):
                query = {{"payment_intent": payment_intent, "limit": 100}}
                pages = 0
                while BUG == "endless_listing_read_on_and_on" or pages < provider.MAX_REFUND_PAGES:
                    pages += 1
                    page = schemas.loaded(schemas.RefundList(), self.client.get("/v1/refunds", query))
                    refunds = [schemas.loaded(schemas.Refund(), item) for item in page["data"]]
                    for refund in refunds:
                        if refund["metadata"].get("refund_id") == refund_id:
                            return refund
                    if not page["has_more"] or not refunds:
                        return None
                    query["starting_after"] = refunds[-1]["id"]
                return None  # read_as_none: ten pages without it taken for "no such refund"
            monkeypatch.setattr(provider.StripeProvider, "_find_refund", endless)
        if BUG == "refund_payment_intent_never_null":
            class Refund(schemas.Refund):
                payment_intent = fields.String(allow_none=False, load_default=None)
            monkeypatch.setattr(schemas, "Refund", Refund)
        if BUG == "event_amount_one_short":
            class PaymentIntentEvent(schemas.PaymentIntentEvent):
                amount = StrictInt(required=True, validate=validate.Range(min=1, max=2**63 - 2))
                amount_received = StrictInt(required=True, validate=validate.Range(min=0, max=2**63 - 2))
            monkeypatch.setattr(schemas, "PaymentIntentEvent", PaymentIntentEvent)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

pytestmark = pytest.mark.usefixtures("project_importable")
CHECKS = (
    "each_refund_shows_the_id or older_than_a_page or refund_made_outside_any_gateway "
    "or largest_declared_notified_amount or listing_that_never_ends"
)


def run_kit(pytester: pytest.Pytester, bug: str, selection: str) -> pytest.RunResult:
    return run_planted_kit(pytester, KIT_MODULE.format(bug=bug), selection)


def test_these_checks_pass_stripe_as_it_is(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "", CHECKS)
    assert_kit_passed(result, exactly=7)


@pytest.mark.parametrize(
    ("bug", "selection", "failure"),
    [
        ("limit_misspelt", "each_refund_shows_the_id", "Received unknown parameter: limt"),
        ("first_page_only", "older_than_a_page", "read every page of the provider's listing"),
        ("pages_on_from_the_newest", "older_than_a_page", "too_many_refunds"),
        (
            "endless_listing_read_as_none",
            "listing_that_never_ends",
            "NotFound would have reconciliation send the refund again",
        ),
        ("endless_listing_read_on_and_on", "listing_that_never_ends", "bound the pages one lookup reads"),
        ("refund_payment_intent_never_null", "refund_made_outside_any_gateway", "acknowledge it as ignored"),
        ("event_amount_one_short", "largest_declared_notified_amount", "harness.largest_notified_amount"),
    ],
)
def test_these_checks_fail_stripe_with_a_planted_bug(
    pytester: pytest.Pytester, bug: str, selection: str, failure: str
) -> None:
    result = run_kit(pytester, bug, selection)
    assert_kit_failed(result, f"Stripe with {bug!r} planted", failure)
