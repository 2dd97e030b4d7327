"""Kit checks of hostile free text in an order and a refund: `subject`, `body` and `reason` that look like fields.

Part of `ProviderConformance`. A provider may echo an order's subject in its signed notification
(IOTPay does); a subject holding `&amount=1&status=2` must then never be read as fields, nor break
the request's signature. Expected: the order is created and pays as usual, or it is refused as
invalid (a 4xx naming `subject` or `body`), never a 5xx or a provider error.

A refund's `reason` (up to 255 characters through the API) is the merchant's note, which a plugin
may send along (Stripe: the refund's metadata, whose values take 500). A refund with the longest
reason, looking like fields, must be made as one without: the provider's refusal of the note would
keep the payer's money.
"""

from __future__ import annotations

import uuid

import pytest

from gateway.plugin.provider import Operation, Verdict
from gateway.testing.live import LiveGateway

REASON_LENGTH = 255  # the most the API takes in a refund's `reason`
HOSTILE_TEXT = {
    "pairs": "Tea & cake&amount=1&status=2",
    "quotes_and_escapes": 'O\'Brien "quoted" %26 %3D <b>&amp; \\ ünïcödé',
}


class TextChecks:
    @pytest.mark.parametrize("text", sorted(HOSTILE_TEXT))
    def test_a_subject_that_looks_like_fields_is_sent_as_text_or_refused(
        self, gateway_under_test: LiveGateway, text: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        value = HOSTILE_TEXT[text]
        response = gateway.post_order(subject=value, body=value)
        answer = response.get_json() or {}
        if 400 <= response.status_code < 500:
            named = set(answer.get("errors") or {})
            assert named & {"subject", "body"}, (
                f"an order with subject and body {value!r} was refused, naming neither in `errors`: {answer}"
            )
            return
        assert response.status_code == 201, (
            f"an order with subject and body {value!r} answered {response.status_code}: {answer}; send free text "
            "encoded as one value and sign what you send, or refuse it as invalid (InvalidOrder naming the field)"
        )
        order = answer
        if Operation.QUERY in gateway.provider.operations:
            harness.pay_without_notifying(order)
            paid = gateway.refresh(order["id"]).get_json()
            assert paid.get("status") == "paid", f"with subject {value!r}, paid at the simulator, ?refresh=true: {paid}"
        else:
            harness.pay(order)
            gateway.notify(gateway.paid_notification(order))
            assert gateway.verdicts()[-1] == Verdict.APPLIED, f"with subject {value!r}: {gateway.verdicts()}"
        assert gateway.order(order["id"])["amount"] == order["amount"]

    def test_a_refund_with_the_longest_reason_that_looks_like_fields_is_made(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway = gateway_under_test
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip("the provider does not declare the refund operation")
        order = gateway.paid_order()
        reason = (HOSTILE_TEXT["pairs"] + " " + HOSTILE_TEXT["quotes_and_escapes"] + " ") * 6
        reason = reason[:REASON_LENGTH]
        response = gateway.client.post(
            f"/v1/orders/{order['id']}/refunds",
            json={"amount": order["amount"], "reason": reason},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        answer = response.get_json() or {}
        assert response.status_code == 201 and answer.get("status") in ("succeeded", "pending"), (
            f"a whole refund with a reason of {len(reason)} characters ({reason[:40]!r}...) answered "
            f"{response.status_code}: {answer}; send the note as one value the provider takes (cut to its limit), "
            "or leave it out, but make the refund"
        )
