"""The bug classes planted in tests/testing/planted.py, by name."""

# The 11 bug classes the kit caught before, then the 7 it missed.
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
)
