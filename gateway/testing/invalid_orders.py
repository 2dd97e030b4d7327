"""Kit checks of the orders a harness declares invalid (`ProviderHarness.invalid_orders`) or valid
(`ProviderHarness.valid_orders`).

Part of `ProviderConformance`. A merchant who sends an order the provider cannot take needs to
know which field to fix: the API answers 422 with `errors` naming it. The core checks what
`info` and `options_schema` declare; a provider's own rules (a value it echoes in a signed
message, a field its wire format limits) are the plugin's to check, and to name right. Each
declared example must be refused with a 422 naming its field, and create no order. The other side
of the same rules: an order close to an invalid one (an option left empty, or switched off where
the channel takes none) must be taken, or a merchant's checkout that always sends every option
fails for no reason.

A refund the provider's rules refuse (`ProviderHarness.invalid_refunds`: Stripe's three-decimal
currencies take only amounts ending in 0) fails with the declared code, and moves no money: sent
on, the provider might take what its rules say it refuses, or refuse it with a code the merchant
was never told of.
"""

from __future__ import annotations

import pytest

from gateway.plugin.provider import Operation
from gateway.testing.harness import InvalidOrderExample, InvalidRefundExample, ValidOrderExample
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import refunded_at_provider


class InvalidOrderChecks:
    def test_an_order_the_harness_declares_invalid_is_refused_naming_its_field(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        examples: list[InvalidOrderExample] = list(harness.invalid_orders)
        if not examples:
            pytest.skip("the harness declares no invalid_orders")
        for example in examples:
            response = gateway.post_order(**example.overrides)
            answer = response.get_json(silent=True) or {}
            assert response.status_code == 422, (
                f"invalid order {example.name!r} ({dict(example.overrides)}) answered {response.status_code}: "
                f"{answer}; raise InvalidOrder from validate_order, before any call to the provider"
            )
            named = answer.get("errors") or {}
            assert example.field in named, (
                f"invalid order {example.name!r} was refused naming {sorted(named)}, not {example.field!r}: "
                "the merchant is told to fix the wrong field"
            )
            assert all(isinstance(text, str) and text for texts in named.values() for text in texts), (
                f"invalid order {example.name!r}: every error needs a message, got {named}"
            )

    def test_a_refund_against_the_providers_rules_fails_with_its_documented_code(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        examples: list[InvalidRefundExample] = list(harness.invalid_refunds)
        if not examples:
            pytest.skip("the harness declares no invalid_refunds")
        operations = set(gateway.provider.operations)
        assert Operation.REFUND in operations, "invalid_refunds needs the refund operation declared"
        for example in examples:
            order = gateway.paid_order(**example.overrides)
            assert example.amount >= order["amount"] or Operation.PARTIAL_REFUND in operations, (
                f"invalid refund {example.name!r} refunds part of its order; the provider declares no partial_refund"
            )
            response = gateway.refund(order["id"], example.amount)
            refunds = gateway.refunds(order["id"])
            shown = [(refund["status"], (refund.get("provider_error") or {}).get("code")) for refund in refunds]
            assert shown == [("failed", example.code)], (
                f"invalid refund {example.name!r} ({example.amount} of an order of {order['amount']} "
                f"{order['currency']}) answered {response.status_code} {response.get_json(silent=True)}; the refund "
                f"shows (status, code) {shown}, not [('failed', {example.code!r})]: refuse it (Refused) with the code "
                "your provider's page documents"
            )
            refunded = refunded_at_provider(gateway, order)
            assert refunded == 0, (
                f"invalid refund {example.name!r}: the simulator refunded {refunded} though the refund failed"
            )

    def test_an_order_the_harness_declares_valid_is_created(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        examples: list[ValidOrderExample] = list(harness.valid_orders)
        if not examples:
            pytest.skip("the harness declares no valid_orders")
        for example in examples:
            response = gateway.post_order(**example.overrides)
            assert response.status_code == 201, (
                f"valid order {example.name!r} ({dict(example.overrides)}) answered {response.status_code}: "
                f"{response.get_json(silent=True)}; an option left empty or switched off is not one given"
            )
