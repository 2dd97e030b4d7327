"""Kit checks of notifications about refunds: they settle refunds, once, and never pay an order.

Part of `ProviderConformance`. They run when the harness implements `refund_notification`. A
provider that notifies refund outcomes notifies a pending refund's settlement too: its simulator's
own notification (not the harness's) must then settle the refund, with no reconciliation run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from gateway.plugin.provider import Operation, Verdict
from gateway.testing.answers import garbled_answers
from gateway.testing.harness import HttpRequest
from gateway.testing.live import LiveGateway

SIMULATOR_NOTIFIES_WITHIN = 5.0  # seconds: the simulator's own notification is sent at once, from a thread


def refund_notification(gateway: LiveGateway, order: Mapping[str, Any], refund: Mapping[str, Any]) -> HttpRequest:
    try:
        return gateway.harness.refund_notification(order, refund, "succeeded")
    except NotImplementedError:
        pytest.skip("harness.refund_notification is not implemented: the provider sends no refund notifications")


def pending_refund(gateway: LiveGateway) -> dict[str, Any]:
    """A paid order refunded whole, the refund held pending by the simulator (`pend_next_refund`); skips a
    provider without refunds, refund notifications or pending refunds."""
    if Operation.REFUND not in gateway.provider.operations:
        pytest.skip("the provider does not declare the refund operation")
    order = gateway.paid_order()
    refund_notification(gateway, order, {"id": str(uuid.uuid4()), "amount": 1, "currency": order["currency"]})
    try:
        gateway.harness.pend_next_refund()
    except NotImplementedError:
        pytest.skip("harness.pend_next_refund() is not implemented: the provider settles refunds at once")
    response = gateway.refund(order["id"], order["amount"])
    assert response.status_code in (201, 202), f"a refund the provider holds pending answered {response.get_json()}"
    return order


class RefundNotificationChecks:
    def test_a_refund_notification_never_marks_an_order_paid(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        order = gateway.new_order()
        made_up = {"id": str(uuid.uuid4()), "amount": order["amount"], "currency": order["currency"]}
        reply = gateway.notify(refund_notification(gateway, order, {**made_up, "provider_refund_id": None}))
        verdict = gateway.verdicts()[-1]
        assert verdict != Verdict.APPLIED, f"a notification about a refund the gateway never made was {verdict}"
        after = gateway.order(order["id"])
        assert after["status"] == "pending", (
            f"a refund notification ({reply}) made an unpaid order {after['status']!r}: verify_notification must "
            "return a RefundNotification for a refund event, never a Notification(paid=True)"
        )
        assert gateway.paid_events() == [], "a refund notification queued an order.paid webhook"

    def test_a_refund_notification_settles_an_unknown_refund_once(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip("the provider does not declare the refund operation")
        order = gateway.paid_order()
        with garbled_answers("html_500", spare=gateway.url):  # the simulator refunds; the answer is lost
            gateway.refund(order["id"], order["amount"])
        [refund] = gateway.refunds(order["id"])
        assert refund["status"] in ("unknown", "pending"), refund
        notification = refund_notification(gateway, order, refund)
        # Each verdict read as soon as its notification is answered: the simulator's own notifications
        # about the refund (Stripe's charge.refunded) may arrive meanwhile and be recorded in between.
        replies, verdicts = [], []
        for _ in range(2):
            replies.append(gateway.notify(notification))
            verdicts.append(gateway.verdicts()[-1])
        assert verdicts == [Verdict.APPLIED, Verdict.DUPLICATE], (
            f"a refund notification saying succeeded, sent twice, was judged {verdicts} ({replies}): "
            "verify_notification must return RefundNotification(outcome='succeeded', refund_id=<the gateway's>)"
        )
        assert [r["status"] for r in gateway.refunds(order["id"])] == ["succeeded"]
        after = gateway.order(order["id"])
        assert (after["status"], after["refunded_amount"]) == ("refunded", order["amount"]), after
        assert gateway.paid_events() == [order["id"]], "one payment, one order.paid webhook"

    def test_a_notification_that_a_pending_refund_is_still_pending_settles_nothing(
        self, gateway_under_test: LiveGateway
    ) -> None:
        # Providers announce a refund when they take it (Stripe's refund.created, status pending) as well as when
        # it settles: read as settled, money that may never move is counted refunded, and a refund that then fails
        # leaves the payer unpaid.
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = pending_refund(gateway)
        [refund] = gateway.refunds(order["id"])
        before = gateway.order(order["id"])["refunded_amount"]
        reply = gateway.notify(harness.refund_notification(order, refund, "pending"))
        after = gateway.refunds(order["id"])
        assert [each["status"] for each in after] == ["pending"], (
            f"a notification that the refund is pending ({reply}, verdict {gateway.verdicts()[-1]}) left the gateway "
            f"recording {after}: a refund the provider has taken but not settled stays pending"
        )
        assert gateway.order(order["id"])["refunded_amount"] == before, "a pending refund was counted as refunded"
        assert reply in [gateway.ack(verdict) for verdict in (Verdict.APPLIED, Verdict.DUPLICATE, Verdict.IGNORED)], (
            f"a notification that a refund the gateway made is pending was answered {reply} (verdict "
            f"{gateway.verdicts()[-1]}): it is a message the provider sends in the normal course, and one not "
            "acknowledged is sent again for days"
        )

    def test_a_pending_refund_is_settled_by_the_providers_own_notification(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = pending_refund(gateway)
        harness.settle_pending_refunds(order, "succeeded")
        deadline = time.monotonic() + SIMULATOR_NOTIFIES_WITHIN
        while gateway.refunds(order["id"])[0]["status"] != "succeeded" and time.monotonic() < deadline:
            time.sleep(0.05)
        refunds = gateway.refunds(order["id"])
        assert [refund["status"] for refund in refunds] == ["succeeded"], (
            f"the simulator settled the pending refund, and {SIMULATOR_NOTIFIES_WITHIN}s later, with no reconcile, "
            f"the gateway records {refunds}: harness.refund_notification says your provider notifies refund "
            "outcomes, so its simulator must send one when a refund settles, and verify_notification read it"
        )
        assert gateway.order(order["id"])["refunded_amount"] == order["amount"]
