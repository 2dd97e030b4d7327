"""Kit checks of the provider's own "busy, try again" answers, and of a create whose answer was lost.

Part of `ProviderConformance`. The harness declares its provider's busy or system-error answers
(`ProviderHarness.busy_answers`, in the provider's own format); the kit puts each in place of the
answer to create, query and refund, and expects what any unclear answer means: the outcome is
unknown, never failed and never "no such order". Undeclared, those checks skip.

A create whose answer is lost after the provider acted (the connection times out on the way
back) is what a plugin that retries creates meets: the retry finds the order already there. The
kit loses the first answer itself and expects the order created or unknown, never failed, and
then known to the provider's query (found by it, when the harness declares
`queries_find_orders_by_reference`).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from gateway.plugin.provider import Operation
from gateway.testing.harness import ProviderAnswer
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import is_refusal, is_unknown, refunded_at_provider
from gateway.testing.wire import Sent, answer, intercepted

BUSY_OPERATIONS = ("create_order", "query_order", "refund")


class BusyChecks:
    @pytest.mark.parametrize("operation", BUSY_OPERATIONS)
    def test_the_providers_busy_answer_leaves_the_outcome_unknown(
        self, gateway_under_test: LiveGateway, operation: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.busy_answers:
            pytest.skip("harness.busy_answers is empty: declare the provider's own busy or system-error answers")
        needed = {"query_order": Operation.QUERY, "refund": Operation.REFUND}.get(operation)
        if needed is not None and needed not in gateway.provider.operations:
            pytest.skip(f"the provider does not declare {needed}")
        for busy in harness.busy_answers:
            if operation == "create_order":
                self.busy_create(gateway, busy)
            elif operation == "query_order":
                self.busy_query(gateway, busy)
            else:
                self.busy_refund(gateway, busy)

    @staticmethod
    def busy_create(gateway: LiveGateway, busy: ProviderAnswer) -> None:
        with busy_answers(busy, gateway) as sent:
            response = gateway.post_order()
        assert sent, "the provider made no call over `requests` to create an order"
        assert is_unknown(response), (
            f"the provider answered create with its declared busy answer {busy}, and the API answered "
            f"{response.status_code}: {response.get_json()}; busy says nothing sure: raise OutcomeUnknown"
        )
        order = gateway.order(response.get_json()["order_id"])
        assert order["status"] == "pending", f"an order whose creation met a busy answer is {order['status']!r}"

    @staticmethod
    def busy_query(gateway: LiveGateway, busy: ProviderAnswer) -> None:
        order = gateway.new_order()
        with busy_answers(busy, gateway):
            refreshed = gateway.refresh(order["id"])
            gateway.reconcile(later=gateway.gateway.order_lifetime + gateway.gateway.order_lifetime)
        assert refreshed.status_code != 404, f"a busy answer ({busy}) to a query was taken for 'no such order'"
        status = gateway.order(order["id"])["status"]
        assert status == "pending", (
            f"the provider answered the query with its busy answer {busy}, and the order became {status!r}: "
            "only a clear answer may settle or expire an order (raise OutcomeUnknown)"
        )

    @staticmethod
    def busy_refund(gateway: LiveGateway, busy: ProviderAnswer) -> None:
        order = gateway.paid_order()
        with busy_answers(busy, gateway):
            response = gateway.refund(order["id"], order["amount"])
            statuses = [refund["status"] for refund in gateway.refunds(order["id"])]
            if Operation.QUERY_REFUND in gateway.provider.operations:
                gateway.expire_refund_leases(order["id"])
                gateway.reconcile()
                statuses = [refund["status"] for refund in gateway.refunds(order["id"])]
        assert is_unknown(response), (
            f"the provider answered the refund with its busy answer {busy}, and the API answered "
            f"{response.status_code}: {response.get_json()}; raise OutcomeUnknown, never Refused"
        )
        assert statuses in (["unknown"], ["pending"]), f"a refund that met busy answers is recorded as {statuses}"
        gateway.expire_refund_leases(order["id"])
        gateway.reconcile()
        statuses = [refund["status"] for refund in gateway.refunds(order["id"])]
        assert statuses == ["succeeded"], f"once the provider answered again, reconcile recorded {statuses}"
        refunded = refunded_at_provider(gateway, order)
        assert refunded == order["amount"], f"the simulator recorded {refunded} refunded, not {order['amount']}"

    def test_a_create_whose_answer_was_lost_is_never_failed(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness

        def lose_the_first_answer(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
            answered: requests.Response = send()  # the provider acted; only its answer is lost, as in a read time-out
            if index == 0:
                answered.close()
                raise requests.exceptions.ReadTimeout(f"the kit lost the answer to {request.method} {request.url}")
            return answered

        with intercepted(lose_the_first_answer, spare=gateway.url) as sent:
            response = gateway.post_order()
        if not sent:
            pytest.skip("the provider made no call over `requests` to create an order")
        retried = resent(sent)
        assert response.status_code == 201 or is_unknown(response), (
            f"the answer to {sent[0].method} {sent[0].url} was lost after the simulator acted, and the API "
            f"answered {response.status_code}: {response.get_json()}"
            + (
                f"; the plugin sent it again ({retried}), and took the provider's answer to the retry for a refusal"
                if retried and is_refusal(response)
                else ""
            )
            + ": a lost answer says nothing, raise ProviderTimeout (or retry so that the retry finds the same order)"
        )
        order_id = response.get_json().get("id") or response.get_json()["order_id"]
        order = gateway.order(order_id)
        assert order["status"] == "pending", f"an order whose creation answer was lost is {order['status']!r}"
        if Operation.QUERY in gateway.provider.operations:
            refreshed = gateway.refresh(order_id)
            assert refreshed.status_code != 404, "the order the provider created was taken for 'no such order'"
            found = gateway.order(order_id)
            assert found["status"] == "pending", "asked about, the order is no longer pending"
            if not found["provider_order_id"] and harness.queries_find_orders_by_reference:
                harness.pay_without_notifying(found)  # by merchant_order_no: the gateway has no other id
                paid = gateway.refresh(order_id).get_json()
                assert paid.get("status") == "paid", (
                    f"the order whose create answer was lost was paid at the simulator, and ?refresh=true says {paid}; "
                    "harness.queries_find_orders_by_reference says your provider's query finds an order by "
                    "merchant_order_no alone"
                )
            if found["provider_order_id"]:  # the query found it: the payer can still pay it, and it is found paid
                harness.pay_without_notifying(found)
                paid = gateway.refresh(order_id).get_json()
                assert paid.get("status") == "paid", f"then paid at the simulator, ?refresh=true says {paid}"
                order = found
        if retried:
            created = harness.orders_at_provider(order)
            if created is not None:
                assert created == 1, (
                    f"the plugin sent the create again after losing its answer, and the simulator now has "
                    f"{created} orders for {order['merchant_order_no']}: a retry must find the same order"
                )


def resent(sent: list[Sent]) -> list[str]:
    """The calls the plugin sent more than once (same method and URL)."""
    seen = [(call.method, call.url) for call in sent]
    return sorted({f"{method} {url}" for method, url in seen if seen.count((method, url)) > 1})


def busy_answers(busy: ProviderAnswer, gateway: LiveGateway) -> Any:
    """Every provider call meanwhile reaches the simulator, and gets `busy` back instead of its answer."""

    def replaced(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
        send().close()  # acted or not, the caller cannot tell: a busy answer promises nothing either way
        return answer(request, busy.status, busy.body.encode(), busy.content_type)

    return intercepted(replaced, spare=gateway.url)
