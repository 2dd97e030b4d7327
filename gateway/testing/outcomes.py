"""Kit checks for what a provider's answers mean: a refusal, an unclear answer, an event's id.

Part of `ProviderConformance`. A refusal (nothing happened at the provider) closes the order or
the refund and is never retried; an unclear answer (a 5xx, an HTML page) leaves it unknown,
for reconciliation to settle, and never fails it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from werkzeug.test import TestResponse

from gateway.plugin.provider import Operation, Verdict
from gateway.testing.live import LiveGateway

UNCLEAR_REPLIES = ("http_500", "html")


def is_unknown(response: TestResponse) -> bool:
    """The API's answer says the provider's outcome is unknown (an unclear answer or none at all)."""
    answer = response.get_json() or {}
    return response.status_code == 504 or (
        response.status_code == 502 and answer.get("error") == "provider_outcome_unknown"
    )


def is_refusal(response: TestResponse) -> bool:
    return response.status_code == 502 and (response.get_json() or {}).get("error") == "provider_error"


def refunded_at_provider(gateway: LiveGateway, order: Mapping[str, Any]) -> int:
    try:
        return gateway.harness.refunded_amount(order)
    except NotImplementedError:
        pytest.fail("the provider declares the refund operation: implement harness.refunded_amount(order)")


class OutcomeChecks:
    def test_a_refusal_is_reported_as_refused_and_never_retried(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        harness.fail_next("create_order")
        created = gateway.post_order()
        assert is_refusal(created), (
            f"after fail_next('create_order'), POST /v1/orders answered {created.status_code}: {created.get_json()}; "
            "the provider refused and did nothing, so raise Refused, not an unknown outcome"
        )
        order = gateway.order(created.get_json()["order_id"])
        assert order["status"] == "failed", f"an order the provider refused is {order['status']!r}"
        if Operation.REFUND not in gateway.provider.operations:
            return
        paid = gateway.paid_order()
        harness.fail_next("refund")
        refused = gateway.refund(paid["id"], paid["amount"])
        assert is_refusal(refused), (
            f"after fail_next('refund'), the refund answered {refused.status_code}: {refused.get_json()}; "
            "a refusal must be reported as one, or reconciliation retries it forever"
        )
        assert [refund["status"] for refund in gateway.refunds(paid["id"])] == ["failed"]
        gateway.expire_refund_leases(paid["id"])
        gateway.reconcile()
        assert [refund["status"] for refund in gateway.refunds(paid["id"])] == ["failed"], "reconcile retried it"
        assert refunded_at_provider(gateway, paid) == 0, "a refused refund was refunded after all"

    @pytest.mark.parametrize("reply", UNCLEAR_REPLIES)
    def test_an_unclear_answer_leaves_the_outcome_unknown(self, gateway_under_test: LiveGateway, reply: str) -> None:
        gateway = gateway_under_test
        self.garble(gateway, "create_order", reply)
        created = gateway.post_order()
        assert is_unknown(created), (
            f"after garble_next('create_order', {reply!r}), POST /v1/orders answered {created.status_code}: "
            f"{created.get_json()}; such an answer says nothing about whether the provider acted: raise "
            "OutcomeUnknown (or NoAnswer), never Refused"
        )
        order = gateway.order(created.get_json()["order_id"])
        assert order["status"] == "pending", f"an order whose creation is unknown is {order['status']!r}"
        if Operation.REFUND not in gateway.provider.operations:
            return
        paid = gateway.paid_order()
        self.garble(gateway, "refund", reply)
        refund = gateway.refund(paid["id"], paid["amount"])
        assert is_unknown(refund), f"after garble_next('refund', {reply!r}), the refund answered {refund.get_json()}"
        statuses = [refund["status"] for refund in gateway.refunds(paid["id"])]
        assert statuses in (["unknown"], ["pending"]), f"a refund whose outcome is unknown is recorded as {statuses}"
        gateway.expire_refund_leases(paid["id"])
        gateway.reconcile()  # the simulator did nothing: the retry (same refund id) refunds, once
        settled = [refund["status"] for refund in gateway.refunds(paid["id"])]
        assert settled == ["succeeded"], f"reconcile retried the refund and recorded {settled}"
        assert refunded_at_provider(gateway, paid) == paid["amount"]

    @pytest.mark.parametrize("settled", ["succeeded", "failed"])
    def test_a_pending_refund_is_never_reported_as_succeeded(
        self, gateway_under_test: LiveGateway, settled: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip(f"{harness.provider_name} does not declare the refund operation")
        paid = gateway.paid_order()
        try:
            harness.pend_next_refund()
        except NotImplementedError:
            pytest.skip("harness.pend_next_refund() is not implemented: the provider settles refunds at once")
        response = gateway.refund(paid["id"], paid["amount"])
        answer = response.get_json()
        pending = response.status_code in (201, 202) and answer.get("status") == "pending"
        assert pending, (
            f"the provider accepted the refund as pending, and the API answered {response.status_code}: {answer}; "
            "a pending refund must show as pending until the provider settles it (RefundResult(pending=True)), "
            "not as unknown: the provider's answer was clear"
        )
        statuses = [refund["status"] for refund in gateway.refunds(paid["id"])]
        assert statuses == ["pending"], f"a pending refund is recorded as {statuses}"
        assert gateway.order(paid["id"])["refunded_amount"] == 0, "a pending refund counted as refunded"
        harness.settle_pending_refunds(paid, settled)
        gateway.expire_refund_leases(paid["id"])
        gateway.reconcile()
        statuses = [refund["status"] for refund in gateway.refunds(paid["id"])]
        assert statuses == [settled], f"the provider settled the refund {settled}; reconcile recorded {statuses}"
        expected = paid["amount"] if settled == "succeeded" else 0
        assert gateway.order(paid["id"])["refunded_amount"] == expected
        assert refunded_at_provider(gateway, paid) == expected

    @staticmethod
    def garble(gateway: LiveGateway, operation: str, reply: str) -> None:
        try:
            gateway.harness.garble_next(operation, reply)
        except NotImplementedError:
            pytest.fail("implement harness.garble_next(operation, reply): a 500 and an HTML page")

    def test_event_ids_are_recorded_with_their_notifications(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = gateway.new_order()
        unpaid, paid = harness.unpaid_notification(order), gateway.paid_notification(order)
        expected = [harness.event_id(unpaid), harness.event_id(paid)]
        if expected == [None, None]:
            pytest.skip("harness.event_id() says the provider's notifications carry no event id")
        gateway.notify(unpaid)
        gateway.notify(paid)
        assert gateway.verdicts() == [Verdict.IGNORED, Verdict.APPLIED], f"recorded as {gateway.verdicts()}"
        assert gateway.event_ids() == expected, (
            f"the notifications carry event ids {expected}, recorded as {gateway.event_ids()}: "
            "verify_notification must set Notification.event_id"
        )
