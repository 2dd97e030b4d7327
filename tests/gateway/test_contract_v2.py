"""Contract v2 rules a provider cannot get wrong without start-up saying so: ISO 4217 exponents,
operations declared once (by implementing them), and what each operation is."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.plugin.iso4217 import EXPONENTS, disagreement
from gateway.plugin.provider import (
    MULTIPLE_REFUNDS,
    PARTIAL_REFUND,
    QUERY,
    QUERY_REFUND,
    REFUND,
    Acknowledgement,
    CreatedOrder,
    InboundRequest,
    Notification,
    OrderRef,
    OrderRequest,
    Provider,
    ProviderInfo,
    RefundRequest,
    RefundResult,
    Verdict,
)


def info(**changes: Any) -> ProviderInfo:
    fields: dict[str, Any] = {"name": "acme", "display_name": "Acme", "channels": ("app",), "currencies": {"USD": 2}}
    return ProviderInfo(**{**fields, **changes})


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("USD", 2), ("EUR", 2), ("CAD", 2), ("JPY", 0), ("KRW", 0), ("ISK", 0), ("CLP", 0), ("XOF", 0),
     ("KWD", 3), ("BHD", 3), ("TND", 3), ("CLF", 4), ("UYW", 4)],
)  # fmt: skip
def test_the_iso_4217_table_knows_each_currencys_decimals(code: str, exponent: int) -> None:
    assert EXPONENTS[code] == exponent


def test_the_iso_4217_table_holds_only_codes_with_a_minor_unit() -> None:
    assert len(EXPONENTS) > 150
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in EXPONENTS)
    assert "XAU" not in EXPONENTS and "XTS" not in EXPONENTS  # gold and the testing code are not money here


def test_a_provider_counting_a_currency_unlike_iso_4217_is_refused() -> None:
    with pytest.raises(ValueError, match=r"JPY has 0 decimals in ISO 4217, not 2.*exponent_notes\['JPY'\]"):
        info(currencies={"USD": 2, "JPY": 2})
    with pytest.raises(ValueError, match="'XYZ' is not an ISO 4217 currency code"):
        info(currencies={"XYZ": 2})
    with pytest.raises(ValueError, match="exponent_notes"):
        info(currencies={"ISK": 2}, exponent_notes={"ISK": "  "})  # a note must say something
    assert disagreement("JPY", 0) is None


def test_a_provider_that_says_why_it_counts_a_currency_otherwise_is_accepted() -> None:
    why = "the provider still takes ISK in hundredths, as before ISO dropped its minor unit"
    assert info(currencies={"ISK": 2}, exponent_notes={"ISK": why}).currencies == {"ISK": 2}
    with pytest.raises(ValueError, match="exponent_notes for currencies it does not take"):
        info(exponent_notes={"ISK": why})


class QueryOnly(Provider):
    info = info()

    def create_order(self, request: OrderRequest) -> CreatedOrder:
        raise NotImplementedError

    def verify_notification(self, request: InboundRequest) -> Notification:
        raise NotImplementedError

    def acknowledge(self, verdict: Verdict) -> Acknowledgement:
        return Acknowledgement(200, "ok")

    def query_order(self, order: OrderRef) -> Notification:
        raise NotImplementedError


class Refunding(QueryOnly):
    info = info(capabilities=frozenset({PARTIAL_REFUND}))

    def refund(self, request: RefundRequest) -> RefundResult:
        raise NotImplementedError


def test_operations_are_the_methods_a_provider_implements_plus_its_capabilities() -> None:
    assert QueryOnly().operations == {QUERY}
    assert Refunding().operations == {QUERY, REFUND, PARTIAL_REFUND}
    assert QUERY_REFUND not in Refunding().operations and MULTIPLE_REFUNDS not in Refunding().operations


@pytest.mark.parametrize("operation", [QUERY, REFUND, QUERY_REFUND])
def test_an_operation_that_is_a_method_cannot_be_declared_as_a_capability_too(operation: Any) -> None:
    with pytest.raises(ValueError, match=f"{operation} in capabilities: an operation that is a method"):
        info(capabilities=frozenset({operation}))
