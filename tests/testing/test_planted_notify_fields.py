"""The kit's checks of garbled notifications (`notify_fields.py`) fail the built-in providers, and
Example Pay, with a bug of each kind planted; and pass them as they are.

Each bug is planted for one pytester session, where an author would make it:

- IOTPay taking a `payOrderId` of any length (its bound removed), reading `paySuccTime` without a
  check (a huge one crashes, 0 is read as 1970), cutting an amount to whole cents, and taking any
  whole number as an amount (its range removed: a negative one is read);
- Stripe reading an event's `created` unbounded (0 is a payment made in 1970, 2**63 a crash), and
  raising a plain exception for a succeeded event whose PaymentIntent is not succeeded;
- Example Pay crashing on an amount `Decimal` cannot read, and rounding an amount with more
  decimals than its currency has into the order's amount.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = "garbled_field_by_field or fraction_of_a_minor_unit or field_of_the_unpaid"

IOTPAY_KIT = """
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from marshmallow import fields
from gateway.testing import ProviderConformance
from gateway_iotpay import provider, schemas
from tests.iotpay.harness import IotPayHarness

BUG = {bug!r}


class Cut(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        return int(Decimal(value))  # "1000.1" cents read as 1000


class AnyPayOrderId(schemas.PaymentNotify):
    pay_order_id = fields.String(data_key="payOrderId", required=True)


class CutAmount(schemas.PaymentNotify):
    amount = Cut(data_key="amount", required=True)


class AnyAmount(schemas.PaymentNotify):
    amount = fields.Integer(data_key="amount", required=True)


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "pay_order_id_of_any_length":
            monkeypatch.setattr(provider, "_PAYMENT_NOTIFY", AnyPayOrderId())
        if BUG == "paid_time_unchecked":
            paid_at = lambda text: datetime.fromtimestamp(int(text) / 1000, UTC) if text else None
            monkeypatch.setattr(provider, "_epoch_ms", paid_at)
        if BUG == "amount_cut_to_whole_cents":
            monkeypatch.setattr(provider, "_PAYMENT_NOTIFY", CutAmount())
        if BUG == "any_whole_amount":
            monkeypatch.setattr(provider, "_PAYMENT_NOTIFY", AnyAmount())

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

STRIPE_KIT = """
import pytest
from gateway.plugin import StrictInt
from gateway.testing import ProviderConformance
from gateway_stripe import provider, schemas
from tests.stripe.harness import StripeHarness

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "created_unbounded":  # "Stripe's own clock is always right"
            monkeypatch.setitem(schemas.Event._declared_fields, "created", StrictInt(required=True))
        if BUG == "contradiction_raised_as_an_error":  # "it can never happen": a plain exception, a 500 for ever
            rejected = provider.NotificationRejected

            def raised(verdict, reason):
                if " with status " in reason:  # a succeeded event whose PaymentIntent is not succeeded
                    raise RuntimeError(reason)
                return rejected(verdict, reason)

            monkeypatch.setattr(provider, "NotificationRejected", raised)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

EXAMPLE_KIT = """
from decimal import Decimal

import pytest
from gateway.testing import ProviderConformance
from tests.testing.example_by_path import ExampleByPath
from gateway_example_provider.provider import ExampleProvider

BUG = {bug!r}


def unchecked(self, text, currency):  # no check that Decimal could read it, nor that it is whole
    return int(Decimal(text).scaleb(self.info.currencies[currency]))


def rounded(self, text, currency):
    minor = Decimal(text).scaleb(self.info.currencies[currency])
    if not minor.is_finite() or minor <= 0:
        raise ValueError(text)
    return int(minor.to_integral_value())


class TestPlantedExample(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "unreadable_amount_crashes":
            monkeypatch.setattr(ExampleProvider, "_minor_units", unchecked)
        if BUG == "amount_rounded_to_the_currency":
            monkeypatch.setattr(ExampleProvider, "_minor_units", rounded)

    @pytest.fixture
    def harness(self, tmp_path):
        return ExampleByPath(tmp_path)
"""

KITS = {"iotpay": IOTPAY_KIT, "stripe": STRIPE_KIT, "example": EXAMPLE_KIT}


def run_kit(pytester: pytest.Pytester, provider: str, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, KITS[provider].format(bug=bug), SELECTION)


@pytest.mark.parametrize("provider", sorted(KITS))
def test_these_checks_pass_each_provider_as_it_is(pytester: pytest.Pytester, provider: str) -> None:
    result = run_kit(pytester, provider, "")
    assert_kit_passed(result, exactly=3)


@pytest.mark.parametrize(
    ("provider", "bug", "failure"),
    [
        ("iotpay", "pay_order_id_of_any_length", "'payOrderId' over-long"),
        ("iotpay", "paid_time_unchecked", "'paySuccTime' huge: verify_notification raised"),
        ("iotpay", "amount_cut_to_whole_cents", "a fraction of a minor unit more than the order's"),
        ("iotpay", "any_whole_amount", "an amount of -1000, which no order holds"),
        ("stripe", "created_unbounded", "'created' zero"),
        ("stripe", "contradiction_raised_as_an_error", "'data.object.status': verify_notification raised"),
        ("example", "unreadable_amount_crashes", "'amount' empty: verify_notification raised"),
        ("example", "amount_rounded_to_the_currency", "a fraction of a minor unit more than the order's"),
    ],
)
def test_these_checks_fail_a_provider_with_a_planted_bug(
    pytester: pytest.Pytester, provider: str, bug: str, failure: str
) -> None:
    result = run_kit(pytester, provider, bug)
    assert_kit_failed(result, f"{provider} with {bug!r} planted", failure)
