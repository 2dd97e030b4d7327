"""Kit checks for every currency a provider declares: ISO 4217's decimals, and real orders in each.

Part of `ProviderConformance`. A provider that counts a currency's decimals wrongly (JPY with
two) sends and reads amounts a hundred times off; only real orders in that very currency,
through the simulator, show it.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.plugin.money import CURRENCY_EXPONENTS
from gateway.plugin.provider import Operation, Verdict
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import refunded_at_provider
from gateway.testing.reply_checks import channel_fields


class CurrencyChecks:
    def test_every_declared_currency_has_its_iso_4217_decimals(self, gateway_under_test: LiveGateway) -> None:
        declared = gateway_under_test.provider.info.currencies
        wrong = {
            code: f"declared {exponent}, ISO 4217 says {CURRENCY_EXPONENTS.get(code, 'no such currency')}"
            for code, exponent in declared.items()
            if CURRENCY_EXPONENTS.get(code) != exponent
        }
        assert not wrong, f"info.currencies disagrees with ISO 4217: {wrong}"

    def test_every_declared_currency_is_paid_and_refunded_in_its_own_minor_units(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        operations = gateway.provider.operations
        failures: dict[str, str] = {}
        for currency in gateway.provider.info.currencies:
            try:
                self.check_currency(gateway, currency, operations)
            except AssertionError as failure:
                failures[currency] = str(failure).splitlines()[0]
        assert not failures, f"orders of {harness.amount} minor units went wrong in: {failures}"

    def test_every_channel_takes_the_currencies_its_provider_documents(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        documented = dict(harness.channel_currencies)
        if not documented:
            pytest.skip("the harness declares no channel_currencies")
        info, created = gateway.provider.info, []
        for name, currencies in documented.items():
            assert name in info.channels, f"channel_currencies names {name!r}, which info.channels lacks"
            declared = info.channel(name).currencies
            assert sorted(declared) == sorted(currencies), (
                f"channel {name} declares currencies {sorted(declared)}, its provider documents {sorted(currencies)}: "
                "orders in a missing one are refused before the provider sees them, and in an extra one fail there"
            )
            channel = info.channel(name)
            for currency in currencies:
                fields = channel_fields(harness, name, channel.required_fields, (currency,))
                if fields is None:
                    break  # the kit lacks the channel's options (channel_options): its currencies are compared only
                response = gateway.post_order(**fields)
                assert response.status_code == 201, (
                    f"an order in {currency} on channel {name}, which takes it, answered {response.status_code}: "
                    f"{response.get_json()}"
                )
                created.append((name, currency))
        assert created, "no channel of channel_currencies could be ordered in: declare channel_options for them"

    @staticmethod
    def check_currency(gateway: LiveGateway, currency: str, operations: frozenset[Operation]) -> None:
        harness = gateway.harness
        created = gateway.post_order(currency=currency, **_channel_taking(gateway, currency))
        assert created.status_code == 201, f"POST /v1/orders answered {created.status_code}: {created.get_json()}"
        order: dict[str, Any] = created.get_json()
        if Operation.QUERY in operations:
            try:
                harness.pay_without_notifying(order)
            except NotImplementedError:
                pytest.fail("the provider declares the query operation: implement harness.pay_without_notifying")
            refreshed = gateway.refresh(order["id"]).get_json()
            assert refreshed.get("status") == "paid", f"paid at the simulator, ?refresh=true says {refreshed}"
        else:
            harness.pay(order)
        reply = gateway.notify(harness.paid_notification(order))
        expected = Verdict.DUPLICATE if Operation.QUERY in operations else Verdict.APPLIED
        assert gateway.verdicts()[-1] == expected, (
            f"its paid notification was judged {gateway.verdicts()[-1]} ({reply}), not {expected}"
        )
        assert gateway.order(order["id"])["status"] == "paid"
        if Operation.REFUND in operations and Operation.PARTIAL_REFUND in operations:
            part = order["amount"] // 2
            part -= part % 10 if gateway.provider.info.currencies[currency] == 3 else 0
            refund = gateway.refund(order["id"], part)
            assert refund.status_code == 201, f"a refund of {part} answered {refund.get_json()}"
            refunded = refunded_at_provider(gateway, order)
            assert refunded == part, f"refunded {part} minor units, the simulator recorded {refunded}"


def _channel_taking(gateway: LiveGateway, currency: str) -> dict[str, Any]:
    """Order fields for a channel that takes `currency`: the harness's own, or one that needs no extra fields."""
    info, harness = gateway.provider.info, gateway.harness
    if currency in info.channel(harness.channel).currencies:
        return {}
    for name in info.channels:
        channel = info.channel(name)
        if currency in channel.currencies and not channel.required_fields:
            return {"channel": name, "provider_options": {}}
    pytest.fail(f"no channel without required fields takes {currency}: declare one, or drop the currency")
