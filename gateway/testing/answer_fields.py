"""Kit checks of provider answers the kit changes: never a conclusion the answer does not carry.

Part of `ProviderConformance`.

A field missing: The kit records the provider's genuine answers to a query about a
paid order, to a refund and (when declared) to a refund query, then plays them back to the
provider's own method with one field of one JSON answer dropped at a time (every key, nested ones
too). The simulator is not called again: only the answer changes. Each variant must either mean
exactly what the genuine answer meant (an equal `Notification` or `RefundResult`: the plugin
does not need that field), or be reported as unclear (`OutcomeUnknown`, or a bare
`ProviderError`, which the core treats as unknown). Anything else (a crash the API would show
as a 500, a refusal, "not found", another meaning) is a plugin that reads an incomplete answer
as if it were complete, or as something it does not say.

A status of 500: the provider's own answer to a create (its genuine one, or its refusal armed by
`fail_next`) with the status made 500 must leave the order unknown, whatever the body says: a
server error is no promise either way. No harness member is needed.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import requests

from gateway.plugin.provider import Operation, OrderRef, OutcomeUnknown, ProviderError, RefundRef, RefundRequest
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import is_unknown
from gateway.testing.wire import answer, intercepted

MAX_VARIANTS = 60  # per call: a provider answer with hundreds of fields is judged on its first ones

Recorded = tuple[int, bytes, str]  # status, body, content type


def dropped(body: Any) -> Iterator[tuple[str, Any]]:
    """(the field's path, `body` without it), for every key of every JSON object in `body`."""
    for path in _paths(body, ()):
        variant = copy.deepcopy(body)
        del _at(variant, path[:-1])[path[-1]]
        yield ".".join(str(part) for part in path), variant


def _paths(value: Any, prefix: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _at(body: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        body = body[part]
    return body


class AnswerFieldChecks:
    def test_a_query_answer_with_a_field_missing_is_read_as_before_or_unclear(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        self.require(gateway, Operation.QUERY)
        order = gateway.new_order()
        harness.pay_without_notifying(order)
        ref = order_ref(gateway.order(order["id"]))
        self.judge(gateway, "query_order", lambda: gateway.provider.query_order(ref))

    def test_a_refund_answer_with_a_field_missing_is_read_as_before_or_unclear(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway = gateway_under_test
        self.require(gateway, Operation.REFUND)
        paid = gateway.paid_order()
        ref = order_ref(paid)
        request = RefundRequest(str(uuid.uuid4()), ref, paid["amount"], paid["currency"], None)
        result = self.judge(gateway, "refund", lambda: gateway.provider.refund(request))
        if Operation.QUERY_REFUND in gateway.provider.operations:
            asked = RefundRef(request.refund_id, result.provider_refund_id, ref, request.amount, request.currency)
            self.judge(gateway, "query_refund", lambda: gateway.provider.query_refund(asked))

    @pytest.mark.parametrize("body", ["genuine", "refusal"])
    def test_a_create_answered_with_status_500_is_unclear(self, gateway_under_test: LiveGateway, body: str) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if body == "refusal":
            harness.fail_next("create_order")

        def status_500(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
            response: requests.Response = send()
            response.status_code, response.reason = 500, "Internal Server Error"
            return response

        with intercepted(status_500, spare=gateway.url) as sent:
            response = gateway.post_order()
        if not sent:
            pytest.skip("the provider made no call over `requests` to create an order")
        assert is_unknown(response), (
            f"the provider's {body} answer to create, its status made 500, and the API answered "
            f"{response.status_code}: {response.get_json()}; a 500 says nothing sure, whatever its body: "
            "raise OutcomeUnknown"
        )
        order = gateway.order(response.get_json()["order_id"])
        assert order["status"] == "pending", f"an order whose creation met a 500 is {order['status']!r}"

    @staticmethod
    def require(gateway: LiveGateway, operation: Operation) -> None:
        if operation not in gateway.provider.operations:
            pytest.skip(f"{gateway.harness.provider_name} does not declare {operation}")

    @staticmethod
    def judge(gateway: LiveGateway, method: str, call: Callable[[], Any]) -> Any:
        """Calls `call` for real (recording the provider's answers), then once per answer field dropped."""
        recorded: list[Recorded] = []

        def record(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
            response: requests.Response = send()
            recorded.append((response.status_code, response.content, response.headers.get("Content-Type", "")))
            return response

        with intercepted(record, spare=gateway.url):
            genuine = call()
        judged, wrong = 0, []
        for index, (status, body, content_type) in enumerate(recorded):
            try:
                parsed = json.loads(body)
            except ValueError:
                continue  # not JSON: the provider's answer has no fields the kit can drop
            for number, (field, variant) in enumerate(dropped(parsed)):
                if number >= MAX_VARIANTS:
                    break
                judged += 1
                changed = {index: (status, json.dumps(variant).encode(), content_type)}
                with intercepted(played_back(recorded, changed), spare=gateway.url):
                    try:
                        read = call()
                    except (OutcomeUnknown, ProviderError) as error:
                        if isinstance(error, OutcomeUnknown) or type(error) is ProviderError:
                            continue
                        read = error
                    except Exception as error:  # what the plugin raised is the finding
                        read = error
                if read != genuine:
                    wrong.append(f"without {field!r} (call {index + 1}): {read!r}")
        assert not wrong, (
            f"the provider's genuine answer to {method} was {genuine!r}; with one field dropped, it was read "
            f"as neither that nor unclear: {'; '.join(wrong)}. An answer that lacks what the plugin reads says "
            "nothing sure: raise OutcomeUnknown (else the API answers a 500, or concludes what the provider "
            "never said)"
        )
        if not judged:
            pytest.skip(f"the provider's answers to {method} have no JSON fields to drop")
        return genuine


def played_back(recorded: list[Recorded], changed: Mapping[int, Recorded]) -> Any:
    """Each call gets the recorded answer of the same index (`changed` where given), without
    reaching the simulator; a call beyond those recorded is sent for real."""

    def replay(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
        if index >= len(recorded):
            response: requests.Response = send()
            return response
        status, body, content_type = changed.get(index, recorded[index])
        return answer(request, status, body, content_type)

    return replay


def order_ref(order: Mapping[str, Any]) -> OrderRef:
    """The order as the core hands it to the provider, from its public JSON."""
    return OrderRef(
        merchant_order_no=order["merchant_order_no"],
        provider_order_id=order.get("provider_order_id"),
        amount=order["amount"],
        currency=order["currency"],
        client_ip=order.get("client_ip") or "127.0.0.1",
    )
