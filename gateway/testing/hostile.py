"""Kit checks with hostile input, built from the harness's own genuine messages: no provider writes them.

Part of `ProviderConformance`. A signature that merely resembles the right one (cut short, a
prefix, another case, padded) is refused; a signed field sent twice is never applied; amounts
whose decimals binary floating point cannot hold (0.29, 1.15, 10.10) and amounts past a float's
53 bits reach the provider and come back exact; and an answer that is an HTML error page or a
`200` that is not JSON or `{}`, to any call, leaves the outcome unknown: never failed, never
not-found; and so does the provider's own refusal with a 5xx status, and its own answer to any call
with a 3xx status.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from gateway.plugin.provider import Operation, Verdict
from gateway.testing.answers import EXTRA_FIELD, REDIRECT_STATUSES, REPLIES, SAME_BODY, SAME_BODY_503, garbled_answers
from gateway.testing.error_codes import provider_code
from gateway.testing.harness import HttpRequest
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import is_unknown, refunded_at_provider

REFUSED = (Verdict.BAD_SIGNATURE, Verdict.MALFORMED)

# Minor units of a two-decimal currency that binary floating point cannot hold: 0.29 * 100 == 28.999...
INEXACT_AMOUNTS = (29, 115, 1010)
LARGE_AMOUNT = 2**53 + 1  # the first integer a float cannot hold: a float on the way loses the last unit


def signature_of(genuine: HttpRequest, unsigned: HttpRequest) -> tuple[str, Callable[[str], HttpRequest]] | None:
    """Where `harness.unsigned` removed the signature from: its value, and how to put another there."""
    for name, value in genuine.headers.items():
        if unsigned.headers.get(name) != value:
            return value, partial(_with_header, genuine, name)
    for index, (name, value) in enumerate(genuine.query):
        if (name, value) not in list(unsigned.query):
            return value, partial(_with_query_field, genuine, index)
    body = _json(genuine.body)
    if body is not None:
        stripped = _json(unsigned.body) or {}
        for name, value in body.items():
            if isinstance(value, str) and stripped.get(name) != value:
                return value, partial(_with_json_field, genuine, name)
    form = _form(genuine.body)
    if form:
        stripped_form = _form(unsigned.body) or []
        for index, (name, value) in enumerate(form):
            if (name, value) not in stripped_form:
                return value, partial(_with_form_field, genuine, index)
    return None


def _with_header(request: HttpRequest, name: str, value: str) -> HttpRequest:
    return dataclasses.replace(request, headers={**request.headers, name: value})


def _with_query_field(request: HttpRequest, index: int, value: str) -> HttpRequest:
    query = list(request.query)
    query[index] = (query[index][0], value)
    return dataclasses.replace(request, query=query)


def _with_json_field(request: HttpRequest, name: str, value: str) -> HttpRequest:
    return dataclasses.replace(request, body=json.dumps({**(_json(request.body) or {}), name: value}).encode())


def _with_form_field(request: HttpRequest, index: int, value: str) -> HttpRequest:
    form = _form(request.body) or []
    form[index] = (form[index][0], value)
    return dataclasses.replace(request, body=urlencode(form).encode())


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _form(body: bytes) -> list[tuple[str, str]] | None:
    try:
        return parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
    except (ValueError, UnicodeDecodeError):
        return None


SIGNATURE_VARIANTS: dict[str, Callable[[str], str]] = {
    "truncated": lambda signature: signature[:-1],
    "a_prefix": lambda signature: signature[: len(signature) // 2],
    "other_case": lambda signature: signature.swapcase(),
    "padded": lambda signature: signature + "00",
}


def repeated_field(genuine: HttpRequest, tampered: HttpRequest) -> HttpRequest | None:
    """`genuine` with the field `harness.tamper` changes sent a second time, with the tampered value."""
    body, changed = _json(genuine.body), _json(tampered.body)
    if body is not None and changed is not None:
        name = next((key for key in body if body.get(key) != changed.get(key)), None)
        if name is None:
            return None
        extra = f", {json.dumps(name)}: {json.dumps(changed[name])}}}".encode()
        return dataclasses.replace(genuine, body=genuine.body.rstrip()[:-1] + extra)
    form, changed_form = _form(genuine.body), _form(tampered.body)
    if form and changed_form:
        extra_fields = [field for field in changed_form if field not in form]
        if not extra_fields:
            return None
        return dataclasses.replace(genuine, body=genuine.body + b"&" + urlencode(extra_fields[:1]).encode())
    extra_query = [field for field in tampered.query if field not in list(genuine.query)]
    if extra_query:
        return dataclasses.replace(genuine, query=[*genuine.query, *extra_query[:1]])
    return None


class HostileChecks:
    # -- signatures that look right --

    @pytest.mark.parametrize("variant", sorted(SIGNATURE_VARIANTS))
    def test_a_signature_that_only_resembles_the_right_one_is_refused(
        self, gateway_under_test: LiveGateway, variant: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = gateway.new_order()
        genuine = gateway.paid_notification(order)
        found = signature_of(genuine, harness.unsigned(genuine))
        assert found is not None, "harness.unsigned(request) changed no header, query field or body field"
        signature, with_signature = found
        if variant == "other_case" and harness.signature_ignores_case:
            pytest.skip("harness.signature_ignores_case: the provider documents signatures in either case")
        forged = SIGNATURE_VARIANTS[variant](signature)
        if forged == signature:
            pytest.skip(f"the signature {variant} is the signature itself")
        self.assert_never_applied(gateway, order, with_signature(forged), f"with its signature {variant}")
        assert gateway.notify(genuine) == gateway.ack(Verdict.APPLIED), "the genuine notification, after it"

    def test_a_signed_field_sent_twice_is_never_applied(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = gateway.new_order()
        genuine = gateway.paid_notification(order)
        repeated = repeated_field(genuine, harness.tamper(genuine))
        if repeated is None:
            pytest.skip("harness.tamper changes no JSON, form or query field the kit could repeat")
        self.assert_never_applied(gateway, order, repeated, "with a signed field repeated (another value)")

    @staticmethod
    def assert_never_applied(gateway: LiveGateway, order: dict[str, Any], request: HttpRequest, what: str) -> None:
        reply = gateway.notify(request)
        verdicts = gateway.verdicts()
        assert verdicts[-1] in REFUSED, (
            f"a paid notification {what} was judged {verdicts[-1]} ({reply}): verify_notification must raise "
            "NotificationRejected(BAD_SIGNATURE) for anything but the exact signature of the exact fields"
        )
        assert reply != gateway.ack(Verdict.APPLIED), f"{what}: acknowledged as accepted"
        assert gateway.order(order["id"])["status"] == "pending"

    # -- amounts --

    @pytest.mark.parametrize("amount", INEXACT_AMOUNTS)
    def test_an_amount_binary_cannot_hold_is_paid_and_refunded_exactly(
        self, gateway_under_test: LiveGateway, amount: int
    ) -> None:
        self.check_exact_amount(gateway_under_test, amount)

    def test_a_very_large_amount_is_exact_or_refused(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        created = gateway.post_order(amount=LARGE_AMOUNT)
        if created.status_code != 201:
            assert 400 <= created.status_code < 500 or created.get_json().get("error") == "provider_error", (
                f"an order of {LARGE_AMOUNT} minor units answered {created.status_code}: {created.get_json()}; "
                "refuse it (a 4xx, or the provider's own refusal), never fail with an unclear answer"
            )
            return
        self.check_exact_amount(gateway, LARGE_AMOUNT, order=created.get_json())

    @staticmethod
    def check_exact_amount(gateway: LiveGateway, amount: int, order: dict[str, Any] | None = None) -> None:
        harness, operations = gateway.harness, gateway.provider.operations
        if order is None:
            created = gateway.post_order(amount=amount)
            assert created.status_code == 201, f"an order of {amount} answered {created.get_json()}"
            order = created.get_json()
        if Operation.QUERY in operations:
            harness.pay_without_notifying(order)
            refreshed = gateway.refresh(order["id"]).get_json()
            assert refreshed.get("status") == "paid", (
                f"paid {amount} minor units at the simulator, ?refresh=true says {refreshed}: the amount sent "
                "or read back is not exact (parse decimal text with decimal.Decimal, never a float)"
            )
        else:
            harness.pay(order)
            gateway.notify(gateway.paid_notification(order))
            verdict = gateway.verdicts()[-1]
            assert verdict == Verdict.APPLIED, f"the paid notification of {amount} minor units was judged {verdict}"
        if Operation.REFUND in operations:
            refund = gateway.refund(order["id"], amount)
            assert refund.status_code == 201, f"a refund of {amount} answered {refund.get_json()}"
            refunded = refunded_at_provider(gateway, order)
            assert refunded == amount, f"refunded {amount} minor units, the simulator recorded {refunded}"

    # -- answers that say nothing --

    @pytest.mark.parametrize("reply", sorted(REPLIES))
    def test_a_garbled_answer_to_create_leaves_the_order_unknown(
        self, gateway_under_test: LiveGateway, reply: str
    ) -> None:
        gateway = gateway_under_test
        with garbled_answers(reply, spare=gateway.url) as garbled:
            response = gateway.post_order()
        if not garbled:
            pytest.skip("the provider made no call over `requests` to create an order")
        assert is_unknown(response), (
            f"the provider answered create with {reply}, and the API answered {response.status_code}: "
            f"{response.get_json()}; such an answer says nothing: raise OutcomeUnknown"
        )
        assert_status_code(gateway, reply, response.get_json())
        order = gateway.order(response.get_json()["order_id"])
        assert order["status"] == "pending", f"an order whose creation is unknown is {order['status']!r}"

    def test_answers_with_a_field_the_provider_added_are_still_read(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        operations = gateway.provider.operations
        with garbled_answers(EXTRA_FIELD, spare=gateway.url) as changed:
            created = gateway.post_order()
            assert created.status_code == 201, (
                f"with a field added to the provider's JSON answer, POST /v1/orders answered {created.get_json()}: "
                "read providers' answers tolerantly (unknown fields are not an error)"
            )
            order = created.get_json()
            if Operation.QUERY in operations:
                harness.pay_without_notifying(order)
                refreshed = gateway.refresh(order["id"]).get_json()
                assert refreshed.get("status") == "paid", f"with a field added, ?refresh=true says {refreshed}"
            else:
                harness.pay(order)
                gateway.notify(gateway.paid_notification(order))
            if Operation.REFUND in operations:
                refund = gateway.refund(order["id"], order["amount"])
                assert refund.status_code == 201, f"with a field added, the refund answered {refund.get_json()}"
        if not changed:
            pytest.skip("the provider made no call over `requests`")

    @pytest.mark.parametrize("operation", ["create_order", "refund"])
    def test_a_refusal_with_a_5xx_status_is_unclear(self, gateway_under_test: LiveGateway, operation: str) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if operation == "refund" and Operation.REFUND not in gateway.provider.operations:
            pytest.skip("the provider does not declare the refund operation")
        order = gateway.paid_order() if operation == "refund" else None
        harness.fail_next(operation)
        with garbled_answers(SAME_BODY_503, spare=gateway.url):
            response = gateway.refund(order["id"], order["amount"]) if order else gateway.post_order()
        assert is_unknown(response), (
            f"the simulator refused {operation} in its own format, with the status made 503, and the API answered "
            f"{response.status_code}: {response.get_json()}; a 5xx says nothing sure, whatever its body: "
            "raise OutcomeUnknown"
        )

    @pytest.mark.parametrize("reply", sorted(REPLIES))
    def test_a_garbled_answer_to_a_query_changes_nothing(self, gateway_under_test: LiveGateway, reply: str) -> None:
        gateway = gateway_under_test
        if Operation.QUERY not in gateway.provider.operations:
            pytest.skip("the provider does not declare the query operation")
        order = gateway.new_order()
        with garbled_answers(reply, spare=gateway.url):
            refreshed = gateway.refresh(order["id"])
            gateway.reconcile(later=gateway.gateway.order_lifetime + gateway.gateway.order_lifetime)
        assert refreshed.status_code != 404, f"an unclear query answer ({reply}) was taken for 'no such order'"
        after = gateway.order(order["id"])
        assert after["status"] == "pending", (
            f"the provider answered the query with {reply}, and the order became {after['status']!r}: "
            "only a clear answer may settle or expire an order (raise OutcomeUnknown)"
        )

    @pytest.mark.parametrize("reply", sorted(REPLIES))
    def test_a_garbled_answer_to_a_refund_leaves_it_unknown_and_refunds_once(
        self, gateway_under_test: LiveGateway, reply: str
    ) -> None:
        gateway = gateway_under_test
        if Operation.REFUND not in gateway.provider.operations:
            pytest.skip("the provider does not declare the refund operation")
        order = gateway.paid_order()
        with garbled_answers(reply, spare=gateway.url):
            response = gateway.refund(order["id"], order["amount"])
        assert is_unknown(response), (
            f"the provider answered the refund with {reply}, and the API answered {response.status_code}: "
            f"{response.get_json()}; raise OutcomeUnknown, never Refused"
        )
        assert_status_code(gateway, reply, response.get_json())
        statuses = [refund["status"] for refund in gateway.refunds(order["id"])]
        assert statuses in (["unknown"], ["pending"]), f"a refund whose outcome is unknown is recorded as {statuses}"
        if Operation.QUERY_REFUND in gateway.provider.operations:
            with garbled_answers(reply, spare=gateway.url):
                gateway.expire_refund_leases(order["id"])
                gateway.reconcile()
            statuses = [refund["status"] for refund in gateway.refunds(order["id"])]
            assert statuses in (["unknown"], ["pending"]), (
                f"a refund query answered with {reply} settled the refund as {statuses}"
            )
        gateway.expire_refund_leases(order["id"])
        gateway.reconcile()
        statuses = [refund["status"] for refund in gateway.refunds(order["id"])]
        assert statuses == ["succeeded"], f"the simulator refunded; reconcile recorded {statuses}"
        refunded = refunded_at_provider(gateway, order)
        assert refunded == order["amount"], f"the simulator recorded {refunded} refunded, not {order['amount']}"

    # -- redirects --

    @pytest.mark.parametrize("operation", ["create_order", "query_order", "refund", "query_refund"])
    def test_a_3xx_answer_leaves_the_outcome_unknown(self, gateway_under_test: LiveGateway, operation: str) -> None:
        """The simulator's own answer, acted on, with its status made each 3xx: not the provider's API
        answering, so never read as its answer, however good the body looks."""
        gateway, harness = gateway_under_test, gateway_under_test.harness
        needed = {"query_order": Operation.QUERY, "refund": Operation.REFUND, "query_refund": Operation.QUERY_REFUND}
        if operation in needed and needed[operation] not in gateway.provider.operations:
            pytest.skip(f"the provider does not declare {needed[operation]}")
        # A refund each costs a paid order: three statuses are enough there.
        statuses = REDIRECT_STATUSES if operation in ("create_order", "query_order") else (300, 302, 307)
        for status in statuses:
            redirect = f"{SAME_BODY}{status}"
            what = f"the simulator's answer to {operation}, with its status made {status}"
            if operation == "create_order":
                with garbled_answers(redirect, spare=gateway.url) as garbled:
                    response = gateway.post_order()
                if not garbled:
                    pytest.skip("the provider made no call over `requests` to create an order")
                assert is_unknown(response), f"{what}: the API answered {response.status_code}: {response.get_json()}"
                status_now = gateway.order(response.get_json()["order_id"])["status"]
                assert status_now == "pending", f"{what}: the order is {status_now!r}"
            elif operation == "query_order":
                order = gateway.new_order()
                harness.pay_without_notifying(order)  # the body the kit sends back says paid
                with garbled_answers(redirect, spare=gateway.url):
                    refreshed = gateway.refresh(order["id"])
                assert refreshed.status_code != 404, f"{what}: taken for 'no such order'"
                status_now = gateway.order(order["id"])["status"]
                assert status_now == "pending", f"{what}: the order became {status_now!r}; raise OutcomeUnknown"
            else:
                self.redirected_refund(gateway, redirect, what, query=operation == "query_refund")

    @staticmethod
    def redirected_refund(gateway: LiveGateway, redirect: str, what: str, *, query: bool) -> None:
        order = gateway.paid_order()
        with garbled_answers(redirect if not query else "html_500", spare=gateway.url):
            response = gateway.refund(order["id"], order["amount"])
        if not query:
            assert is_unknown(response), f"{what}: the API answered {response.status_code}: {response.get_json()}"
        else:
            with garbled_answers(redirect, spare=gateway.url):  # the refund is unknown: reconcile asks
                gateway.expire_refund_leases(order["id"])
                gateway.reconcile()
        statuses = [refund["status"] for refund in gateway.refunds(order["id"])]
        assert statuses in (["unknown"], ["pending"]), f"{what}: the refund is recorded as {statuses}"
        gateway.expire_refund_leases(order["id"])
        gateway.reconcile()
        statuses = [refund["status"] for refund in gateway.refunds(order["id"])]
        assert statuses == ["succeeded"], f"then answered as usual, reconcile recorded {statuses}"
        refunded = refunded_at_provider(gateway, order)
        assert refunded == order["amount"], f"the simulator recorded {refunded} refunded, not {order['amount']}"


def assert_status_code(gateway: LiveGateway, reply: str, answered: Any) -> None:
    """With `status_answer_code` declared, an answer of `reply`'s HTTP status other than 200 carries it."""
    template, status = gateway.harness.status_answer_code, REPLIES[reply][0]
    if template is None or status == 200:
        return
    expected = template.format(status=status)
    assert provider_code(answered) == expected, (
        f"the provider answered with {reply}: provider_error is {answered.get('provider_error')}, not code "
        f"{expected!r} (harness.status_answer_code): the code tells the operator what the provider answered"
    )
