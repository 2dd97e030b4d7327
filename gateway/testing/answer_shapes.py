"""Kit checks of the shapes a provider's documentation gives its genuine answers (`optional_answer_fields`,
`required_answer_fields`, `null_answer_fields`, `json_text_answer_fields`).

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

A field whose object the provider may also send as the JSON text of that object (IOTPay's `retParams`),
sent as text in the genuine create answer, signed again, still hands the payer what the object held
(`json_text_answer_fields`). Each create check runs on every channel the kit can order in: a field one
channel sends, another may leave out or null.

These checks re-sign a changed answer's body (`harness.signed_answer`): declare them only where your
provider's answers are unsigned or signed in their body, not in a header.

Undeclared, skipped.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from gateway.plugin.provider import Operation
from gateway.testing.answer_fields import top_level_changed
from gateway.testing.harness import ProviderAnswer, ProviderHarness
from gateway.testing.live import LiveGateway
from gateway.testing.not_created import orderable
from gateway.testing.outcomes import is_unknown
from gateway.testing.refusals import acting_call, refused_by
from gateway.testing.reply_checks import channel_fields
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
        nulled: set[str] = set()
        for channel, call, acting in _channel_orders(gateway):
            expected = _next_action(_created(call(), channel)).get("type")
            for field in fields:
                response, given = _with_null(field, acting, gateway, call)
                if given is None:
                    continue  # the channel's own field: it has a value here
                nulled.add(field)
                made = _next_action(response)
                assert response.status_code == 201 and made.get("type") == expected, (
                    f"the genuine {channel} create answer with {field!r} null (harness.null_answer_fields: your "
                    f"provider sends it null where the channel does not use it) answered {response.status_code} "
                    f"{response.get_json(silent=True)} (the genuine answer: {expected!r}); take every shape your "
                    "provider sends"
                )
        unused = [field for field in fields if field not in nulled]
        assert not unused, (
            f"harness.null_answer_fields names {unused}, which every channel's genuine create answer the kit makes "
            "gives a value (or the answers are not JSON objects): declare only fields some channel leaves out"
        )

    def test_a_genuine_create_answer_with_an_object_sent_as_its_json_text_is_taken(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        fields = harness.json_text_answer_fields.get("create_order", ())
        if not fields:
            pytest.skip("harness.json_text_answer_fields names no field of the create_order answer")
        judged: set[str] = set()
        for channel, call, acting in _channel_orders(gateway):
            for field in fields:
                genuine, objects = _as_json_text(field, acting, gateway, call, change=False)
                handed = _handed(_next_action(_created(genuine, channel)), objects)
                if not handed:
                    continue  # no object there, or nothing in it reaches the payer
                judged.add(field)
                response, objects = _as_json_text(field, acting, gateway, call, change=True)
                action = _next_action(response)
                missing = [key for key in handed if key not in _handed(action, objects)]
                assert response.status_code == 201 and not missing, (
                    f"the genuine {channel} create answer with {field!r} sent as the JSON text of its object "
                    f"(harness.json_text_answer_fields) answered {response.status_code} "
                    f"{response.get_json(silent=True)}, without what the object's {missing or handed} gave the payer; "
                    "read the object from its text too"
                )
        if not judged:
            pytest.skip(
                f"no channel's genuine create answer holds {list(fields)} (harness.json_text_answer_fields) as an "
                "object whose text values reach the payer's next action as they are: nothing to compare"
            )


def _channel_orders(gateway: LiveGateway) -> list[tuple[str, Callable[[], Any], int]]:
    """(channel, a call that posts an order in it, the index of its provider call that acts) for every channel
    the kit can order in (`channel_options`, `more_channel_options`) whose order calls the provider over
    `requests`: a field one channel sends another may leave out or null."""
    info = gateway.provider.info
    calls: list[tuple[str, Callable[[], Any], int]] = []
    for name, options in orderable(gateway):
        declared = info.channel(name)
        fields = channel_fields(gateway.harness, name, declared.required_fields, declared.currencies, options)
        if fields is None:
            continue
        call = functools.partial(gateway.post_order, **fields)
        with intercepted(lambda index, request, send: send(), spare=gateway.url) as sent:
            call()
        if sent:  # a channel whose order the plugin answers itself has no answer to reshape
            calls.append((f"{name} {dict(options)}" if options else name, call, len(sent) - 1))
    return calls


def _created(response: Any, channel: str) -> Any:
    assert response.status_code == 201, f"the genuine {channel} create answered {response.status_code}: {response.text}"
    return response


def _next_action(response: Any) -> dict[str, Any]:
    return (response.get_json(silent=True) or {}).get("next_action") or {}


def _handed(action: Any, objects: list[dict[str, Any]]) -> list[str]:
    """The keys of the answer's object (the first of `objects`) whose text values the payer is handed in
    `action`, whole or within a longer text (a URL the plugin adds to, a QR code's data, a parameter)."""
    if not objects:
        return []
    leaves = list(_texts(action))
    return [
        key
        for key, value in objects[0].items()
        if isinstance(value, str) and value and any(value in leaf for leaf in leaves)
    ]


def _texts(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _as_json_text(
    field: str, acting: int, gateway: LiveGateway, call: Any, *, change: bool
) -> tuple[Any, list[dict[str, Any]]]:
    """`call()`, while the JSON answer to its provider call at index `acting` has the object in `field` sent as
    its JSON text, signed again (or, without `change`, as it was); and the object, when there was one."""
    objects: list[dict[str, Any]] = []

    def as_text(fields: dict[str, Any], form: bool) -> dict[str, Any] | None:
        value = fields.get(field)
        if form or not isinstance(value, dict):
            return None
        objects.append(value)
        return {**fields, field: json.dumps(value)}

    def shape(body: bytes, content_type: str) -> bytes:
        changed = top_level_changed(body, content_type, gateway.harness, as_text)
        return changed if change and changed is not None else body

    response, _ = _answered(shape, "", acting, gateway, call)
    return response, objects


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


def _with_null(field: str, acting: int, gateway: LiveGateway, call: Any) -> tuple[Any, ProviderAnswer | None]:
    """`call()`, while the JSON answer to its provider call at index `acting` has `field` null (added where it is
    absent), signed again; and that answer as it was given, or None where `field` has a value there (the
    channel's own) and the answer went as it was."""

    def null(fields: dict[str, Any], form: bool) -> dict[str, Any] | None:
        if form or fields.get(field) is not None:
            return None  # a form has no null; a value there is the channel's own
        return {**fields, field: None}

    return _answered(
        lambda body, content_type: top_level_changed(body, content_type, gateway.harness, null),
        None,
        acting,
        gateway,
        call,
    )


def _answered(
    shape: Callable[[bytes, str], bytes | None], lacking: str | None, acting: int, gateway: LiveGateway, call: Any
) -> tuple[Any, Any]:
    """`call()`, while the answer to its provider call at index `acting` is `shape`d; and that answer as given.
    Where `shape` gives None, the answer goes as it was: a failure saying the genuine answer has `lacking`, or
    without `lacking`, (the response, None)."""
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
    if missing and lacking is None:
        return response, None
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
