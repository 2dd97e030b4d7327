"""Kit checks of the answers that refuse the gateway itself, and of refusals where nothing is to be done.

Part of `ProviderConformance`. The kit records the provider's genuine answer to a create, a refund, a
query and `check()`, and plays each call back to the provider's own method with another answer in
place of the one that acts, without reaching the simulator:

- each of `misconfiguration_answers` (a wrong key or signature, an unknown merchant, as the provider
  sends them): `ProviderMisconfigured` on every call. Read as a plain refusal, a wrong key fails one
  order after another and nobody is alerted; read as unclear, orders wait for ever;
- each of `refusal_answers` in place of a create's and a refund's answer: `Refused`, never
  `ProviderMisconfigured`, which opens the account's breaker for every merchant routed to it;
- each of `refusal_answers` in place of a query's answer: a refusal of the request says nothing
  about the order, so never "no such order" (which lets reconciliation expire it) and never a
  reading of the order;
- each of `refusal_answers` in place of `check()`'s answer: a failed check. A check that takes any
  refusal for proof that the key works passes a deployment whose every call is refused.

Undeclared, skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from gateway.plugin.provider import NotFound, Operation, Provider, ProviderError, ProviderMisconfigured, Refused
from gateway.testing.answer_fields import order_ref, recorded_call
from gateway.testing.harness import ProviderAnswer
from gateway.testing.live import LiveGateway
from gateway.testing.refusal_fields import RefusalFieldChecks, said

OPERATIONS = ["create_order", "refund", "query_order", "check"]


def call_of(gateway: LiveGateway, operation: str) -> Callable[[], Any]:
    """A call of `operation` to make again and again; skips what the provider does not do."""
    provider = gateway.provider
    if operation == "create_order":
        return RefusalFieldChecks.create_call(gateway)
    if operation == "refund":
        if Operation.REFUND not in provider.operations:
            pytest.skip("the provider does not declare the refund operation")
        return RefusalFieldChecks.refund_call(gateway)
    if operation == "query_order":
        if Operation.QUERY not in provider.operations:
            pytest.skip("the provider does not declare the query operation")
        ref = order_ref(gateway.new_order())
        return lambda: provider.query_order(ref)
    if type(provider).check is Provider.check:
        pytest.skip("the provider implements no check()")
    return provider.check


def misread(
    gateway: LiveGateway, operation: str, answers: Sequence[ProviderAnswer], right: Callable[[Any], bool]
) -> list[str]:
    """Each of `answers` in place of the answer to the last request `operation` makes (the one that acts; earlier
    ones look things up), played back to the provider's own method: what it made of each that is not `right`."""
    call = call_of(gateway, operation)
    _, recorded = recorded_call(gateway, call)
    if not recorded:
        pytest.skip(f"the provider made no call over `requests` for {operation}")
    acting = len(recorded) - 1
    readings = (
        (given, RefusalFieldChecks.outcome(gateway, call, recorded, acting, given.body.encode(), given))
        for given in answers
    )
    return [f"{given.body} read as {said(read)}" for given, read in readings if not right(read)]


class MisconfigurationChecks:
    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_each_declared_misconfiguration_answer_is_read_as_one(
        self, gateway_under_test: LiveGateway, operation: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.misconfiguration_answers:
            pytest.skip("harness.misconfiguration_answers is empty: declare the answers that refuse the gateway itself")
        found = misread(gateway, operation, harness.misconfiguration_answers, _misconfigured)
        assert not found, (
            f"the provider refused the gateway itself (harness.misconfiguration_answers) in answer to {operation}: "
            f"{'; '.join(found)}. Raise ProviderMisconfigured: every call fails alike until the configuration is "
            "fixed, so operators must be alerted, and routing must move on to another account"
        )

    @pytest.mark.parametrize("operation", ["query_order", "check"])
    def test_a_refusal_answered_to_a_query_or_a_check_concludes_nothing(
        self, gateway_under_test: LiveGateway, operation: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.refusal_answers:
            pytest.skip("harness.refusal_answers is empty: declare the provider's own refusals as it sends them")
        found = misread(gateway, operation, harness.refusal_answers, _concludes_nothing)
        assert not found, (
            f"the provider refused the request (harness.refusal_answers) in answer to {operation}: "
            f"{'; '.join(found)}. A refusal says nothing about the order, and proves nothing about the credentials: "
            "raise Refused (or OutcomeUnknown); never NotFound, which lets reconciliation expire the order, and "
            "never a reading or a passed check"
        )

    @pytest.mark.parametrize("operation", ["create_order", "refund"])
    def test_a_refusal_of_one_request_never_blames_the_configuration(
        self, gateway_under_test: LiveGateway, operation: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.refusal_answers:
            pytest.skip("harness.refusal_answers is empty: declare the provider's own refusals as it sends them")
        found = misread(gateway, operation, harness.refusal_answers, _refused_alone)
        assert not found, (
            f"the provider refused one request (harness.refusal_answers) in answer to {operation}: {'; '.join(found)}. "
            "Raise Refused: not ProviderMisconfigured, which opens the account's breaker, so one merchant's "
            "rejected order would shut the account for every merchant routed to it; and not NotFound, which says "
            "the provider has no such order when it only refused the request"
        )


def _refused_alone(read: Any) -> bool:
    return isinstance(read, Refused) and not isinstance(read, ProviderMisconfigured)


def _misconfigured(read: Any) -> bool:
    return isinstance(read, ProviderMisconfigured)


def _concludes_nothing(read: Any) -> bool:
    return isinstance(read, ProviderError) and not isinstance(read, NotFound)
