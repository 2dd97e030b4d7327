"""Kit checks of the provider's genuine answers with one field garbled: never a conclusion they do not carry.

Part of `ProviderConformance`.

The kit records the provider's genuine answers to a create, to a query about an unpaid and about a
paid order, to a refund (a pending one, where the harness has `pend_next_refund`) and to a query
about that refund, then plays them back to the provider's own method, one field of one answer
changed at a time, without reaching the simulator again. Every field of a JSON answer is changed,
nested ones too (of a form answer, every field), in each of these ways: left out; null; of
another type (a number as text and text as a number, an object, a list, `true`); empty; 10,000
characters long; a number (or a number in text) made negative, zero and 2**63; its name in another
case. An answer the provider signs is signed again by `harness.signed_answer`, so that what is judged
is what the plugin makes of the field, not a broken signature.

A garbled answer must be read as the genuine one (the plugin does not need that field, or takes its
other spelling), or as unclear (`OutcomeUnknown`, or a bare `ProviderError`, which the core treats
as unknown), with the code `harness.invalid_answer_code` where the harness declares one: a merchant
branches on it, and a garbled answer is one the plugin cannot use. The field that names what kind of
object an answer is (`harness.answer_kind_field`, Stripe's `object`), wherever it appears, garbled or
left out, must make the answer unclear: an answer that no longer says it is a payment is not read as
one. Anything else (a crash the API would show as a 500, a refusal, "not found", a failed refund,
another meaning) is a plugin that believes garbage. Two allowances:

- create: the created order must name the same provider order and hand the payer the same kind of next
  action, every address or parameter in it one the (garbled) answer or the settings hold. What is
  handed to the payer is the provider's to say, so a garbled one is not judged here (`url_checks.py`
  judges addresses);
- a zero may be a value the provider really uses (IOTPay's status 0: created). Read another way, it
  must still be about the same order, amount and currency, never paid, cancelled or settled where the
  genuine answer was not, and never paid at another time.

An id the contract lets a provider leave unsaid (a provider order or refund id) may be read as `None`
only where the garbled field touched it: an answer that still holds the genuine id wherever the genuine
answer did, another field garbled, read without it is a plugin that read the answer by halves (a refund
with no refund id, though the answer names it, cannot be found by its id again).

A status of 500: the provider's own answer to a create (its genuine one, or its refusal armed by
`fail_next`) with the status made 500 must leave the order unknown, whatever the body says: a
server error is no promise either way.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import requests

from gateway.plugin.provider import (
    CreatedOrder,
    NextActionType,
    Notification,
    Operation,
    OrderRef,
    OutcomeUnknown,
    ProviderError,
    RefundRef,
    RefundRequest,
    RefundResult,
)
from gateway.testing.harness import ProviderHarness
from gateway.testing.live import LiveGateway
from gateway.testing.not_created import order_request, orderable
from gateway.testing.outcomes import is_unknown
from gateway.testing.wire import answer, intercepted

OVERLONG = 10_000  # characters: past any limit a provider documents for a field
HUGE = 2**63  # one past the largest signed 64-bit integer
MAX_VARIANTS = 800  # per answer: a provider answer with hundreds of fields is judged on its first ones
# wx.requestPayment's arguments (WeChat's mini program API), which a mini_program next action hands it.
REQUEST_PAYMENT = ("timeStamp", "nonceStr", "package", "signType", "paySign")
# What the contract lets a provider leave unsaid (None), in what the kit compares.
OPTIONAL = ("provider_order_id", "provider_refund_id", "account_id", "event_id", "paid_at")
NOT_JSON = '{"cut short by a proxy": '  # text that starts as JSON and is not
LEFT_OUT = object()  # the field removed, not given a value
FORM = "application/x-www-form-urlencoded"

Recorded = tuple[int, bytes, str]  # status, body, content type
Path = tuple[str | int, ...]


@dataclasses.dataclass(frozen=True)
class Garbled:
    """One answer with one field changed: `what` says how, `zero` marks a value the provider may use."""

    what: str
    body: bytes
    zero: bool = False
    path: tuple[str | int, ...] = ()  # where the changed field is (its name, for a form)


def garbled(body: bytes, content_type: str, harness: ProviderHarness) -> Iterator[Garbled]:
    """Every variant of one answer (JSON or a form), each signed again by the harness."""
    try:
        parsed = json.loads(body)
    except ValueError:
        if FORM not in content_type:
            return  # neither JSON nor a form: no fields to garble
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        for path, what, changed, zero in _pair_variants_at(pairs):
            signed = harness.signed_answer(dict(changed))
            yield Garbled(what, urlencode(list(signed.items())).encode(), zero=zero, path=path)
        return
    for path, what, variant, zero in _json_variants_at(parsed):
        if isinstance(variant, dict):
            variant = harness.signed_answer(variant)
        yield Garbled(what, json.dumps(variant).encode(), zero=zero, path=path)


def json_variants(parsed: Any) -> Iterator[tuple[str, Any, bool]]:
    """(how, the changed copy, whether the new value is a zero) for every field of a JSON notification,
    nested ones too: each of `changes`, its name in another case, and a true or false made its opposite
    (a flag the plugin checks, Stripe's `livemode`: the other one must be refused, never crash it)."""
    for _, what, variant, zero in _json_variants_at(parsed):
        yield what, variant, zero
    for path in _paths(parsed, ()):
        value = _at(parsed, path)
        if isinstance(value, bool):
            name = ".".join(str(part) for part in path)
            yield f"{name!r} made {json.dumps(not value)}", _replaced(parsed, path, not value), False


def pair_variants(pairs: list[tuple[str, str]]) -> Iterator[tuple[str, list[tuple[str, str]], bool]]:
    """The same for a form's or a query string's fields, whose values are all text: left out, empty,
    over-long, a number in it made negative, zero and 2**63, its name in another case."""
    for _, what, changed, zero in _pair_variants_at(pairs):
        yield what, changed, zero


def _json_variants_at(parsed: Any) -> Iterator[tuple[Path, str, Any, bool]]:
    """`json_variants`, each with the path of the field changed."""
    for path in _paths(parsed, ()):
        name = ".".join(str(part) for part in path)
        for what, value in changes(_at(parsed, path)):
            yield path, f"{name!r} {what}", _replaced(parsed, path, value), what == "zero"
        other = _other_case(path[-1])
        if other is not None:
            yield path, f"{name!r} spelt {other!r}", _renamed(parsed, path, other), False


def _pair_variants_at(pairs: list[tuple[str, str]]) -> Iterator[tuple[Path, str, list[tuple[str, str]], bool]]:
    """`pair_variants`, each with the name of the field changed."""
    for index, (name, value) in enumerate(pairs):
        before, after = pairs[:index], pairs[index + 1 :]
        texts: list[tuple[str, str]] = [("empty", ""), ("over-long", value + "x" * OVERLONG)]
        number = _number(value)
        texts += [(what, str(changed)) for what, changed in _numbers(number)] if number is not None else []
        yield (name,), f"{name!r} left out", before + after, False
        for what, text in texts:
            if text != value:
                yield (name,), f"{name!r} {what}", [*before, (name, text), *after], what == "zero"
        other = _other_case(name)
        if other is not None:
            yield (name,), f"{name!r} spelt {other!r}", [*before, (other, value), *after], False


def changes(value: Any) -> Iterator[tuple[str, Any]]:
    """(how, the value put in its place) for one field's genuine `value`; LEFT_OUT removes the field."""
    yield "left out", LEFT_OUT
    if value is not None:
        yield "null", None
    if isinstance(value, bool):
        yield "as text", json.dumps(value)
    elif isinstance(value, (int, float)):
        yield "as text", json.dumps(value)
        yield from _numbers(value)
    elif isinstance(value, str):
        number = _number(value)
        yield "as a number", 1 if number is None else number
        if value:
            yield "empty", ""
        if _holds_json(value):
            yield "not JSON", NOT_JSON
        yield "over-long", value + "x" * OVERLONG
        if number is not None:
            yield from ((what, str(changed)) for what, changed in _numbers(number))
    if isinstance(value, (dict, list)):
        # What a provider sends as an object it may send as the JSON text of one (IOTPay's `retParams`):
        # either way, text that is not JSON must read as unclear, never crash or read as something.
        yield "as JSON text", json.dumps(value)
        yield "as text not JSON", NOT_JSON
    if not isinstance(value, dict):
        yield "an object", {}
    if not isinstance(value, list):
        yield "a list", []
    if not isinstance(value, bool):
        yield "true", True


def _holds_json(text: str) -> bool:
    """True for a text holding a JSON object or list (a field carrying JSON inside a string)."""
    try:
        return isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False


def _numbers(value: int | float) -> Iterator[tuple[str, int | float]]:
    yield "negative", -abs(value) if value else -1
    if value:
        yield "zero", 0
    yield "huge", HUGE


def _number(text: str) -> int | float | None:
    """The number a text holds ("12.50", "2"), as JSON would carry it; None for any other text."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or not text.strip().lstrip("-").replace(".", "", 1).isdigit():
        return None
    return int(number) if number == number.to_integral_value() and "." not in text else float(number)


def _other_case(key: str | int) -> str | None:
    if not isinstance(key, str):
        return None
    other = key.upper() if key != key.upper() else key.lower()
    return other if other != key else None


def _paths(value: Any, prefix: Path) -> Iterator[Path]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _at(body: Any, path: Path) -> Any:
    for part in path:
        body = body[part]
    return body


def _replaced(body: Any, path: Path, value: Any) -> Any:
    variant = copy.deepcopy(body)
    parent = _at(variant, path[:-1])
    if value is LEFT_OUT:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return variant


def _renamed(body: Any, path: Path, other: str) -> Any:
    variant = copy.deepcopy(body)
    parent = _at(variant, path[:-1])
    items = list(parent.items())
    parent.clear()  # rebuilt in the same order: only the name differs
    parent.update((other if key == path[-1] else key, value) for key, value in items)
    return variant


class AnswerFieldChecks:
    def test_a_create_answer_with_a_field_garbled_is_read_as_the_genuine_one_or_unclear(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway = gateway_under_test
        request = order_request(gateway)
        self.judge(gateway, "create_order", lambda: gateway.provider.create_order(request), created(gateway))

    def test_a_create_answer_in_every_other_channel_with_a_field_garbled_is_read_as_the_genuine_one_or_unclear(
        self, gateway_under_test: LiveGateway
    ) -> None:
        # Each channel's answer has fields of its own (an app's SDK parameters, a redirect's address, a QR
        # code's text, an object sent as JSON text): each is garbled as the harness channel's are. A channel
        # whose answer need not name the provider's order may read one garbled as naming none.
        # Each of `more_channel_options` too: a channel whose options change its answer (a QR code instead of a
        # redirect) has fields in each.
        gateway, harness = gateway_under_test, gateway_under_test.harness
        driven = orderable(gateway, others_only=True)
        if not driven:
            others = [name for name in gateway.provider.info.channels if name != harness.channel]
            pytest.skip(f"no channel but {harness.channel} can be ordered (declare channel_options): {others}")
        for name, options in driven:
            request = order_request(gateway, name, options)
            call = functools.partial(gateway.provider.create_order, request)
            self.judge(gateway, f"create_order in {name} with {dict(options)}", call, created(gateway, unsaid_id=True))

    def test_a_query_answer_about_an_unpaid_order_with_a_field_garbled_is_read_as_before_or_unclear(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway = gateway_under_test
        self.require(gateway, Operation.QUERY)
        ref = order_ref(gateway.new_order())
        self.judge(gateway, "query_order", lambda: gateway.provider.query_order(ref), same_or_safe)

    def test_a_query_answer_about_a_paid_order_with_a_field_garbled_is_read_as_before_or_unclear(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        self.require(gateway, Operation.QUERY)
        order = gateway.new_order()
        harness.pay_without_notifying(order)
        ref = order_ref(gateway.order(order["id"]))
        self.judge(gateway, "query_order", lambda: gateway.provider.query_order(ref), same_or_safe)

    def test_a_refund_answer_with_a_field_garbled_is_read_as_before_or_unclear(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        self.require(gateway, Operation.REFUND)
        paid = gateway.paid_order()
        ref = order_ref(paid)
        request = RefundRequest(str(uuid.uuid4()), ref, paid["amount"], paid["currency"], None)
        # A pending refund, where the provider has one: misread as settled, it counts money never sent.
        with contextlib.suppress(NotImplementedError):
            harness.pend_next_refund()
        result = self.judge(gateway, "refund", lambda: gateway.provider.refund(request), same_or_safe)
        if Operation.QUERY_REFUND in gateway.provider.operations:
            asked = RefundRef(request.refund_id, result.provider_refund_id, ref, request.amount, request.currency)
            self.judge(gateway, "query_refund", lambda: gateway.provider.query_refund(asked), same_or_safe)

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
    def judge(
        gateway: LiveGateway,
        method: str,
        call: Callable[[], Any],
        wrong: Callable[[Any, Any, Garbled], str | None],
    ) -> Any:
        """Calls `call` for real (recording the provider's answers), then once per garbled answer;
        `wrong(read, genuine, variant)` says what is wrong with a reading other than an unclear one."""
        genuine, recorded = recorded_call(gateway, call)
        judged, found, code = 0, [], gateway.harness.invalid_answer_code
        kind = gateway.harness.answer_kind_field
        for index, (status, body, content_type) in enumerate(recorded):
            for number, variant in enumerate(garbled(body, content_type, gateway.harness)):
                if number >= MAX_VARIANTS:
                    break
                judged += 1
                changed = {index: (status, variant.body, content_type)}
                with intercepted(played_back(recorded, changed), spare=gateway.url):
                    try:
                        read = call()
                    except ProviderError as error:
                        if isinstance(error, OutcomeUnknown) or type(error) is ProviderError:
                            if code is not None and error.code != code:
                                found.append(f"{variant.what} (call {index + 1}): unclear, {miscoded(error, code)}")
                            continue
                        read = error
                    except Exception as error:  # what the plugin raised is the finding
                        read = error
                if kind is not None and variant.path[-1:] == (kind,):
                    found.append(
                        f"{variant.what} (call {index + 1}): {_short(repr(read))}, though it no longer says "
                        f"what kind of object it is (harness.answer_kind_field {kind!r})"
                    )
                elif read != genuine and (
                    problem := wrong(read, genuine, variant) or dropped(read, genuine, body, variant)
                ):
                    found.append(f"{variant.what} (call {index + 1}): {_short(problem)}")
        assert not found, (
            f"the provider's genuine answer to {method} was read as {genuine!r}; with one field garbled, "
            f"{len(found)} answers were read as neither that nor unclear: {'; '.join(found[:40])}. An answer "
            "whose field is garbage says nothing sure: raise OutcomeUnknown (else the API answers a 500, "
            "or records what the provider never said)"
            + (f", with the code harness.invalid_answer_code declares ({code!r})" if code is not None else "")
        )
        if not judged:
            pytest.skip(f"the provider's answers to {method} have no JSON or form fields to garble")
        return genuine


def recorded_call(gateway: LiveGateway, call: Callable[[], Any]) -> tuple[Any, list[Recorded]]:
    """What `call()` returns, made for real, and the provider's answers to each of its calls, in order."""
    recorded: list[Recorded] = []

    def record(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
        response: requests.Response = send()
        recorded.append((response.status_code, response.content, response.headers.get("Content-Type", "")))
        return response

    with intercepted(record, spare=gateway.url):
        genuine = call()
    return genuine, recorded


def created(gateway: LiveGateway, *, unsaid_id: bool = False) -> Callable[[Any, Any, Garbled], str | None]:
    """What is wrong with a created order read from a garbled answer: another provider order (none at all
    allowed with `unsaid_id`: some channels' answers need not name it), another kind of next action, or
    anything handed to the payer that neither the (garbled) answer nor the settings hold."""
    settings = [value for value in gateway.harness.settings(gateway.url).values() if value]

    def wrong(read: Any, genuine: Any, variant: Garbled) -> str | None:
        if not isinstance(read, CreatedOrder):
            return repr(read)
        if read.provider_order_id != genuine.provider_order_id and not (unsaid_id and read.provider_order_id is None):
            return f"the provider order {read.provider_order_id!r}, not {genuine.provider_order_id!r}"
        if _kind(read) != _kind(genuine):
            return f"a {_kind(read)!r} next action, not a {_kind(genuine)!r} one"
        answered = variant.body.decode("utf-8", "replace")
        made_up = [text for text in _handed(read) if text not in answered and not any(text in s for s in settings)]
        if made_up:
            return f"the payer handed {made_up}, which the provider never answered"
        # A payer's client handed an empty signature where the genuine answer gave one cannot start the payment:
        # judged where the keys are known (wx.requestPayment's, the harness's sdk_params), not in opaque params.
        given, now = _handed_at(genuine), _handed_at(read)
        mini = genuine.next_action is not None and genuine.next_action.type is NextActionType.MINI_PROGRAM
        params = (*gateway.harness.sdk_params, *(REQUEST_PAYMENT if mini else ()))
        needed = {"url", "data", *(f"params.{key}" for key in params)}
        emptied = sorted(
            key for key, value in given.items() if key in needed and _text(value) and not _text(now.get(key))
        )
        return f"the payer handed {emptied} as no text, which the genuine answer gave" if emptied else None

    return wrong


def dropped(read: Any, genuine: Any, body: bytes, variant: Garbled) -> str | None:
    """What is wrong with a reading that leaves an id unsaid (None) which the genuine reading had, though the
    garbled answer still holds it wherever the genuine one did: the field garbled was another one, so the
    plugin that reads the id from an intact answer must read it from this one too (or find it unclear)."""
    try:
        before, after = json.loads(body), json.loads(variant.body)
    except ValueError:
        return None  # a form answer: not judged here
    for name in OPTIONAL:
        said = getattr(genuine, name, None)
        if not isinstance(said, str) or not said or getattr(read, name, 0) is not None:
            continue
        places = [path for path in _paths(before, ()) if _at(before, path) == said]
        if places and all(_holds(after, path, said) for path in places):
            return f"{name} left unsaid, though the answer still holds {said!r} where the genuine one did: {read!r}"
    return None


def _holds(body: Any, path: Path, value: str) -> bool:
    try:
        return bool(_at(body, path) == value)
    except (KeyError, IndexError, TypeError):
        return False


def miscoded(error: ProviderError, code: str) -> str:
    return f"but with code {error.code!r}, not {code!r} (harness.invalid_answer_code): {error.message}"


def _short(text: str) -> str:
    """`text` without the kit's over-long values in full."""
    return re.sub(r"x{40,}", lambda run: f"x...({len(run.group())} x)", text)


def same_or_safe(read: Any, genuine: Any, variant: Garbled) -> str | None:
    """What is wrong with `read`, given that it differs from `genuine`. Not wrong: the genuine reading
    with something the contract makes optional left unsaid (None: an id, the paid time), and a zero
    read as a real value that concludes no more than the genuine answer (no payment, closure or
    settlement it lacks)."""
    if type(read) is type(genuine) and dataclasses.is_dataclass(read) and not isinstance(read, type):
        unsaid = {name: getattr(genuine, name) for name in OPTIONAL if getattr(read, name, 0) is None}
        if dataclasses.replace(read, **unsaid) == genuine:
            return None
    if variant.zero and isinstance(read, Notification) and isinstance(genuine, Notification):
        same = ("merchant_order_no", "amount", "currency", "account_id", "provider_order_id")
        if all(getattr(read, name) == getattr(genuine, name) for name in same) and (
            read.paid <= genuine.paid
            and read.cancelled <= genuine.cancelled
            and (not read.paid or read.paid_at == genuine.paid_at)
        ):
            return None
    if (
        variant.zero
        and isinstance(read, RefundResult)
        and isinstance(genuine, RefundResult)
        and (read.provider_refund_id == genuine.provider_refund_id and read.pending >= genuine.pending)
    ):
        return None
    return repr(read)


def _kind(created: CreatedOrder) -> str | None:
    if created.next_action is not None:
        return str(created.next_action.type)
    return "sdk_params" if created.pay_params else None


def _handed(created: CreatedOrder) -> list[str]:
    """Every text the payer's client is handed."""
    action = created.next_action
    handed = [action.data, action.url, *strings_in(action.params)] if action is not None else []
    return [text for text in [*handed, *strings_in(created.pay_params)] if isinstance(text, str)]


def top_level_changed(
    body: bytes,
    content_type: str,
    harness: ProviderHarness,
    change: Callable[[dict[str, Any], bool], dict[str, Any] | None],
) -> bytes | None:
    """`body` (a JSON object, or a form answer) with its top-level fields `change`d, signed again as the provider
    signs that shape (`harness.signed_answer`). `change` gets the fields and whether they are a form's text, and
    gives None for no change; None too for a body that is neither."""
    try:
        parsed = json.loads(body)
    except ValueError:
        if FORM not in content_type:
            return None
        pairs = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        changed = change(pairs, True)
        return None if changed is None else urlencode(list(harness.signed_answer(changed).items())).encode()
    if not isinstance(parsed, dict):
        return None
    changed = change(parsed, False)
    return None if changed is None else json.dumps(harness.signed_answer(changed)).encode()


def _handed_at(created: CreatedOrder) -> dict[str, Any]:
    """What the payer's client is handed, by where it is (`params.paySign`, `url`), as it is."""
    action = created.next_action
    if action is None:
        return {}
    params = action.params if isinstance(action.params, Mapping) else {}
    return {"data": action.data, "url": action.url, **{f"params.{key}": value for key, value in params.items()}}


def _text(value: Any) -> bool:
    """Text with something in it: what a client can hand on."""
    return isinstance(value, str) and bool(value.strip())


def strings_in(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in strings_in(item)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in strings_in(item)]
    return [value] if isinstance(value, str) else []


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
