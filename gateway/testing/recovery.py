"""Kit checks for what asking the provider settles: lost notifications, closed payments, mixed-up answers.

Part of `ProviderConformance`. They run when the provider declares the query operation, and need
the harness's `pay_without_notifying`, `close` and `misdirect_next_query`.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from gateway.domain import outbox
from gateway.plugin.provider import Notification, Operation, OutcomeUnknown, ProviderError
from gateway.testing.answer_fields import FORM, order_ref, played_back, recorded_call, top_level_changed
from gateway.testing.harness import ProviderHarness
from gateway.testing.live import LiveGateway
from gateway.testing.own_notifications import RECORDED, answered_notification
from gateway.testing.wire import intercepted


def require_query(gateway: LiveGateway) -> None:
    if Operation.QUERY not in gateway.provider.operations:
        pytest.skip(f"{gateway.harness.provider_name} does not declare the query operation")


def harness_call(action: Callable[[], Any], what: str) -> None:
    try:
        action()
    except NotImplementedError:
        pytest.fail(f"the provider declares the query operation: implement harness.{what}")


class RecoveryChecks:
    """Asking the provider (`?refresh=true`, reconciliation) settles what notifications did not."""

    def test_a_payment_whose_notification_was_lost_is_found_by_refresh(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        require_query(gateway)
        order = gateway.new_order()
        unpaid = gateway.refresh(order["id"])
        assert unpaid.status_code == 200, f"?refresh=true on an unpaid order answered {unpaid.get_json()}"
        assert unpaid.get_json()["status"] == "pending", f"an order nobody paid is {unpaid.get_json()['status']!r}"
        harness_call(lambda: gateway.harness.pay_without_notifying(order), "pay_without_notifying(order)")
        refreshed = gateway.refresh(order["id"])
        assert refreshed.status_code == 200, f"?refresh=true answered {refreshed.status_code}: {refreshed.get_json()}"
        assert refreshed.get_json()["status"] == "paid", (
            f"the simulator took the payment, but ?refresh=true left the order {refreshed.get_json()['status']!r}: "
            "query_order must report paid=True when the provider says the payment succeeded"
        )
        assert gateway.paid_events() == [order["id"]], "one payment, one order.paid webhook"

    def test_a_payment_whose_notification_was_lost_is_found_by_reconcile(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        require_query(gateway)
        paid, unpaid = gateway.new_order(), gateway.new_order()
        harness_call(lambda: gateway.harness.pay_without_notifying(paid), "pay_without_notifying(order)")
        outcome = gateway.reconcile()
        assert gateway.order(paid["id"])["status"] == "paid", f"reconcile did not find the payment: {outcome}"
        assert gateway.order(unpaid["id"])["status"] == "pending", f"reconcile changed an unpaid order: {outcome}"
        assert gateway.paid_events() == [paid["id"]], "one payment, one order.paid webhook"
        gateway.reconcile()
        assert gateway.paid_events() == [paid["id"]], "a second reconcile announced the payment again"

    def test_a_paid_order_is_still_paid_when_asked_after_its_notifications_were_answered(
        self, gateway_under_test: LiveGateway
    ) -> None:
        # A provider may report a payment differently once the merchant has acknowledged its notification
        # (IOTPay: status 2, paid, then 3, paid and notified). Both are paid: a plugin that knows only the
        # first reads every acknowledged payment as unpaid when it is asked again.
        gateway = gateway_under_test
        require_query(gateway)
        served = len(gateway.served)
        order = gateway.paid_order()
        if answered_notification(gateway, served):  # the simulator's own, answered: it may now say so
            time.sleep(RECORDED)
        answer = gateway.provider.query_order(order_ref(order))
        assert answer.paid and not answer.cancelled, (
            f"the order was paid and its notifications answered, and query_order now reads {answer!r}: every "
            "status your provider gives a paid order, before and after the merchant acknowledged it, is paid"
        )
        refreshed = gateway.refresh(order["id"])
        assert refreshed.status_code == 200 and refreshed.get_json()["status"] == "paid", refreshed.get_json()

    def test_a_payment_closed_at_the_provider_closes_the_order(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        require_query(gateway)
        order = gateway.new_order()
        harness_call(lambda: gateway.harness.close(order), "close(order)")
        outcome = gateway.reconcile()  # long before the order's own expiry
        closed = gateway.order(order["id"])
        assert closed["status"] == "expired", (
            f"the provider closed the payment for good, but reconcile left the order {closed['status']!r} "
            f"({outcome}): query_order must report it with Notification(cancelled=True)"
        )
        assert gateway.order_events(outbox.ORDER_EXPIRED) == [order["id"]], "one order.expired webhook"
        assert gateway.paid_events() == [], "a closed order was announced paid"

    @pytest.mark.parametrize("reply", ["http_500", "html"])
    def test_an_unclear_query_answer_never_expires_the_order(self, gateway_under_test: LiveGateway, reply: str) -> None:
        gateway = gateway_under_test
        require_query(gateway)
        order = gateway.new_order()
        harness_call(lambda: gateway.harness.garble_next("query_order", reply), "garble_next('query_order', reply)")
        outcome = gateway.reconcile(later=gateway.gateway.order_lifetime + timedelta(minutes=1))
        assert gateway.order(order["id"])["status"] == "pending", (
            f"the provider's answer to the query was unclear ({reply}), and reconcile expired the order past its "
            f"expiry ({outcome}): only a clear 'no such order' may; the payer may have paid"
        )
        assert gateway.order_events(outbox.ORDER_EXPIRED) == []

    def test_a_query_answer_about_another_order_is_refused(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        require_query(gateway)
        order, other = gateway.new_order(), gateway.new_order()
        harness_call(lambda: harness.pay_without_notifying(other), "pay_without_notifying(order)")
        for settle in ("refresh", "reconcile"):
            harness_call(lambda: harness.misdirect_next_query(order, other), "misdirect_next_query(order, other)")
            if settle == "refresh":
                gateway.refresh(order["id"])  # refused as 502 or as a mismatch: either leaves it unpaid
            else:
                gateway.reconcile()
            assert gateway.order(order["id"])["status"] == "pending", (
                f"{settle}: the provider answered about order {other['merchant_order_no']} (paid), and the "
                f"gateway marked order {order['merchant_order_no']} paid: query_order must check that the "
                "answer names the order asked about (its reference and the provider's id), and refuse it if not"
            )
            assert order["id"] not in gateway.paid_events(), f"{settle} announced the wrong order paid"

    def test_a_query_answer_about_another_order_is_refused_when_the_order_has_no_provider_id(
        self, gateway_under_test: LiveGateway
    ) -> None:
        # An order whose create answer was lost has no provider id yet: the answer's reference is then all that
        # says which order it is about. The core takes query_order's word for that, so the plugin must check it.
        gateway, harness = gateway_under_test, gateway_under_test.harness
        require_query(gateway)
        if not harness.queries_find_orders_by_reference:
            pytest.skip("harness.queries_find_orders_by_reference is not declared: no query without the provider's id")
        order, other = gateway.new_order(), gateway.new_order()
        harness_call(lambda: harness.pay_without_notifying(other), "pay_without_notifying(order)")
        unnamed = {**order, "provider_order_id": None}
        harness_call(lambda: harness.misdirect_next_query(unnamed, other), "misdirect_next_query(order, other)")
        asked_directly(gateway, unnamed, other, "no provider id")

    def test_query_order_itself_refuses_an_answer_about_another_order(self, gateway_under_test: LiveGateway) -> None:
        # The core compares the answer's reference and provider id with the order's before it applies one, and
        # still the answer is query_order's word: what it returns is the plugin's reading of the provider.
        gateway, harness = gateway_under_test, gateway_under_test.harness
        require_query(gateway)
        order, other = gateway.new_order(), gateway.new_order()
        harness_call(lambda: harness.pay_without_notifying(other), "pay_without_notifying(order)")
        harness_call(lambda: harness.misdirect_next_query(order, other), "misdirect_next_query(order, other)")
        asked_directly(gateway, order, other, f"provider id {order['provider_order_id']}")

    def test_a_query_answer_that_says_another_amount_is_read_with_it_or_unclear(
        self, gateway_under_test: LiveGateway
    ) -> None:
        # The core compares the amount query_order reports with the order's: a plugin that reports the order's own
        # amount, not the provider's, leaves nothing to compare, and a payment of another amount confirms this order.
        gateway = gateway_under_test
        more: int = 0

        def change(body: bytes, content_type: str, order: dict[str, Any], exponent: int) -> bytes | None:
            nonlocal more
            more = order["amount"] + 1
            return other_amount(body, content_type, (order["amount"], more), exponent, gateway.harness)

        order, ref, replay = paid_query_changed(gateway, change, "as a number")
        with intercepted(replay, spare=gateway.url):
            try:
                read = gateway.provider.query_order(ref)
            except ProviderError as error:
                assert isinstance(error, OutcomeUnknown) or type(error) is ProviderError, (
                    f"a paid order's query answer saying {more} (not {order['amount']}) raised {error!r}: it is an "
                    "answer about this order, so it is read with its amount, or as unclear; never as a refusal"
                )
                return
        assert isinstance(read, Notification) and read.amount == more, (
            f"the provider's answer about paid order {order['merchant_order_no']} said {more} minor units, not "
            f"{order['amount']}, and query_order read it as {read!r}: report the amount the provider answers (the "
            "core compares it with the order's and keeps the difference visible), or raise OutcomeUnknown"
        )

    def test_a_query_answer_naming_another_payment_under_the_orders_reference_never_pays_it(
        self, gateway_under_test: LiveGateway
    ) -> None:
        # The same reference on another payment at the provider (a create retried, a provider's mix-up): the core
        # compares the provider order id query_order reports with the stored one, so a plugin must report the id
        # the answer names (or raise OutcomeUnknown), never the one it asked about, nor none at all.
        gateway = gateway_under_test
        other = gateway.new_order()
        ids: tuple[str, str] = ("", "")

        def change(body: bytes, content_type: str, order: dict[str, Any], exponent: int) -> bytes | None:
            nonlocal ids
            mine, theirs = order.get("provider_order_id"), other.get("provider_order_id")
            if not mine or not theirs:
                return None
            ids = (mine, theirs)
            return other_id(body, content_type, ids, gateway.harness)

        order, ref, replay = paid_query_changed(gateway, change, "with the order's provider id")
        with intercepted(replay, spare=gateway.url):
            try:
                read = gateway.provider.query_order(ref)
            except ProviderError as error:
                assert isinstance(error, OutcomeUnknown) or type(error) is ProviderError, (
                    f"a paid order's query answer naming provider order {ids[1]} (not {ids[0]}) raised {error!r}: "
                    "the provider answered, about a payment that is not this order's; read it so, or as unclear"
                )
                return
        assert not (isinstance(read, Notification) and read.paid and read.provider_order_id in (ids[0], None)), (
            f"the provider's answer under order {order['merchant_order_no']}'s reference named provider order "
            f"{ids[1]}, not {ids[0]}, and query_order read it as {read!r}: report the provider order id the answer "
            "names (the core then keeps the payment off this order, visibly), or raise OutcomeUnknown"
        )

    def test_a_query_answer_about_a_paid_order_without_its_amount_is_unclear(
        self, gateway_under_test: LiveGateway
    ) -> None:
        # Without the amount the provider says was paid, a plugin can only fill in the order's own, and the
        # core's amount check then compares the order with itself: "paid in full" on no evidence.
        gateway = gateway_under_test

        def change(body: bytes, content_type: str, order: dict[str, Any], exponent: int) -> bytes | None:
            return without_amount(body, content_type, order["amount"], exponent, gateway.harness)

        order, ref, replay = paid_query_changed(gateway, change, "in a field of its own")
        read: Any
        with intercepted(replay, spare=gateway.url):
            try:
                read = gateway.provider.query_order(ref)
            except ProviderError as error:
                if isinstance(error, OutcomeUnknown) or type(error) is ProviderError:
                    return
                read = error
        pytest.fail(
            f"the provider's answer about paid order {order['merchant_order_no']}, every field holding its amount "
            f"left out (signed again), was read as {read!r}: an answer that does not say how much was paid proves "
            "no payment; raise OutcomeUnknown"
        )


def _with_id(value: Any, ids: tuple[str, str]) -> Any:
    """`value` with every text equal to the first of `ids` made the second, nested objects and lists too."""
    if isinstance(value, str):
        return ids[1] if value == ids[0] else value
    if isinstance(value, dict):
        return {name: _with_id(item, ids) for name, item in value.items()}
    if isinstance(value, list):
        return [_with_id(item, ids) for item in value]
    return value


def other_id(body: bytes, content_type: str, ids: tuple[str, str], harness: ProviderHarness) -> bytes | None:
    """`body` (a JSON or form answer) with every value that is the first of `ids` made the second, signed again;
    None when no value is."""
    try:
        parsed = json.loads(body)
    except ValueError:
        if FORM not in content_type:
            return None
        pairs = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        changed = {name: ids[1] if value == ids[0] else value for name, value in pairs.items()}
        if changed == pairs:
            return None
        return urlencode(list(harness.signed_answer(changed).items())).encode()
    variant = _with_id(parsed, ids)
    if variant == parsed:
        return None
    return json.dumps(harness.signed_answer(variant) if isinstance(variant, dict) else variant).encode()


def paid_query_changed(
    gateway: LiveGateway, change: Callable[[bytes, str, dict[str, Any], int], bytes | None], holding: str
) -> tuple[dict[str, Any], Any, Any]:
    """A paid order, its reference, and the genuine answers to its query played back with each answer that
    holds its amount `change`d (body, content type, the order, its currency's exponent); skipped when none
    holds it (`holding` says how it was looked for)."""
    harness = gateway.harness
    require_query(gateway)
    order = gateway.new_order()
    harness_call(lambda: harness.pay_without_notifying(order), "pay_without_notifying(order)")
    ref = order_ref(gateway.order(order["id"]))
    genuine, recorded = recorded_call(gateway, lambda: gateway.provider.query_order(ref))
    exponent = gateway.provider.info.currencies[order["currency"]]
    changed = {
        index: (status, body, content_type)
        for index, (status, original, content_type) in enumerate(recorded)
        if (body := change(original, content_type, order, exponent)) is not None
    }
    if not changed:
        pytest.skip(f"no answer to query_order holds the amount {order['amount']} {holding}: {genuine!r}")
    return order, ref, played_back(recorded, changed)


def without_amount(
    body: bytes, content_type: str, amount: int, exponent: int, harness: ProviderHarness
) -> bytes | None:
    """`body` (a JSON object or form answer) without each top-level field that holds `amount`, signed again;
    None when none holds it."""
    holds = functools.partial(_holds, amount=amount, exponent=exponent)

    def kept(fields: dict[str, Any], form: bool) -> dict[str, Any] | None:
        left = {name: value for name, value in fields.items() if not holds(value)}
        return left if left != fields else None

    return top_level_changed(body, content_type, harness, kept)


def _holds(value: Any, *, amount: int, exponent: int) -> bool:
    return bool(_amount_as(value, (amount, amount + 1), exponent) != value)


def other_amount(
    body: bytes, content_type: str, amounts: tuple[int, int], exponent: int, harness: ProviderHarness
) -> bytes | None:
    """`body` (a JSON or form answer) with every value that holds the first of `amounts` (minor units, as a
    number or as text, or major units as decimal text) made the second, written the same way and signed
    again; None when no value holds it."""
    try:
        parsed = json.loads(body)
    except ValueError:
        if FORM not in content_type:
            return None
        pairs = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        changed = {name: _amount_as(value, amounts, exponent) for name, value in pairs.items()}
        if changed == pairs:
            return None
        return urlencode(list(harness.signed_answer(changed).items())).encode()
    variant = _with_amount(parsed, amounts, exponent)
    if variant == parsed:
        return None
    return json.dumps(harness.signed_answer(variant) if isinstance(variant, dict) else variant).encode()


def _with_amount(value: Any, amounts: tuple[int, int], exponent: int) -> Any:
    if isinstance(value, dict):
        return {name: _with_amount(item, amounts, exponent) for name, item in value.items()}
    if isinstance(value, list):
        return [_with_amount(item, amounts, exponent) for item in value]
    return _amount_as(value, amounts, exponent)


def _amount_as(value: Any, amounts: tuple[int, int], exponent: int) -> Any:
    """`value` made the second amount where it holds the first, written as it was (minor units as a number or
    text, major units as a JSON number or decimal text); else `value`."""
    amount, other = amounts
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return other if value == amount else value
    if isinstance(value, float):
        return (
            float(Decimal(other).scaleb(-exponent))
            if Decimal(str(value)) == Decimal(amount).scaleb(-exponent)
            else value
        )
    if not isinstance(value, str) or not value.replace(".", "", 1).isdigit():
        return value
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if "." not in value:
        return str(other) if number == amount else value
    if number != Decimal(amount).scaleb(-exponent):
        return value
    places = max(len(value.split(".")[1]), exponent)  # "12.5" for 12.50: one more minor unit is "12.51"
    return f"{Decimal(other).scaleb(-exponent):.{places}f}"


def asked_directly(gateway: LiveGateway, order: dict[str, Any], other: dict[str, Any], named_by: str) -> None:
    """`query_order(order)` while the provider answers about `other` (paid): unclear, or about `order` unpaid."""
    try:
        answer = gateway.provider.query_order(order_ref(order))
    except ProviderError:
        return  # refused: unclear, as it should be
    expected_id = order["provider_order_id"]
    about_it = answer.merchant_order_no == order["merchant_order_no"] and (
        expected_id is None or answer.provider_order_id in (None, expected_id)
    )
    assert about_it and not answer.paid, (
        f"asked about order {order['merchant_order_no']} ({named_by}), the provider answered about order "
        f"{other['merchant_order_no']} (paid), and query_order read it as {answer!r}: check that the answer names "
        "the order asked about (its reference, and the provider's id when the order has one), and raise "
        "OutcomeUnknown if not"
    )
