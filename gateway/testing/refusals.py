"""Kit checks of the provider's own refusals, as its documentation shows them: each one fails the call.

Part of `ProviderConformance`. The harness declares its provider's refusals (`refusal_answers`: a call
turned down, nothing done, in the provider's own error format, with every field its page calls
nullable given as `null` in one of them at least); the kit puts each in place of the answer to the
call that creates an order, and to the call that makes a refund, without letting that call reach the
simulator, and expects what a refusal means: a 502 `provider_error`, the order or the refund
`failed`, and nothing refunded; its code kept in `provider_error` (one of the refusal's texts, at
its top or nested in its error object), its words too where the refusal is a flat JSON object, and
never no words at all. Read as unknown instead, an order nothing created waits for ever and
routing never moves on to another account. Undeclared, skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from werkzeug.test import TestResponse

from gateway.plugin.provider import Operation
from gateway.testing.harness import ProviderAnswer
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import is_refusal, refunded_at_provider
from gateway.testing.wire import answer, intercepted


def acting_call(gateway: LiveGateway, call: Callable[[], Any]) -> int:
    """The index of the last provider call `call` makes: the one that acts (earlier ones look things up)."""
    with intercepted(lambda index, request, send: send(), spare=gateway.url) as sent:
        call()
    if not sent:
        pytest.skip("the provider made no call over `requests` for it")
    return len(sent) - 1


def refused_by(refusal: ProviderAnswer, gateway: LiveGateway, acting: int) -> Any:
    """Meanwhile, the call at index `acting` gets `refusal` back and never reaches the simulator."""

    def replaced(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
        if index != acting:
            answered: requests.Response = send()
            return answered
        return answer(request, refusal.status, refusal.body.encode(), refusal.content_type)

    return intercepted(replaced, spare=gateway.url)


class RefusalChecks:
    @pytest.mark.parametrize("operation", ["create_order", "refund"])
    def test_each_declared_refusal_of_the_provider_fails_the_call(
        self, gateway_under_test: LiveGateway, operation: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.refusal_answers:
            pytest.skip("harness.refusal_answers is empty: declare the provider's own refusals as it sends them")
        if operation == "refund" and Operation.REFUND not in gateway.provider.operations:
            pytest.skip("the provider does not declare the refund operation")
        if operation == "create_order":
            acting = acting_call(gateway, gateway.post_order)
        else:
            probe = gateway.paid_order()
            acting = acting_call(gateway, lambda: gateway.refund(probe["id"], probe["amount"]))
        for refusal in harness.refusal_answers:
            if operation == "create_order":
                with refused_by(refusal, gateway, acting):
                    response = gateway.post_order()
                self.assert_a_refusal(response, refusal, operation)
                status = gateway.order(response.get_json()["order_id"])["status"]
                assert status == "failed", f"an order the provider refused ({refusal}) is {status!r}"
            else:
                order = gateway.paid_order()
                with refused_by(refusal, gateway, acting):
                    response = gateway.refund(order["id"], order["amount"])
                self.assert_a_refusal(response, refusal, operation)
                statuses = [refund["status"] for refund in gateway.refunds(order["id"])]
                assert statuses == ["failed"], f"a refund the provider refused ({refusal}) is recorded as {statuses}"
                assert refunded_at_provider(gateway, order) == 0, "a refused refund was refunded after all"

    @staticmethod
    def assert_a_refusal(response: TestResponse, refusal: ProviderAnswer, operation: str) -> None:
        assert is_refusal(response), (
            f"the provider answered {operation} with its declared refusal {refusal}, and the API answered "
            f"{response.status_code}: {response.get_json()}; a refusal (null fields and all, where the provider's "
            "page calls them nullable) says nothing was done: raise Refused"
        )
        error = response.get_json().get("provider_error") or {}
        # The code is one of the provider's texts, wherever the refusal holds them (Stripe's `error.code`, or its
        # `error.type` where the code is null); the words are judged where the refusal is flat (IOTPay's retMsg),
        # and are never empty.
        for part, said in (("code", _texts(refusal.body, nested=True)), ("message", _texts(refusal.body))):
            assert not said or any(text in str(error.get(part)) for text in said), (
                f"{operation} refused with {refusal}: provider_error.{part} is {error.get(part)!r}, which holds "
                "none of the provider's own texts: keep the provider's code and words for the merchant"
            )
        assert error.get("message"), (
            f"{operation} refused with {refusal}: provider_error.message is {error.get('message')!r}; the merchant "
            "is owed words: the provider's, or the plugin's where the provider gave none"
        )


def _texts(body: str, *, nested: bool = False) -> list[str]:
    """The text values at the top of a JSON refusal (IOTPay's retCode and retMsg), and with `nested` inside its
    objects too (Stripe's `error`); none for a body that is not JSON."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    return list(_leaves(parsed, nested))


def _leaves(value: object, nested: bool) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, str) and item:
                yield item
            elif isinstance(item, int) and not isinstance(item, bool):  # a numeric code, passed on as text
                yield str(item)
            elif nested and isinstance(item, dict):
                yield from _leaves(item, nested)
