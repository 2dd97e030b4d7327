"""Kit checks of the limits a harness declares: field lengths (`field_limits`), the largest and the smallest
amount (`largest_amount`, `smallest_amount`) and the smallest and largest a notification may carry
(`smallest_notified_amount`, `largest_notified_amount`), each probed exactly at the limit and one past it.

Part of `ProviderConformance`. A limit off by one is a bug nobody sees until a merchant's order
sits at it: one character or one unit too strict refuses orders the provider takes, one too loose
sends the provider what it refuses (the order fails at the provider, after the merchant was told
it was valid) or what it truncates. Only an order at the very edge tells, so the kit puts one
there, and one just past it.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.plugin.provider import Verdict
from gateway.testing.harness import FieldLimit
from gateway.testing.hostile import HostileChecks
from gateway.testing.live import LiveGateway


class LimitChecks:
    def test_each_declared_field_limit_is_taken_exactly_and_refused_one_past(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        limits: list[FieldLimit] = list(harness.field_limits)
        if not limits:
            pytest.skip("the harness declares no field_limits")
        for limit in limits:
            assert len(limit.start) <= limit.length, f"field_limits: {limit.field}'s start is past its length"
            at = limit.start + "x" * (limit.length - len(limit.start))
            taken = gateway.post_order(**order_with(gateway, limit, at))
            assert taken.status_code == 201, (
                f"an order whose {limit.field} is {limit.length} characters, the provider's limit, answered "
                f"{taken.status_code}: {taken.get_json()}; a limit one too strict refuses orders the provider takes"
            )
            refused = gateway.post_order(**order_with(gateway, limit, at + "x"))
            errors = (refused.get_json(silent=True) or {}).get("errors") or {}
            assert refused.status_code == 422 and limit.field in errors, (
                f"an order whose {limit.field} is {limit.length + 1} characters, one past the provider's limit, "
                f"answered {refused.status_code}: {refused.get_json()}; expected a 422 naming {limit.field!r}, "
                "before any call (the provider would refuse or cut it)"
            )

    def test_the_largest_declared_amount_is_taken_exactly_and_one_unit_more_refused(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        largest = harness.largest_amount
        if largest is None:
            pytest.skip("the harness declares no largest_amount")
        order = _taken(gateway, largest, "harness.largest_amount")
        # A notification claiming one unit more disagrees with the order like any other amount: a mismatch.
        gateway.notify(gateway.paid_notification(order, amount=largest + 1))
        assert gateway.verdicts() == [Verdict.MISMATCH], (
            f"a paid notification of {largest + 1} for an order of {largest} was recorded as {gateway.verdicts()}, "
            "not mismatch: an amount past the limit is still an amount that disagrees with the order"
        )
        HostileChecks.check_exact_amount(gateway, largest, order=order)
        _refused_before_any_call(gateway, largest + 1, "one past harness.largest_amount")

    def test_the_smallest_declared_amount_is_ordered_paid_and_refunded_exactly_and_one_unit_less_refused(
        self, gateway_under_test: LiveGateway
    ) -> None:
        # The other end of `largest_amount`: an order of one cent is one a provider takes (IOTPay: from 1), and a
        # plugin one unit too strict refuses it, or its refund, with nothing at the provider to say why.
        gateway, harness = gateway_under_test, gateway_under_test.harness
        smallest = harness.smallest_amount
        if smallest is None:
            pytest.skip("the harness declares no smallest_amount")
        HostileChecks.check_exact_amount(gateway, smallest, order=_taken(gateway, smallest, "harness.smallest_amount"))
        _refused_before_any_call(gateway, smallest - 1, "one under harness.smallest_amount")

    def test_the_smallest_declared_notified_amount_is_a_mismatch_and_one_unit_less_malformed(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        smallest = harness.smallest_notified_amount
        if smallest is None:
            pytest.skip("the harness declares no smallest_notified_amount")
        order = gateway.new_order()
        assert order["amount"] != smallest, "harness.amount must differ from harness.smallest_notified_amount"
        for amount, verdict in ((smallest, Verdict.MISMATCH), (smallest - 1, Verdict.MALFORMED)):
            gateway.notify(gateway.paid_notification(order, amount=amount))
            assert gateway.verdicts()[-1] == verdict, (
                f"a signed paid notification of {amount} for an order of {order['amount']} was recorded as "
                f"{gateway.verdicts()[-1]}, not {verdict} (harness.smallest_notified_amount is {smallest}): an "
                "amount the provider can sign disagrees with the order; one below it is no amount at all"
            )
        assert gateway.order(order["id"])["status"] == "pending", "a notification of another amount paid the order"

    def test_the_largest_declared_notified_amount_is_a_mismatch_and_one_unit_more_malformed(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        largest = harness.largest_notified_amount
        if largest is None:
            pytest.skip("the harness declares no largest_notified_amount")
        order = gateway.new_order()
        for amount, verdict in ((largest, Verdict.MISMATCH), (largest + 1, Verdict.MALFORMED)):
            gateway.notify(gateway.paid_notification(order, amount=amount))
            assert gateway.verdicts()[-1] == verdict, (
                f"a signed paid notification of {amount} for an order of {order['amount']} was recorded as "
                f"{gateway.verdicts()[-1]}, not {verdict} (harness.largest_notified_amount is {largest}): an "
                "amount a record holds disagrees with the order; one past it is no amount at all"
            )
        assert gateway.order(order["id"])["status"] == "pending", "a notification of another amount paid the order"


def order_with(gateway: LiveGateway, limit: FieldLimit, value: str) -> dict[str, Any]:
    """`post_order` fields: the limit's overrides, with `value` in its field (`provider_options.x` nested)."""
    fields = dict(limit.overrides)
    if limit.field.startswith("provider_options."):
        channel = fields.get("channel", gateway.harness.channel)
        options = dict(gateway.harness.order_options()) if channel == gateway.harness.channel else {}
        options.update(fields.get("provider_options") or {})
        fields["provider_options"] = {**options, limit.field.removeprefix("provider_options."): value}
    else:
        fields[limit.field] = value
    return fields


def _taken(gateway: LiveGateway, amount: int, declared: str) -> dict[str, Any]:
    """An order of exactly a declared limit is created: the order as the API answered it."""
    created = gateway.post_order(amount=amount)
    assert created.status_code == 201, (
        f"an order of {amount} minor units ({declared}) answered {created.status_code}: "
        f"{created.get_json()}; a limit one too strict refuses orders the provider takes"
    )
    order: dict[str, Any] = created.get_json()
    return order


def _refused_before_any_call(gateway: LiveGateway, amount: int, where: str) -> None:
    """An order one unit past a declared limit is refused with a 422 naming `amount`."""
    past = gateway.post_order(amount=amount)
    errors = (past.get_json(silent=True) or {}).get("errors") or {}
    assert past.status_code == 422 and "amount" in errors, (
        f"an order of {amount} minor units, {where}, answered {past.status_code}: "
        f"{past.get_json()}; expected a 422 naming 'amount', before any call to the provider"
    )
