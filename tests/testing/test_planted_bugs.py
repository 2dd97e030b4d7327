"""The kit fails every planted bug class, and passes the same provider without one.

Each case runs the kit's own tests, in a pytest session of their own (pytester), against
Example Pay with one bug planted (tests/testing/planted.py): the 11 bug classes the kit caught
before, the 7 contract v2 named, and 7 of kinds nobody had named (issue 20). The selection is the
kit test meant to catch the bug; the control run shows the whole kit passes the unbugged provider,
so a failure is the bug's doing.
"""

from __future__ import annotations

import pytest

from tests.testing.bug_classes import BUGS

pytest_plugins = ["pytester"]

KIT_MODULE = """
import pytest
from gateway.testing import ProviderConformance
from tests.testing.planted import PlantedHarness


class TestPlanted(ProviderConformance):
    @pytest.fixture
    def harness(self, tmp_path):
        return PlantedHarness(tmp_path, bug={bug!r})
"""

# The kit test that catches each bug (a -k expression), and words of the failure it must report:
# a failure for another reason (a crash in the planted code, say) is not the bug being caught.
CAUGHT_BY = {
    "no_signature_check": ("test_forged_notification_is_rejected", "expected [bad_signature]"),
    "every_event_paid": ("test_unpaid_notification_is_acknowledged", "must return it with paid=False"),
    "new_refund_key_per_retry": ("test_refund_time_out_is_unknown", "once per refund_id"),
    "refunds_the_whole_amount": ("test_partial_refund_amount_reaches_the_provider", "recorded 1250 refunded, not 625"),
    "timeout_reported_as_refusal": ("test_create_order_time_out", "answered 502"),
    "timeout_setting_ignored": ("test_create_order_time_out", "answered 201"),
    "secret_in_error_message": ("test_provider_error_messages_carry_no_secret", "secrets leak"),
    "always_answers_200": ("test_forged_notification_is_rejected", "is the accepted reply"),
    "bad_signature_reported_as_malformed": ("test_forged_notification_is_rejected", "recorded as ['malformed']"),
    "verifies_reserialised_json": ("test_known_answer_signatures", "signed correctly, but verify_notification"),
    "wrong_order_reference": ("test_a_payment_whose_notification_was_lost_is_found_by_refresh", "not_found"),
    "query_never_recognises_paid": ("test_a_payment_whose_notification_was_lost", "report paid=True"),
    "pending_refund_reported_as_succeeded": ("test_a_pending_refund_is_never", "must show as pending"),
    "refusal_reported_as_unclear": ("test_a_refusal_is_reported_as_refused", "provider_outcome_unknown"),
    "cancelled_payment_not_closed": ("test_a_payment_closed_at_the_provider", "Notification(cancelled=True)"),
    # Contract v2 refuses the provider at start-up, before any test can run: the kit's gateway errors.
    "jpy_with_two_decimals": ("test_every_declared_currency", "JPY has 0 decimals in ISO 4217, not 2"),
    "no_id_check_on_query_answer": ("test_a_query_answer_about_another_order", "must check that the answer names"),
    "no_event_id": ("test_event_ids_are_recorded", "must set Notification.event_id"),
    "signature_prefix_accepted": ("resembles_the_right_one and truncated", "with its signature truncated"),
    "signature_case_folded": ("resembles_the_right_one and other_case", "with its signature other_case"),
    "signature_compared_to_its_length": ("resembles_the_right_one and padded", "with its signature padded"),
    "amount_through_a_float": ("test_an_amount_binary_cannot_hold", "never a float"),
    "a_404_page_is_not_found": ("test_a_garbled_answer_to_a_query and html_404", "only a clear answer may"),
    "unreadable_200_is_a_refusal": ("test_a_garbled_answer_to_create and not_json_200", "raise OutcomeUnknown"),
    "duplicate_reference_refused": ("test_a_refusal_after_acceptance_is_never_not_created", "a not-created outcome"),
    "missing_secret_falls_back_to_sandbox": ("test_each_required_setting_missing", "'EXAMPLE_SECRET': 'the gateway"),
    "refund_id_of_the_gateway": ("test_each_refund_shows_the_id_the_provider_gave_it", "read RefundResult.provider"),
}


def run_kit(pytester: pytest.Pytester, bug: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_kit=KIT_MODULE.format(bug=bug))
    return pytester.runpytest("-p", "no:cacheprovider", "-W", "error", "-q", *args)


def test_every_bug_class_has_a_kit_test_meant_to_catch_it() -> None:
    assert sorted(CAUGHT_BY) == sorted(BUGS)
    assert len(BUGS) == 27


def test_the_kit_passes_example_pay_with_no_bug_planted(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "")
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    assert outcomes.get("passed", 0) >= 25 and "failed" not in outcomes, outcomes


@pytest.mark.parametrize("bug", BUGS)
def test_the_kit_fails_a_provider_with_a_planted_bug(pytester: pytest.Pytester, bug: str) -> None:
    selection, failure = CAUGHT_BY[bug]
    result = run_kit(pytester, bug, "-k", selection)
    outcomes = result.parseoutcomes()
    caught = outcomes.get("failed", 0) + outcomes.get("errors", 0) + outcomes.get("error", 0)
    assert caught >= 1, f"the kit passed Example Pay with {bug!r} planted: {outcomes}"
    assert failure in result.stdout.str(), f"not the failure expected for {bug!r}:\n{result.stdout.str()}"
