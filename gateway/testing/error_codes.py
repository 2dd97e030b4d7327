"""Kit checks of the codes a merchant is shown: a failed refund's, an unreadable answer's.

Part of `ProviderConformance`. `provider_error.code` reaches the merchant in API answers and on
each refund, and a merchant's code branches on it; a provider page that documents codes makes them a
promise. A harness declares them: `failed_refund_codes` (what a refund the provider failed carries)
and `invalid_answer_code` (what an answer the plugin cannot use carries: unreadable, or about another
order). Undeclared, skipped.

A refund whose answer was lost and which the provider failed afterwards is checked whether or not
codes are declared: reconciliation must find it at the provider by the gateway's refund id and settle
it failed. The simulator's own notifications are lost meanwhile (the kit drops its calls to the
gateway's notify URL), so that what the provider's query or refund answer says decides, not a
notification that happened to arrive first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from gateway.plugin.provider import NotificationRejected, Operation, RefundNotification, Verdict
from gateway.testing.answers import garbled_answers
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import is_unknown, refunded_at_provider
from gateway.testing.wire import intercepted

UNREADABLE = ("not_json_200", "empty_json_200")


@contextmanager
def notifications_lost(gateway: LiveGateway) -> Iterator[None]:
    """Meanwhile, a simulator sending its notifications over `requests` never reaches the gateway."""
    original = HTTPAdapter.send
    notify = f"{gateway.url}/notify/"

    def send(adapter: HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if (request.url or "").startswith(notify):
            raise requests.ConnectionError("the kit lost the simulator's notification on the way")
        return original(adapter, request, *args, **kwargs)

    HTTPAdapter.send = send  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        HTTPAdapter.send = original  # type: ignore[method-assign]


def provider_code(answer: Mapping[str, Any] | None) -> str | None:
    error = (answer or {}).get("provider_error") or {}
    code: str | None = error.get("code")
    return code


class ErrorCodeChecks:
    @pytest.mark.parametrize("operation", ["create_order", "query_order", "refund"])
    def test_an_unreadable_answer_carries_the_declared_code(
        self, gateway_under_test: LiveGateway, operation: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        code = harness.invalid_answer_code
        if code is None:
            pytest.skip("harness.invalid_answer_code is None: no code declared for an answer the plugin cannot use")
        needed = {"query_order": Operation.QUERY, "refund": Operation.REFUND}.get(operation)
        if needed is not None and needed not in gateway.provider.operations:
            pytest.skip(f"the provider does not declare {needed}")
        for reply in UNREADABLE:
            order = gateway.paid_order() if operation == "refund" else gateway.new_order()
            with garbled_answers(reply, spare=gateway.url):
                if operation == "create_order":
                    response = gateway.post_order()
                elif operation == "query_order":
                    response = gateway.refresh(order["id"])
                else:
                    response = gateway.refund(order["id"], order["amount"])
            answer = response.get_json()
            assert is_unknown(response), f"{operation} answered {reply}: the API gave {response.status_code} {answer}"
            assert provider_code(answer) == code, (
                f"{operation} answered {reply}: provider_error is {answer.get('provider_error')}, not code {code!r} "
                "(harness.invalid_answer_code): raise OutcomeUnknown with the code your provider's page documents"
            )
            if operation == "refund":
                recorded = [provider_code(refund) for refund in gateway.refunds(order["id"])]
                assert recorded == [code], f"{operation} answered {reply}: the refund records provider_error {recorded}"
        if operation == "query_order":
            order, other = gateway.new_order(), gateway.new_order()
            harness.pay_without_notifying(other)
            harness.misdirect_next_query(order, other)
            answer = gateway.refresh(order["id"]).get_json()
            assert provider_code(answer) == code, (
                f"a query answered about another order: provider_error is {answer.get('provider_error')}, not code "
                f"{code!r} (harness.invalid_answer_code)"
            )

    @pytest.mark.parametrize("answer", ["pending", "lost"])
    def test_a_refund_the_provider_fails_later_is_settled_failed_by_reconciliation(
        self, gateway_under_test: LiveGateway, answer: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip("the provider does not declare the refund operation")
        sent: list[Any] = []
        if answer == "lost":
            probe = gateway.paid_order()
            with intercepted(lambda index, request, send: send(), spare=gateway.url) as sent:
                gateway.refund(probe["id"], probe["amount"])
            if not sent:
                pytest.skip("the provider made no call over `requests` to refund")
        order = gateway.paid_order()
        try:
            harness.pend_next_refund()
        except NotImplementedError:
            pytest.skip("harness.pend_next_refund() is not implemented: the provider settles refunds at once")
        acting = len(sent) - 1  # a refund's last call is the one that makes it: its answer is lost

        def lose_the_answer(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
            answered: requests.Response = send()
            if index == acting:
                answered.close()
                raise requests.exceptions.ReadTimeout(f"the kit lost the answer to {request.method} {request.url}")
            return answered

        if answer == "lost":
            with intercepted(lose_the_answer, spare=gateway.url):  # the simulator took it, pending
                first = gateway.refund(order["id"], order["amount"])
            assert is_unknown(first), f"the refund's answer was lost, and the API answered {first.get_json()}"
        else:
            first = gateway.refund(order["id"], order["amount"])
            assert first.get_json().get("status") == "pending", f"a pending refund answered {first.get_json()}"
        with notifications_lost(gateway):
            harness.settle_pending_refunds(order, "failed")
            gateway.expire_refund_leases(order["id"])
            gateway.reconcile()
            refunds = gateway.refunds(order["id"])
        statuses = [refund["status"] for refund in refunds]
        assert statuses == ["failed"], (
            f"the simulator failed a refund ({answer} at first), and reconciliation recorded {statuses}: find the "
            "refund at the provider by RefundRequest.refund_id (never by a new request that a replayed answer "
            "could hide) and raise RefundFailed"
        )
        self.assert_failed_refund_code(gateway, refunds[0], "settled failed by reconciliation")
        assert refunded_at_provider(gateway, order) == 0, "a failed refund counted as refunded at the simulator"
        assert gateway.order(order["id"])["refunded_amount"] == 0

    def test_a_failed_refund_notification_carries_the_declared_code(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.failed_refund_codes:
            pytest.skip("harness.failed_refund_codes is empty: no code declared for a refund the provider failed")
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip("the provider does not declare the refund operation")
        order = gateway.paid_order()
        with garbled_answers("html_500", spare=gateway.url):
            gateway.refund(order["id"], order["amount"])
        refund = gateway.refunds(order["id"])[0]
        try:
            notification = harness.refund_notification(order, refund, "failed")
        except NotImplementedError:
            pytest.skip("harness.refund_notification() is not implemented: the provider notifies no refund outcome")
        # Read by the plugin itself first: the core stores `refund_failed` for a failure without a code,
        # which would hide a plugin that drops its provider's code behind a code that looks declared.
        try:
            read: object = gateway.provider.verify_notification(gateway.inbound(notification))
        except NotificationRejected as rejected:
            read = rejected
        assert isinstance(read, RefundNotification) and read.outcome == "failed", (
            f"the genuine notification that a refund failed was read as {read!r}: RefundNotification(outcome='failed')"
        )
        assert read.failure_code in harness.failed_refund_codes, (
            f"a refund notification saying failed gives failure_code {read.failure_code!r}, not one of "
            f"{list(harness.failed_refund_codes)} (harness.failed_refund_codes): give the code your provider's "
            "page documents for the refund's state"
        )
        assert read.failure_message, "a refund notification saying failed gives no failure_message: say what failed"
        gateway.notify(notification)
        assert gateway.verdicts()[-1] == Verdict.APPLIED, f"a refund notification saying failed: {gateway.verdicts()}"
        self.assert_failed_refund_code(gateway, gateway.refunds(order["id"])[0], "settled failed by a notification")

    @staticmethod
    def assert_failed_refund_code(gateway: LiveGateway, refund: Mapping[str, Any], how: str) -> None:
        codes = gateway.harness.failed_refund_codes
        if not codes:
            return
        assert refund["status"] == "failed", f"{how}: the refund is {refund['status']!r}"
        assert provider_code(refund) in codes, (
            f"a refund {how} shows provider_error {refund.get('provider_error')}, not one of {list(codes)} "
            "(harness.failed_refund_codes): give RefundFailed, and RefundNotification.failure_code, the code "
            "your provider's page documents"
        )
