"""The kit's checks of declared limits, channel currencies, valid orders and refund ids fail IOTPay with a
bug of each kind planted (and pass it as it is):

- a field limit one too loose on the wire (a 65-character `subject` sent to IOTPay, which refuses it);
- an option the plugin forgets it takes (`param2` missing from its options schema);
- the largest amount one unit too strict, and a notify past it judged malformed rather than a mismatch;
- the smallest amount one unit too strict (an order of one cent refused);
- a notify of 0 judged malformed rather than a mismatch (its amount read from 1), and one of -1 read as an amount;
- CNY missing from a channel IOTPay documents it on (`ALIPAY_PC`);
- an option switched off (`False`) counted as given, so a channel that does not take it refuses the order;
- the refund's provider id taken from the request's own `mchRefundNo` instead of IOTPay's `refundOrderId`;
- a query that needs IOTPay's `payOrderId`, so an order whose create answer was lost is never found paid.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = (
    "field_limit or largest_declared or provider_documents or id_the_provider_gave or declares_valid or answer_was_lost"
    " or smallest_declared"
)

IOTPAY_KIT = """
import dataclasses
import pytest
from marshmallow import Schema, fields, validate
from gateway.plugin import InvalidOrder, NotFound
from gateway.testing import ProviderConformance
from gateway_iotpay import provider, schemas
from tests.iotpay.harness import IotPayHarness

BUG = {bug!r}


class LooseSubject(schemas.CreateOrderRequest):
    subject = fields.String(data_key="subject", required=True, validate=validate.Length(max=65))


class BoundedNotify(schemas.PaymentNotify):
    amount = fields.Integer(data_key="amount", required=True, validate=validate.Range(min=0, max=2**31 - 1))


SMALLEST = 1 if BUG == "notify_amount_from_one" else -1


class NotifyFrom(schemas.PaymentNotify):
    amount = fields.Integer(data_key="amount", required=True, validate=validate.Range(min=SMALLEST))


class AmountFromTwo(schemas.CreateOrderRequest):
    amount = fields.Integer(data_key="amount", required=True, validate=validate.Range(min=2, max=2**31 - 1))


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "smallest_amount_refused":  # "an order of one cent is a mistake"
            monkeypatch.setitem(provider._REQUEST_SCHEMAS, "create_order", AmountFromTwo())
        if BUG == "subject_limit_one_too_loose":
            monkeypatch.setitem(provider._REQUEST_SCHEMAS, "create_order", LooseSubject())
        if BUG == "param2_option_forgotten":
            options = Schema.from_dict(
                {{name: field for name, field in provider.IotPayOptions._declared_fields.items() if name != "param2"}}
            )
            monkeypatch.setattr(provider, "_OPTIONS", options())
        if BUG == "largest_amount_refused":
            check = provider.IotPayProvider.check_order

            def strict(self, draft):
                if draft.amount >= 2**31 - 1:  # "< MAX_AMOUNT" where the limit is inclusive
                    raise InvalidOrder({{"amount": ["too large for IOTPay"]}})
                check(self, draft)

            monkeypatch.setattr(provider.IotPayProvider, "check_order", strict)
        if BUG == "notify_amount_past_the_limit_malformed":
            monkeypatch.setattr(provider, "_PAYMENT_NOTIFY", BoundedNotify())
        if BUG in ("notify_amount_from_one", "negative_notify_amount_read"):
            monkeypatch.setattr(provider, "_PAYMENT_NOTIFY", NotifyFrom())
        if BUG == "cny_missing_on_a_channel":
            without_alipay_pc = frozenset({{"WX_NATIVE", "ALIPAY_WAP", "UPI_SEQ"}})
            monkeypatch.setattr(schemas, "CNY_CREATE_ORDER_CHANNELS", without_alipay_pc)
        if BUG == "false_counts_as_given":
            check = provider.IotPayProvider.check_order

            def switched_on(self, draft):
                given = {{name: True if value is False else value for name, value in draft.options.items()}}
                check(self, dataclasses.replace(draft, options=given))

            monkeypatch.setattr(provider.IotPayProvider, "check_order", switched_on)
        if BUG == "refund_id_is_our_own_number":
            refund = provider.IotPayProvider.refund

            def own_number(self, request):
                result = refund(self, request)
                return dataclasses.replace(result, provider_refund_id=provider.refund_number(request.refund_id))

            monkeypatch.setattr(provider.IotPayProvider, "refund", own_number)

        if BUG == "query_needs_the_providers_id":
            query = provider.IotPayProvider.query_order

            def by_provider_id_only(self, order):
                if not order.provider_order_id:
                    raise NotFound("0112", "merchant order id does not exist")
                return query(self, order)

            monkeypatch.setattr(provider.IotPayProvider, "query_order", by_provider_id_only)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""


def run_kit(pytester: pytest.Pytester, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, IOTPAY_KIT.format(bug=bug), SELECTION)


def test_these_checks_pass_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "")
    assert_kit_passed(result, at_least=5)


@pytest.mark.parametrize(
    ("bug", "failure"),
    [
        ("subject_limit_one_too_loose", "one past the provider's limit"),
        ("param2_option_forgotten", "a limit one too strict refuses orders the provider takes"),
        ("largest_amount_refused", "(harness.largest_amount) answered 422"),
        ("smallest_amount_refused", "(harness.smallest_amount) answered 422"),
        ("notify_amount_past_the_limit_malformed", "recorded as ['malformed'], not mismatch"),
        ("notify_amount_from_one", "of 0 for an order of 1000 was recorded as malformed, not mismatch"),
        ("negative_notify_amount_read", "of -1 for an order of 1000 was recorded as mismatch, not malformed"),
        ("cny_missing_on_a_channel", "channel ALIPAY_PC declares currencies ['CAD', 'USD'], its provider documents"),
        ("false_counts_as_given", "an option left empty or switched off is not one given"),
        ("refund_id_is_our_own_number", "read RefundResult.provider_refund_id from the provider's answer"),
        ("query_needs_the_providers_id", "finds an order by merchant_order_no alone"),
    ],
)
def test_these_checks_fail_iotpay_with_a_planted_bug(pytester: pytest.Pytester, bug: str, failure: str) -> None:
    result = run_kit(pytester, bug)
    assert_kit_failed(result, f"IOTPay with {bug!r} planted", failure)
