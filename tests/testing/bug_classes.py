"""The bug classes planted in tests/testing/planted.py, by name."""

# The 11 bug classes the kit caught before, then the 7 it missed (contract v2), then kinds nobody had named
# (issue 20: signatures checked loosely, inexact amounts, unclear answers taken as clear, settings).
BUGS = (
    "no_signature_check",
    "every_event_paid",
    "new_refund_key_per_retry",
    "refunds_the_whole_amount",
    "timeout_reported_as_refusal",
    "timeout_setting_ignored",
    "secret_in_error_message",
    "always_answers_200",
    "bad_signature_reported_as_malformed",
    "verifies_reserialised_json",
    "wrong_order_reference",
    "query_never_recognises_paid",
    "pending_refund_reported_as_succeeded",
    "refusal_reported_as_unclear",
    "cancelled_payment_not_closed",
    "jpy_with_two_decimals",
    "no_id_check_on_query_answer",
    "no_event_id",
    "signature_prefix_accepted",
    "signature_case_folded",
    "signature_compared_to_its_length",
    "amount_through_a_float",
    "a_404_page_is_not_found",
    "unreadable_200_is_a_refusal",
    "missing_secret_falls_back_to_sandbox",
    # Issue 19: a refusal that can follow acceptance, which routing would fail over after.
    "duplicate_reference_refused",
    # A refund shown with another reference than the provider's own: nobody can find it there.
    "refund_id_of_the_gateway",
)
