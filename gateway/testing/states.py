"""Kit checks of every state your provider documents, each read as what it means.

Part of `ProviderConformance`. The harness declares its provider's states: the field of a query
answer that holds them (`query_states`) and the field of a paid notification that does
(`notification_states`), each value with its meaning:

- "paid": the payment succeeded;
- "pending": not paid yet, and it may still be;
- "closed": it can never be paid (`Notification.cancelled`).

The kit puts each value in the genuine answer to a query about a paid order, and in the genuine paid
notification, signed again (`signed_answer`, `signed_notification`), and expects the plugin to read
exactly that meaning. A plugin that reads a state by its range (`status >= 2`), or that forgets one
its provider answers, pays orders nobody paid, or leaves a payer's money unrecorded, or expires an
order that may still be paid. A paid state is put in the answer about a paid order, any other in the
answer about an unpaid one. A notification's state is judged where the plugin reads it
(`verify_notification`): the core's confirmation by query would hide a wrong reading until the day
the query says otherwise. The same goes for a refund's states, in the answer to a refund
(`refund_states`) and in a refund notification (`refund_notification_states`, whose field may be a
dotted path into a JSON body, as Stripe's `data.object.status`): each read as succeeded, pending or
failed as the provider documents it, where the plugin reads it.
Undeclared, skipped.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from gateway.plugin.provider import (
    Notification,
    NotificationRejected,
    Operation,
    OutcomeUnknown,
    ProviderError,
    RefundFailed,
    RefundNotification,
    RefundResult,
    Verdict,
)
from gateway.testing.answer_fields import FORM, order_ref, played_back, recorded_call, top_level_changed
from gateway.testing.answers import garbled_answers
from gateway.testing.harness import HttpRequest, ProviderHarness
from gateway.testing.live import LiveGateway
from gateway.testing.recovery import harness_call, require_query
from gateway.testing.refusal_fields import RefusalFieldChecks
from gateway.testing.wire import intercepted

MEANINGS = ("paid", "pending", "closed")
REFUND_MEANINGS = ("succeeded", "pending", "failed")


def meaning_of(read: Notification) -> str:
    if read.paid and read.cancelled:
        return "paid and closed at once"
    return "paid" if read.paid else "closed" if read.cancelled else "pending"


def refund_meaning_of(read: Any) -> str | None:
    if isinstance(read, RefundResult):
        return "pending" if read.pending else "succeeded"
    return "failed" if isinstance(read, RefundFailed) else None


def declared(
    states: Mapping[str, Mapping[Any, str]], member: str, meanings: tuple[str, ...] = MEANINGS
) -> list[tuple[str, Any, str]]:
    """(field, value, meaning) for each declared state; fails on a meaning the kit does not know."""
    found = [(name, value, meaning) for name, values in states.items() for value, meaning in values.items()]
    unknown = sorted({meaning for _, _, meaning in found if meaning not in meanings})
    assert not unknown, f"harness.{member} means {unknown}: each state means one of {meanings}"
    return found


def answered_with_each(
    gateway: LiveGateway,
    call: Callable[[], Any],
    states: list[tuple[str, Any, str]],
    member: str,
    *,
    required: bool = True,
) -> Iterator[tuple[str, Any, str, Any]]:
    """(field, value, meaning, what `call` made of it) for each state, put in `call`'s genuine answers (each that
    has the field at its top level) and signed again; `call`'s genuine answers are recorded first. A state whose
    field no answer has fails the check, or, not `required`, is passed over."""
    _, recorded = recorded_call(gateway, call)
    for name, value, meaning in states:
        changed = {
            index: (status, body, content_type)
            for index, (status, original, content_type) in enumerate(recorded)
            if (body := answer_with(original, content_type, name, value, gateway.harness)) is not None
        }
        if not changed and not required:
            continue
        assert changed, f"no answer to the call has a top-level field {name!r} (harness.{member})"
        with intercepted(played_back(recorded, changed), spare=gateway.url):
            try:
                read: Any = call()
            except ProviderError as error:
                read = error
        yield name, value, meaning, read


def answer_with(body: bytes, content_type: str, name: str, value: Any, harness: ProviderHarness) -> bytes | None:
    """`body` (a JSON object, or a form answer) with its top-level field `name` set to `value` and signed
    again; None when it has no such field."""

    def setting(fields: dict[str, Any], form: bool) -> dict[str, Any] | None:
        return {**fields, name: str(value) if form else value} if name in fields else None

    return top_level_changed(body, content_type, harness, setting)


def notification_with(genuine: HttpRequest, name: str, value: Any, harness: ProviderHarness) -> HttpRequest | None:
    """`genuine` with its field `name` (of the query string, the form body or the JSON body's top level) set
    to `value`, signed again; None when it has no such field."""
    if any(field == name for field, _ in genuine.query):
        query = [(field, str(value) if field == name else text) for field, text in genuine.query]
        return harness.signed_notification(dataclasses.replace(genuine, query=query))
    content_type = next((v for k, v in genuine.headers.items() if k.lower() == "content-type"), "")
    if genuine.body and FORM in content_type:
        form = parse_qsl(genuine.body.decode("utf-8", "replace"), keep_blank_values=True)
        if not any(field == name for field, _ in form):
            return None
        body = urlencode([(field, str(value) if field == name else text) for field, text in form]).encode()
        return harness.signed_notification(dataclasses.replace(genuine, body=body))
    try:
        parsed = json.loads(genuine.body) if genuine.body else None
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    changed = _set_path(parsed, [name] if name in parsed else name.split("."), value)
    if changed is None:
        return None
    return harness.signed_notification(dataclasses.replace(genuine, body=json.dumps(changed).encode()))


def _set_path(parsed: Any, path: list[str], value: Any) -> dict[str, Any] | None:
    """A copy of the JSON object `parsed` with the field at `path` (names of nested objects) set to `value`;
    None when there is no such field."""
    if not isinstance(parsed, dict) or path[0] not in parsed:
        return None
    if len(path) == 1:
        return {**parsed, path[0]: value}
    inner = _set_path(parsed[path[0]], path[1:], value)
    return None if inner is None else {**parsed, path[0]: inner}


class StateChecks:
    def test_each_declared_state_of_a_query_answer_is_read_as_what_it_means(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.query_states:
            pytest.skip("harness.query_states is empty: declare the states your provider's query answers report")
        states = declared(harness.query_states, "query_states")
        require_query(gateway)
        # A paid state goes in the answer about a paid order, any other in the answer about an unpaid one: an
        # answer that says "created" beside the time it was paid contradicts itself, and may rightly be unclear.
        unpaid, paid = gateway.new_order(), gateway.new_order()
        harness_call(lambda: harness.pay_without_notifying(paid), "pay_without_notifying(order)")
        found: list[str] = []
        for order in (unpaid, paid):
            ref = order_ref(gateway.order(order["id"]))
            asked = [state for state in states if (state[2] == "paid") == (order is paid)]
            found += [
                f"{name}={value!r} ({meaning}) read as {read!r}"
                for name, value, meaning, read in answered_with_each(
                    gateway, functools.partial(gateway.provider.query_order, ref), asked, "query_states"
                )
                if not isinstance(read, Notification) or meaning_of(read) != meaning
            ]
        assert not found, (
            f"the genuine answers about an unpaid and a paid order, their state set to each one harness.query_states "
            f"declares (signed again): {'; '.join(found)}. Read each state your provider answers as what it "
            "documents: paid, pending (paid=False), closed (cancelled=True)"
        )
        # A whole-number state with a fraction (2.5) is no state at all: read by truncation, 2.5 would be 2, paid.
        # It goes in the answer whose genuine state means something else, which it must leave as it was, or unclear.
        for name, value, meaning in states:
            if type(value) is not int:
                continue
            order, genuine = (unpaid, "pending") if meaning == "paid" else (paid, "paid")
            ref = order_ref(gateway.order(order["id"]))
            for _, fraction, _, read in answered_with_each(
                gateway,
                functools.partial(gateway.provider.query_order, ref),
                [(name, value + 0.5, meaning)],
                "query_states",
                required=False,  # a field only answers of its own meaning hold: nowhere to put the fraction
            ):
                unclear = isinstance(read, OutcomeUnknown) or type(read) is ProviderError
                assert unclear or (isinstance(read, Notification) and meaning_of(read) == genuine), (
                    f"the genuine answer about a {genuine} order with {name}={fraction!r} (signed again), a state "
                    f"with a fraction, which harness.query_states does not declare, was read as {read!r}: a state "
                    "your provider never answers is unclear (raise OutcomeUnknown); never round or cut it to one"
                )

    def test_each_declared_state_of_a_notification_is_read_as_what_it_means(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.notification_states:
            pytest.skip("harness.notification_states is empty: declare the states your notifications report")
        states = declared(harness.notification_states, "notification_states")
        order = gateway.new_order()
        genuine = harness.paid_notification(order)
        found: list[str] = []
        for name, value, meaning in states:
            try:
                variant = notification_with(genuine, name, value, harness)
            except NotImplementedError:
                pytest.fail("harness.notification_states is declared: implement harness.signed_notification")
            assert variant is not None, f"the paid notification has no field {name!r} (harness.notification_states)"
            try:
                read: Any = gateway.provider.verify_notification(gateway.inbound(variant))
            except NotificationRejected as rejected:
                read = rejected
            if isinstance(read, NotificationRejected) and read.verdict is Verdict.IGNORED and meaning != "paid":
                continue  # acknowledged and recorded, paying nothing
            if not isinstance(read, Notification) or not _reads_as(read, meaning):
                found.append(f"{name}={value!r} ({meaning}) read as {read!r}")
        assert not found, (
            f"the genuine paid notification of order {order['merchant_order_no']}, with its state set to each one "
            f"harness.notification_states declares (signed again): {'; '.join(found)}. Read each state as what your "
            "provider documents: only a paid one pays (paid=True); a pending one neither pays nor closes the order"
        )

    def test_each_declared_state_of_a_refund_answer_is_read_as_what_it_means(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.refund_states:
            pytest.skip("harness.refund_states is empty: declare the states your provider's refund answers report")
        states = declared(harness.refund_states, "refund_states", REFUND_MEANINGS)
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip("the provider does not declare the refund operation")
        call = RefusalFieldChecks.refund_call(gateway)
        found = [
            f"{name}={value!r} ({meaning}) read as {read!r}"
            for name, value, meaning, read in answered_with_each(gateway, call, states, "refund_states")
            if refund_meaning_of(read) != meaning
        ]
        assert not found, (
            f"the genuine answer to a refund, its state set to each one harness.refund_states declares (signed "
            f"again): {'; '.join(found)}. Read each as your provider documents it: RefundResult() when the money "
            "has gone, RefundResult(pending=True) while it may still go either way, RefundFailed when it never will"
        )

    def test_each_declared_state_of_a_refund_notification_is_read_as_what_it_means(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.refund_notification_states:
            pytest.skip(
                "harness.refund_notification_states is empty: declare the states your refund notifications report"
            )
        states = declared(harness.refund_notification_states, "refund_notification_states", REFUND_MEANINGS)
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip("the provider does not declare the refund operation")
        order = gateway.paid_order()
        with garbled_answers("html_500", spare=gateway.url):  # a refund of the gateway's, its answer lost
            gateway.refund(order["id"], order["amount"])
        [refund] = gateway.refunds(order["id"])
        try:
            genuine = harness.refund_notification(order, refund, "pending")
        except NotImplementedError:
            pytest.fail("harness.refund_notification_states is declared: implement harness.refund_notification")
        found: list[str] = []
        for name, value, meaning in states:
            variant = notification_with(genuine, name, value, harness)
            assert variant is not None, (
                f"the refund notification has no field {name!r} (harness.refund_notification_states)"
            )
            try:
                read: Any = gateway.provider.verify_notification(gateway.inbound(variant))
            except NotificationRejected as rejected:
                read = rejected
            if isinstance(read, NotificationRejected) and read.verdict is Verdict.IGNORED and meaning == "pending":
                continue  # acknowledged, settling nothing
            if not isinstance(read, RefundNotification) or read.outcome != meaning:
                found.append(f"{name}={value!r} ({meaning}) read as {read!r}")
        assert not found, (
            f"the genuine notification of a refund of order {order['merchant_order_no']}, its state set to each one "
            f"harness.refund_notification_states declares (signed again): {'; '.join(found)}. Read each as your "
            "provider documents it: outcome 'succeeded' only when the money has gone, 'pending' while it may still go "
            "either way, 'failed' when it never will"
        )


def _reads_as(read: Notification, meaning: str) -> bool:
    """A notification's reading: paid exactly when it says paid; a closed one may be read as not paid alone
    (the core closes orders on a query's word, not on a notification's)."""
    if meaning == "closed":
        return not read.paid
    return meaning_of(read) == meaning
