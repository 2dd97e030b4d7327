"""Kit checks of the provider's own reference of each refund (`ProviderHarness.refunds_at_provider`).

Part of `ProviderConformance`. A merchant who must find a refund at the provider (a dispute, a
payer asking where their money is) looks for the `provider_refund_id` the API shows. A plugin that
reads it from the wrong field of the answer shows none, or another refund's: the money moved, but
nobody can say which refund it was. Only the simulator's own records say what the id is.

And the answer to one refund, given as the answer to another (a proxy's mix-up, a provider's), must
leave that other refund unknown: read as its own, a refund is recorded made that never moved a cent.
So must an answer that says another amount than the refund asked for (signed again): a plugin that
checks the refund's number and not its amount records 10.00 refunded where the provider took 9.99.
And so must another refund's answer with any one of its top-level fields left out (signed again),
wherever what is left still names that other refund (a value of its request, such as its number,
that the refund asked for does not have): a plugin that checks the refund's number and amount only
when both are there takes an answer with another refund's number and no amount for this one's.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from gateway.plugin.provider import Operation
from gateway.testing.answer_fields import top_level_changed
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import is_unknown
from gateway.testing.recovery import other_amount
from gateway.testing.wire import Sent, answer, fields_of, intercepted


class RefundRecordChecks:
    def test_each_refund_shows_the_id_the_provider_gave_it(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        operations = gateway.provider.operations
        if Operation.REFUND not in operations:
            pytest.skip(f"{harness.provider_name} does not declare the refund operation")
        order = gateway.paid_order()
        amounts = [order["amount"]]
        if Operation.PARTIAL_REFUND in operations and Operation.MULTIPLE_REFUNDS in operations:
            part = order["amount"] // 2
            part -= part % 10 if gateway.provider.info.currencies.get(order["currency"]) == 3 else 0
            amounts = [part, order["amount"] - part]  # two refunds, so that their ids cannot be mixed up unseen
        for amount in amounts:
            response = gateway.refund(order["id"], amount)
            assert response.status_code == 201, f"a refund of {amount} answered {response.get_json()}"
        try:
            recorded = dict(harness.refunds_at_provider(order))
        except NotImplementedError:
            pytest.skip("the harness does not implement refunds_at_provider(order)")
        shown = {
            refund["id"]: (refund.get("provider_refund_id"), refund["amount"])
            for refund in gateway.refunds(order["id"])
        }
        assert sorted(amount for _, amount in shown.values()) == sorted(amounts), f"the API shows refunds {shown}"
        for refund_id, (provider_refund_id, amount) in shown.items():
            assert provider_refund_id in recorded, (
                f"refund {refund_id} shows provider_refund_id {provider_refund_id!r}; the simulator recorded the "
                f"refunds {sorted(recorded)}: read RefundResult.provider_refund_id from the provider's answer"
            )
            assert recorded[provider_refund_id] == amount, (
                f"refund {refund_id} of {amount} shows provider_refund_id {provider_refund_id!r}, a refund of "
                f"{recorded[provider_refund_id]} at the simulator"
            )
        repeated = [name for name, count in Counter(ref for ref, _ in shown.values()).items() if count > 1]
        assert not repeated, f"several refunds show the same provider_refund_id: {repeated}"

    def test_the_answer_to_one_refund_given_to_another_leaves_it_unknown(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip(f"{gateway.harness.provider_name} does not declare the refund operation")
        first, other = gateway.paid_order(), gateway.paid_order()
        given_to_another(gateway, (first, first["amount"]), (other, other["amount"]), "a refund of another order")

    def test_the_answer_to_one_refund_given_to_another_without_any_one_field_leaves_it_unknown(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway = gateway_under_test
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip(f"{gateway.harness.provider_name} does not declare the refund operation")
        first = gateway.paid_order()
        acting, method, path, genuine, asked = acting_answer(gateway, first, first["amount"])
        content_type = genuine.headers.get("Content-Type", "")
        names = _top_level_names(genuine.content, content_type, gateway)
        if not names:
            pytest.skip(f"the refund's answer to {method} {path} is neither a JSON object nor a form")
        judged: list[str] = []
        for name in names[:MAX_FIELDS]:
            body = top_level_changed(genuine.content, content_type, gateway.harness, _leaving_out(name))
            assert body is not None
            other = gateway.paid_order()
            response, target = refund_given(
                gateway, (acting, method, path), (genuine.status_code, body, content_type), other
            )
            # Judged only where what is left still names the first refund: a value of its request (its number,
            # its payment) that the other refund's request does not hold. An answer that names nothing of either
            # may be a provider's bare acknowledgement, which some providers' pages say to take.
            naming = _values(Sent("", "", body)) & (_values(asked) - _values(target))
            if not naming:
                continue
            judged.append(name)
            assert is_unknown(response), (
                f"the genuine answer to a refund of order {first['merchant_order_no']} without {name!r} (signed "
                f"again), which still holds {sorted(naming)} of that refund's request, given as the answer to a refund "
                f"of order {other['merchant_order_no']}, made it {response.status_code} {response.get_json()}: an "
                "answer that names another refund is not about the refund asked for, whatever it leaves out: raise "
                "OutcomeUnknown"
            )
        if not judged:
            pytest.skip(f"no value of the refund's request is in its answer to {method} {path}: nothing names it")

    def test_the_answer_to_one_refund_given_to_another_of_the_same_amount_and_payment_leaves_it_unknown(
        self, gateway_under_test: LiveGateway
    ) -> None:
        # Two refunds of one payment, of one amount: only the refund's own id or number tells their answers apart.
        gateway = gateway_under_test
        needed = {Operation.REFUND, Operation.PARTIAL_REFUND, Operation.MULTIPLE_REFUNDS}
        if not needed <= set(gateway.provider.operations):
            pytest.skip(f"{gateway.harness.provider_name} does not declare partial and multiple refunds")
        order = gateway.paid_order()
        part = order["amount"] // 2  # half each, as a refund of one unit may be under a provider's smallest
        part -= part % 10 if gateway.provider.info.currencies.get(order["currency"]) == 3 else 0
        if part < 1:
            pytest.skip("the harness's orders are too small for two partial refunds")
        given_to_another(gateway, (order, part), (order, part), "another refund of the same order and amount")

    def test_a_refund_answer_that_says_another_amount_leaves_it_unknown(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip(f"{gateway.harness.provider_name} does not declare the refund operation")
        paid = gateway.paid_order()
        asked = paid["amount"] - 1  # a partial refund: no value that holds it is the order's amount
        if asked < 1:
            pytest.skip("the harness's orders are too small for a partial refund")
        exponent = gateway.provider.info.currencies[paid["currency"]]
        said: list[str] = []

        def less(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
            response: requests.Response = send()
            content_type = response.headers.get("Content-Type", "")
            body = other_amount(response.content, content_type, (asked, asked - 1), exponent, gateway.harness)
            if body is None:
                return response
            said.append(f"{request.method} {urlsplit(request.url or '').path}")
            return answer(request, response.status_code, body, content_type)

        with intercepted(less, spare=gateway.url):
            response = gateway.refund(paid["id"], asked)
        if not said:
            pytest.skip(f"no answer to a refund of {asked} minor units holds that amount")
        assert is_unknown(response), (
            f"a refund of {asked} minor units of order {paid['merchant_order_no']}, whose answers ({', '.join(said)}) "
            f"said {asked - 1} (signed again), was answered {response.status_code} {response.get_json()}: an answer "
            "about another amount is not about the refund asked for; raise OutcomeUnknown"
        )


MAX_FIELDS = 60  # of one refund answer: an answer with hundreds of fields is judged on its first ones


def acting_answer(
    gateway: LiveGateway, order: dict[str, Any], amount: int
) -> tuple[int, str, str, requests.Response, Sent]:
    """Refund `amount` of `order`; the index, method, path, genuine answer and request of its acting (last) call."""
    calls: list[tuple[str, str, requests.Response]] = []

    def record(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
        response: requests.Response = send()
        calls.append((request.method or "", urlsplit(request.url or "").path, response))
        return response

    with intercepted(record, spare=gateway.url) as sent:
        made = gateway.refund(order["id"], amount)
    if not calls:
        pytest.skip("the provider made no call over `requests` to refund")
    assert made.status_code in (201, 202), f"a refund answered {made.status_code}: {made.get_json()}"
    acting = len(calls) - 1  # the last call acts; earlier ones look things up
    method, path, genuine = calls[acting]
    return acting, method, path, genuine, sent[acting]


def refund_given(
    gateway: LiveGateway,
    at: tuple[int, str, str],
    given: tuple[int, bytes, str],
    target: dict[str, Any],
    amount: int | None = None,
) -> tuple[Any, Sent]:
    """Refund `amount` (default: all) of `target` while its call at index `at[0]` to `at[1]` `at[2]` is answered
    `given` (status, body, content type), every other call as the provider answers it; the API's answer, and the
    request so answered. Skips where that call went elsewhere, or was never made: nothing was given."""
    acting, method, path = at
    status, body, content_type = given
    instead: list[str] = []
    swapped_in: list[int] = []

    def swapped(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
        response: requests.Response
        if index != acting:
            response = send()
            return response
        if (request.method, urlsplit(request.url or "").path) != (method, path):
            instead.append(f"{request.method} {urlsplit(request.url or '').path}")
            response = send()
            return response
        swapped_in.append(index)
        return answer(request, status, body, content_type)

    with intercepted(swapped, spare=gateway.url) as sent:
        response = gateway.refund(target["id"], target["amount"] if amount is None else amount)
    if not swapped_in:
        # An address that names the refund or its payment differs between the two: nothing to swap in.
        pytest.skip(f"the other refund made {instead or 'fewer calls'} where the first made {method} {path}")
    return response, sent[acting]


def given_to_another(
    gateway: LiveGateway, first: tuple[dict[str, Any], int], then: tuple[dict[str, Any], int], which: str
) -> None:
    """Refund `first` (an order, an amount) and record its acting call's genuine answer; then refund `then` with
    that answer given to the same call, and expect the second refund unknown."""
    (order, amount), (other, other_amount) = first, then
    acting, method, path, genuine, _ = acting_answer(gateway, order, amount)
    content_type = genuine.headers.get("Content-Type", "")
    response, _ = refund_given(
        gateway, (acting, method, path), (genuine.status_code, genuine.content, content_type), other, other_amount
    )
    assert is_unknown(response), (
        f"the genuine answer to a refund of {amount} of order {order['merchant_order_no']}, given as the answer to "
        f"{which} ({other_amount} of order {other['merchant_order_no']}), made it {response.status_code} "
        f"{response.get_json()}: check that a refund's answer is about the refund asked for (its id, number, amount "
        "or payment), and raise OutcomeUnknown if not"
    )


def _top_level_names(body: bytes, content_type: str, gateway: LiveGateway) -> list[str]:
    names: list[str] = []

    def read(fields: dict[str, Any], _: bool) -> None:
        names.extend(fields)
        return None

    top_level_changed(body, content_type, gateway.harness, read)
    return names


def _leaving_out(left: str) -> Any:
    def without(fields: dict[str, Any], _: bool) -> dict[str, Any]:
        return {name: value for name, value in fields.items() if name != left}

    return without


def _values(sent: Sent) -> set[str]:
    """Every non-empty value a request or answer carries (nested ones too), as text."""
    return {value for _, value in fields_of(sent) if value}
