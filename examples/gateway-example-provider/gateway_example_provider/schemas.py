"""Example Pay's wire formats. Messages from Example Pay tolerate fields added later."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

# A payment's states. `failed` is one declined attempt (the payer may try again);
# `cancelled` is closed for good: it can never be paid.
PENDING, PAID, FAILED, CANCELLED = "pending", "paid", "failed", "cancelled"
PAYMENT_STATES = (PENDING, PAID, FAILED, CANCELLED)
# A refund's states: `pending` is accepted and still on its way, settled later.
REFUND_STATES = ("succeeded", "pending", "failed")
ID_LENGTH = 64  # Example Pay's ids ("pay_...", "re_...") are far shorter: a longer one is not its own
REFERENCE_LENGTH = 64  # the gateway's order references, which Example Pay echoes, are never longer


class Payment(Schema):
    """A payment as Example Pay describes it, in a notification or a query answer."""

    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1, max=ID_LENGTH))
    reference = fields.String(required=True, validate=validate.Length(min=1, max=REFERENCE_LENGTH))
    amount = fields.String(required=True)  # decimal text in the major unit: "12.50" USD, "1250" JPY
    currency = fields.String(required=True)
    # A state Example Pay does not have is no answer: read as "not paid", it would hide a payment.
    status = fields.String(required=True, validate=validate.OneOf(PAYMENT_STATES))
    # Notifications only: the event's id, the same on every re-send ("evt_" and hex digits).
    event = fields.String(validate=validate.Length(min=1, max=ID_LENGTH))


class RefundAnswer(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1, max=ID_LENGTH))
    refund_id = fields.String(required=True)
    amount = fields.String(required=True)  # decimal text in the currency's units, as it was asked for
    status = fields.String(required=True, validate=validate.OneOf(REFUND_STATES))
