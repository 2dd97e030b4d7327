"""The kit's checks of the code on every unclear answer and of the provider's declared refusals fail
Stripe, a built-in provider, with a bug of each kind planted.

Each bug is planted for one pytester session, where an author would make it: a create answer without
`client_secret` given a code of its own instead of the documented `invalid_response` (a merchant
branching on the code misses it), and Stripe's error `code` read as never null, though Stripe's
errors reference calls it nullable (a refusal with `"code": null` read as an unclear answer: the
order nothing created waits for ever instead of failing), and a PaymentIntent answer's `object` made
optional (an answer that no longer says it is a PaymentIntent read as one), and a `charge.refunded`
event read as if its charge always listed its refunds (the simulator's own, genuine, events crash the
notify endpoint), and a Refund answer's `amount` made optional (a refund answered without its amount, which
Stripe always gives, crashes the refund instead of leaving it unknown), and "no such refund" given a code
of the plugin's own that stripe.md does not document.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

KIT_MODULE = """
import pytest
from marshmallow import fields
from gateway.plugin import NotFound, OutcomeUnknown
from gateway.testing import ProviderConformance
from gateway_stripe import provider, schemas
from tests.stripe.harness import StripeHarness

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "no_client_secret_coded_on_its_own":
            create = provider.StripeProvider.create_order
            def coded(self, request):
                try:
                    return create(self, request)
                except OutcomeUnknown as exc:
                    if "client_secret" in exc.message:
                        raise OutcomeUnknown("no_client_secret", exc.message) from None
                    raise
            monkeypatch.setattr(provider.StripeProvider, "create_order", coded)
        if BUG == "error_code_never_null":
            class Body(schemas._ErrorBody):
                code = fields.String(allow_none=False, load_default=None)
            class Error(schemas.Error):
                error = fields.Nested(Body, required=True)
            monkeypatch.setattr(schemas, "Error", Error)
        if BUG == "kind_of_answer_optional":
            class PaymentIntent(schemas.PaymentIntent):
                object_ = fields.String(data_key="object", validate=lambda kind: kind == "payment_intent")
            monkeypatch.setattr(schemas, "PaymentIntent", PaymentIntent)
        if BUG == "refund_amount_assumed":  # "a refund answer is for the amount we asked"
            class Refund(schemas.Refund):
                amount = fields.Integer()
            monkeypatch.setattr(schemas, "Refund", Refund)
        if BUG == "not_found_coded_its_own_way":  # "not found is not found: 'missing' says it"
            query = provider.StripeProvider.query_refund
            def recoded(self, refund):
                try:
                    return query(self, refund)
                except NotFound as exc:
                    raise NotFound("missing", exc.message) from None
            monkeypatch.setattr(provider.StripeProvider, "query_refund", recoded)
        if BUG == "charge_refunds_assumed_listed":
            read = provider.StripeProvider._refund_notification
            def assumed(self, event, obj):
                if obj.get("object") == "charge":
                    obj = obj["refunds"]["data"][0]  # Stripe leaves them out of events since 2022-11-15
                return read(self, event, obj)
            monkeypatch.setattr(provider.StripeProvider, "_refund_notification", assumed)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

pytestmark = pytest.mark.usefixtures("project_importable")
CHECKS = (
    "create_answer_with_a_field_garbled or declared_refusal or own_notifications or documentation_requires "
    "or query_of_a_refund_the_provider_refused"
)


def run_kit(pytester: pytest.Pytester, bug: str, selection: str) -> pytest.RunResult:
    return run_planted_kit(pytester, KIT_MODULE.format(bug=bug), selection)


def test_these_checks_pass_stripe_as_it_is(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "", CHECKS)
    assert_kit_passed(result, exactly=7)


@pytest.mark.parametrize(
    ("bug", "selection", "failure"),
    [
        ("no_client_secret_coded_on_its_own", "create_answer_with_a_field_garbled", "harness.invalid_answer_code"),
        ("error_code_never_null", "declared_refusal", "with its declared refusal"),
        ("kind_of_answer_optional", "create_answer_with_a_field_garbled", "harness.answer_kind_field"),
        ("charge_refunds_assumed_listed", "own_notifications", "genuine, got server errors"),
        ("refund_amount_assumed", "documentation_requires", "refund answer without 'amount'"),
        ("not_found_coded_its_own_way", "query_of_a_refund_the_provider_refused", "(harness.not_found_codes)"),
    ],
)
def test_these_checks_fail_stripe_with_a_planted_bug(
    pytester: pytest.Pytester, bug: str, selection: str, failure: str
) -> None:
    result = run_kit(pytester, bug, selection)
    assert_kit_failed(result, f"Stripe with {bug!r} planted", failure)
