"""Kit checks of the shapes a provider's documentation gives its genuine answers (`optional_answer_fields`,
`required_answer_fields`, `null_answer_fields`).

Part of `ProviderConformance`. A provider may document an answer with fewer fields than its samples (or
its simulator) show: IOTPay documents its refund answer with `retCode` and `retMsg` only, while its
samples and the kit's simulator add `resCode`, and it does not say whether any answer is signed. The code
for a shape the simulator never sends runs only when the kit sends it. For each declared field, the kit
leaves it out of the genuine answer to a create (or a refund), signed again, and expects what the genuine
answer gives: the order created, the refund made with the same status. Read as unknown, every order or
refund the provider answers that way would wait for an operator, and routing could fail over after a
create that worked. And a refund answered with that shape of another refund's answer is unknown: an
answer without the field must still be about the refund asked for.

The other side: a field without which the documentation says an answer reports no result (IOTPay's
`resCode` on a create: "success needs both"), left out of the genuine answer and signed again, leaves
the order or refund unknown (`required_answer_fields`). Read as made, an answer that never said the
provider acted would send the payer on, or refund nothing while the record says refunded. And a field
another channel uses, sent `null` in a create answer where the genuine one leaves it out, still creates
the order (`null_answer_fields`).

These checks re-sign a changed answer's body (`harness.signed_answer`): declare them only where your
provider's answers are unsigned or signed in their body, not in a header.

Undeclared, skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import requests

from gateway.plugin.provider import Operation
from gateway.testing.answer_fields import top_level_changed
from gateway.testing.harness import ProviderAnswer, ProviderHarness
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import is_unknown
from gateway.testing.refusals import acting_call, refused_by
from gateway.testing.wire import answer, intercepted

FORM = "application/x-www-form-urlencoded"

OPERATIONS = ("create_order", "refund")


class AnswerShapeChecks:
    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_a_genuine_answer_without_a_field_its_documentation_leaves_out_is_taken(
        self, gateway_under_test: LiveGateway, operation: str
    ) -> None:
        gateway = gateway_under_test
        fields = _declared(gateway, "optional_answer_fields", operation)
        for field in fields:
            if operation == "create_order":
                acting = acting_call(gateway, gateway.post_order)
                response, _ = _without(field, acting, gateway, gateway.post_order)
                assert response.status_code == 201, _not_taken(operation, field, response)
                continue
            genuine: list[Any] = []
            acting = acting_call(gateway, functools.partial(_recorded_refund, gateway, gateway.paid_order(), genuine))
            expected = genuine[0].get_json().get("status")
            response, shape = _without(
                field, acting, gateway, functools.partial(_refund_of, gateway, gateway.paid_order())
            )
            assert response.status_code == 201 and response.get_json()["status"] == expected, _not_taken(
                operation, field, response, f" (the genuine answer gave {expected!r})"
            )
            # The same shape, about the refund just made, given as the answer to another refund.
            another = gateway.paid_order()
            with refused_by(shape, gateway, acting):
                other = _refund_of(gateway, another)
            assert is_unknown(other), (
                f"another refund's answer without {field!r} was given as the answer to a refund, which was "
                f"{other.status_code} {other.get_json(silent=True)}: an answer without {field!r} must still be "
                "about the refund asked for (its id, number or amount), or it is unclear"
            )

    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_a_genuine_answer_without_a_field_its_documentation_requires_is_unclear(
        self, gateway_under_test: LiveGateway, operation: str
    ) -> None:
        gateway = gateway_under_test
        fields = _declared(gateway, "required_answer_fields", operation)
        for field in fields:
            if operation == "create_order":
                call: Any = gateway.post_order
                acting = acting_call(gateway, call)
            else:  # the refund that finds the acting call refunds its order: another order's for the check
                acting = acting_call(gateway, functools.partial(_refund_of, gateway, gateway.paid_order()))
                call = functools.partial(_refund_of, gateway, gateway.paid_order())
            response, _ = _without(field, acting, gateway, call)
            assert is_unknown(response), (
                f"the genuine {operation} answer without {field!r} (harness.required_answer_fields: your provider's "
                f"documentation says no result without it) answered {response.status_code} "
                f"{response.get_json(silent=True)}; such an answer is unclear: raise OutcomeUnknown"
            )

    def test_a_genuine_create_answer_with_a_field_null_its_documentation_allows_is_taken(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        fields = harness.null_answer_fields.get("create_order", ())
        if not fields:
            pytest.skip("harness.null_answer_fields names no field of the create_order answer")
        genuine = gateway.post_order()
        assert genuine.status_code == 201, f"the genuine create answered {genuine.status_code}: {genuine.get_json()}"
        expected = (genuine.get_json().get("next_action") or {}).get("type")
        for field in fields:
            acting = acting_call(gateway, gateway.post_order)
            response, _ = _with_null(field, acting, gateway, gateway.post_order)
            made = (response.get_json(silent=True) or {}).get("next_action") or {}
            assert response.status_code == 201 and made.get("type") == expected, (
                f"the genuine create answer with {field!r} null (harness.null_answer_fields: your provider sends it "
                f"null where the channel does not use it) answered {response.status_code} "
                f"{response.get_json(silent=True)} (the genuine answer: {expected!r}); take every shape your "
                "provider sends"
            )


def _declared(gateway: LiveGateway, member: str, operation: str) -> Any:
    """The fields the harness's `member` names for `operation`; skips when none, or when the provider does not
    refund and `operation` is a refund."""
    fields = getattr(gateway.harness, member).get(operation, ())
    if not fields:
        pytest.skip(f"harness.{member} names no field of the {operation} answer")
    if operation == "refund" and Operation.REFUND not in gateway.provider.operations:
        pytest.skip("the provider does not declare the refund operation")
    return fields


def _not_taken(operation: str, field: str, response: Any, genuine: str = "") -> str:
    return (
        f"the genuine {operation} answer without {field!r} (harness.optional_answer_fields: your provider's "
        f"documentation leaves it out) answered {response.status_code} {response.get_json(silent=True)}{genuine}; "
        "take every shape your provider documents"
    )


def _refund_of(gateway: LiveGateway, order: dict[str, Any]) -> Any:
    return gateway.refund(order["id"], order["amount"])


def _recorded_refund(gateway: LiveGateway, order: dict[str, Any], answers: list[Any]) -> None:
    answers.append(_refund_of(gateway, order))


def _without(field: str | tuple[str, ...], acting: int, gateway: LiveGateway, call: Any) -> tuple[Any, ProviderAnswer]:
    """`call()`, while the answer to its provider call at index `acting` lacks `field` (or each of a tuple of
    fields), signed again; and that answer as it was given."""
    return _answered(
        lambda body, content_type: _shape_without(field, body, content_type, gateway.harness),
        f"no {field!r} to leave out",
        acting,
        gateway,
        call,
    )


def _with_null(field: str, acting: int, gateway: LiveGateway, call: Any) -> tuple[Any, ProviderAnswer]:
    """`call()`, while the JSON answer to its provider call at index `acting` has `field` null (added where it is
    absent), signed again; and that answer as it was given."""

    def null(fields: dict[str, Any], form: bool) -> dict[str, Any] | None:
        if form or fields.get(field) is not None:
            return None  # a form has no null; a value there is the channel's own
        return {**fields, field: None}

    return _answered(
        lambda body, content_type: top_level_changed(body, content_type, gateway.harness, null),
        f"no JSON object, or {field!r} with a value (the harness's channel uses it: declare only another "
        "channel's fields)",
        acting,
        gateway,
        call,
    )


def _answered(
    shape: Callable[[bytes, str], bytes | None], lacking: str, acting: int, gateway: LiveGateway, call: Any
) -> tuple[Any, ProviderAnswer]:
    """`call()`, while the answer to its provider call at index `acting` is `shape`d; and that answer as given."""
    missing: list[str] = []
    given: list[ProviderAnswer] = []

    def reshaped(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
        response: requests.Response = send()
        if index != acting:
            return response
        content_type = response.headers.get("Content-Type", "")
        body = shape(response.content, content_type)
        if body is None:
            missing.append(response.text[:200])
            return response
        given.append(ProviderAnswer(response.status_code, body.decode(), content_type))
        return answer(request, response.status_code, body, content_type)

    with intercepted(reshaped, spare=gateway.url):
        response = call()
    if missing:
        pytest.fail(f"the genuine answer has {lacking}: {missing[0]}")
    if not given:
        pytest.fail(f"the call made no provider call at index {acting}, where the same call made one before")
    return response, given[0]


def _shape_without(
    field: str | tuple[str, ...], body: bytes, content_type: str, harness: ProviderHarness
) -> bytes | None:
    """`body` (a JSON object or a form) without its top-level `field` (or any of a tuple of fields), signed again
    as the provider would sign that shape (`harness.signed_answer`); None when it lacks one of them."""
    names = (field,) if isinstance(field, str) else field

    def without(fields: dict[str, Any], form: bool) -> dict[str, Any] | None:
        if not all(name in fields for name in names):
            return None
        return {name: value for name, value in fields.items() if name not in names}

    return top_level_changed(body, content_type, harness, without)
