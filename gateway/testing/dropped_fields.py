"""Kit checks of provider answers with one field left out, built from the simulator's genuine answers.

Part of `ProviderConformance`; no harness member is needed. A provider's answer that lacks one of
its fields (a proxy that trims it, an API version that moved it) says less than the genuine one:
the plugin may read it as the genuine answer, where the field was one it can do without, or call
it unclear. It must never crash on it (a 500), read it as a refusal, or hand the payer something
the provider never answered. For each top-level field of the genuine JSON answers in turn:

- create: the order is created as with the genuine answer (201, the same kind of next action, every
  address or parameter one the provider answered or the settings hold) or unknown;
- query (`?refresh=true`): answered without a 5xx other than an unknown outcome; an unpaid order
  stays `pending`, one the simulator was paid for is `paid` or still `pending`;
- refund (a pending one, where the harness has `pend_next_refund`): recorded as with the genuine
  answer, or `unknown`; never a 5xx other than an unknown outcome.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from gateway.plugin.provider import Operation
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import is_unknown
from gateway.testing.wire import intercepted

MAX_FIELDS = 40  # far more than any answer here has; bounds the kit's time on a verbose provider


def fields_answered(gateway: LiveGateway, call: Callable[[], Any]) -> tuple[Any, list[str], list[str]]:
    """`call()` with the provider's answers untouched: its result, the top-level fields of every JSON
    object answered meanwhile, and the answers' text."""
    texts: list[str] = []

    def keep(index: int, request: requests.PreparedRequest, send: Callable[[], requests.Response]) -> Any:
        answered = send()
        texts.append(answered.text)
        return answered

    with intercepted(keep, spare=gateway.url):
        result = call()
    return result, _field_names(texts), texts


def _field_names(texts: list[str]) -> list[str]:
    """The top-level field names of the JSON objects among `texts`, first seen first, at most MAX_FIELDS."""
    names: list[str] = []
    for text in texts:
        try:
            body = json.loads(text)
        except ValueError:
            continue
        if isinstance(body, dict):
            names += [name for name in body if name not in names]
    return names[:MAX_FIELDS]


def without(name: str, texts: list[str]) -> Callable[[int, requests.PreparedRequest, Any], requests.Response]:
    """An interceptor change: every JSON object answered loses its field `name`; the answers kept in `texts`."""

    def change(index: int, request: requests.PreparedRequest, send: Callable[[], requests.Response]) -> Any:
        answered: requests.Response = send()
        texts.append(answered.text)
        try:
            body = answered.json()
        except ValueError:
            return answered
        if isinstance(body, dict) and name in body:
            answered._content = json.dumps({key: value for key, value in body.items() if key != name}).encode()
        return answered

    return change


def strings_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings_in(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return [value] if isinstance(value, str) else []


class DroppedFieldChecks:
    def test_a_create_answer_missing_a_field_is_read_as_the_genuine_one_or_unknown(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway = gateway_under_test
        genuine, names, _ = fields_answered(gateway, gateway.post_order)
        assert genuine.status_code == 201, genuine.get_json()
        kind = (genuine.get_json().get("next_action") or {}).get("type")
        settings = [value for value in gateway.harness.settings(gateway.url).values() if value]
        for name in names:
            texts: list[str] = []
            with intercepted(without(name, texts), spare=gateway.url):
                response = gateway.post_order()
            if is_unknown(response):
                continue
            assert response.status_code == 201, (
                f"the provider's answer to create without its field {name!r} made POST /v1/orders answer "
                f"{response.status_code}: {response.get_json()}; read it as the genuine answer, or as unclear "
                "(raise OutcomeUnknown): the provider may have created the order"
            )
            action = response.get_json().get("next_action") or {}
            assert action.get("type") == kind, f"without {name!r}, the next action is {action}, not a {kind!r} one"
            made_up = [text for text in strings_in(action) if text != kind and not any(text in t for t in texts)]
            made_up = [text for text in made_up if not any(text in value for value in settings)]
            assert not made_up, (
                f"without the field {name!r} in the provider's answer, the payer is handed {made_up}, which the "
                "provider never answered: a field the plugin needs is missing, so the answer is unclear"
            )

    def test_a_query_answer_missing_a_field_never_crashes_nor_pays_an_unpaid_order(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if Operation.QUERY not in gateway.provider.operations:
            pytest.skip("the provider does not declare the query operation")
        order = gateway.new_order()
        harness.pay_without_notifying(order)
        _, names, _ = fields_answered(gateway, lambda: gateway.refresh(order["id"]))
        for name in names:
            for paid in (False, True):
                other = gateway.new_order()
                if paid:
                    harness.pay_without_notifying(other)
                with intercepted(without(name, []), spare=gateway.url):
                    response = gateway.refresh(other["id"])
                assert response.status_code < 500 or is_unknown(response), (
                    f"a query answer without its field {name!r} made GET /v1/orders/<id>?refresh=true answer "
                    f"{response.status_code}: {response.get_json()}"
                )
                status = gateway.order(other["id"])["status"]
                allowed = ("paid", "pending") if paid else ("pending",)
                assert status in allowed, (
                    f"a query answer without its field {name!r} made {'a paid' if paid else 'an unpaid'} order "
                    f"{status!r}"
                )

    def test_a_refund_answer_missing_a_field_is_read_as_the_genuine_one_or_unknown(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip("the provider does not declare the refund operation")

        def refund(answers: Any) -> tuple[Any, list[str]]:
            order = gateway.paid_order()
            # A pending refund, where the provider has one: misread as settled, it counts money never sent.
            with contextlib.suppress(NotImplementedError):
                harness.pend_next_refund()
            with intercepted(answers, spare=gateway.url):
                response = gateway.refund(order["id"], order["amount"])
            return response, [refund["status"] for refund in gateway.refunds(order["id"])]

        texts: list[str] = []
        genuine, genuine_statuses = refund(without("", texts))  # no field is named "": the genuine answers
        assert genuine.status_code in (201, 202), genuine.get_json()
        for name in _field_names(texts):
            response, statuses = refund(without(name, []))
            assert response.status_code in (201, 202) or is_unknown(response), (
                f"a refund answer without its field {name!r} made the refund answer {response.status_code}: "
                f"{response.get_json()}; read it as the genuine answer, or as unclear (raise OutcomeUnknown)"
            )
            assert statuses in (genuine_statuses, ["unknown"]), (
                f"a refund answer without its field {name!r} left the refund {statuses}, where the genuine answer "
                f"left it {genuine_statuses}"
            )
