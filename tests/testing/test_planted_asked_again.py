"""The kit's checks of what a provider says when asked again fail the built-in providers with planted bugs,
and pass them as they are:

- IOTPay knowing only status 2 as paid, so an order whose notify was acknowledged (status 3) reads as unpaid;
- Example Pay's query taking an answer about another order for an order with no provider id yet;
- Stripe's query_refund that never looks a refund up by the gateway's refund id;
- Stripe sending a refund's reason as Stripe's own `reason`, which takes three words only;
- IOTPay's query dropping the paid time IOTPay gives (`paySuccTime`), so a payment found late is paid "now";
- IOTPay reading `paySuccTime`'s milliseconds off by a unit (divided by 1001), so a payment made today is
  recorded weeks before its order existed;
- Stripe crashing on an event from the other mode (`livemode` flipped), which Stripe would re-send for days.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

IOTPAY_KIT = """
import pytest
import dataclasses
from gateway.testing import ProviderConformance
from gateway_iotpay import provider, schemas
from gateway_iotpay.provider import IotPayProvider
from tests.iotpay.harness import IotPayHarness

BUG = {bug!r}


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "paid_is_status_2":  # "3, paid and notified, is the simulator's business"
            monkeypatch.setattr(schemas, "PAID_STATUSES", frozenset({{schemas.STATUS_PAID}}))
        if BUG == "query_paid_time_dropped":  # "the notify has the time; a query only says paid or not"
            query = IotPayProvider.query_order
            monkeypatch.setattr(
                IotPayProvider, "query_order", lambda self, order: dataclasses.replace(query(self, order), paid_at=None)
            )
        if BUG == "paid_time_unit_off":  # "paySuccTime is in thousandths of a second, roughly"
            epoch_ms = provider._epoch_ms
            monkeypatch.setattr(
                provider, "_epoch_ms", lambda text: epoch_ms(str(int(text) * 1000 // 1001)) if text else None
            )

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

EXAMPLE_KIT = """
import pytest
from gateway.plugin.provider import OutcomeUnknown
from gateway.testing import ProviderConformance
from gateway_example_provider import schemas
from tests.testing.example_by_path import ExampleByPath
from gateway_example_provider.provider import ExampleProvider

BUG = {bug!r}


def checked_by_id_alone(self, order):  # "the payment id says which payment it is"
    payment = schemas.Payment().load(self.client.call("query_order", {{"reference": order.merchant_order_no}}))
    if order.provider_order_id is not None and payment["id"] != order.provider_order_id:
        raise OutcomeUnknown("INVALID_RESPONSE", "Example Pay answered about another payment")
    return self._notification(payment)


class TestPlantedExample(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "checked_by_id_alone":
            monkeypatch.setattr(ExampleProvider, "query_order", checked_by_id_alone)

    @pytest.fixture
    def harness(self, tmp_path):
        return ExampleByPath(tmp_path)
"""

STRIPE_KIT = """
import pytest
from gateway.plugin.provider import NotFound, NotificationRejected
from gateway.testing import ProviderConformance
from gateway_stripe import client
from gateway_stripe.provider import StripeProvider
from tests.stripe.harness import StripeHarness

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "refund_found_by_stripes_id_only":  # "an answer always gives Stripe's id"
            original = StripeProvider.query_refund

            def by_stripes_id(self, refund):
                if refund.provider_refund_id is None:
                    raise NotFound("no_such_refund", "no Stripe refund id")
                return original(self, refund)

            monkeypatch.setattr(StripeProvider, "query_refund", by_stripes_id)
        if BUG == "reason_as_stripes_reason":  # "Stripe has a reason parameter: use it"
            post = client.StripeClient.post

            def with_reason(self, path, params, *, idempotency_key):
                if path == "/v1/refunds" and "reason" in params.get("metadata", {{}}):
                    params = {{**params, "reason": params["metadata"]["reason"]}}
                return post(self, path, params, idempotency_key=idempotency_key)

            monkeypatch.setattr(client.StripeClient, "post", with_reason)
        if BUG == "other_mode_crashes":  # "an event from the other mode never reaches this endpoint"
            verify = StripeProvider.verify_notification

            def crashing(self, request):
                try:
                    return verify(self, request)
                except NotificationRejected as rejected:
                    if "other mode" in str(rejected.reason):
                        raise KeyError("livemode") from None
                    raise

            monkeypatch.setattr(StripeProvider, "verify_notification", crashing)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

STILL_PAID = "still_paid_when_asked"
NO_PROVIDER_ID = "refused_when_the_order_has_no_provider_id"
LOST_REFUND = "found_by_its_refund_id"
LONGEST_REASON = "longest_reason"
QUERY_PAID_TIME = "found_late_by_a_query"
PAID_TIME = "paid_time"
GARBLED_NOTIFICATION = "notification_garbled_field_by_field"


def test_the_checks_pass_the_providers_as_they_are(pytester: pytest.Pytester) -> None:
    assert_kit_passed(
        run_planted_kit(pytester, IOTPAY_KIT.format(bug=""), f"{STILL_PAID} or {NO_PROVIDER_ID} or {PAID_TIME}"),
        exactly=4,
    )
    assert_kit_passed(run_planted_kit(pytester, EXAMPLE_KIT.format(bug=""), NO_PROVIDER_ID), exactly=1)
    assert_kit_passed(
        run_planted_kit(pytester, STRIPE_KIT.format(bug=""), f"{LOST_REFUND} or {LONGEST_REASON}"), exactly=2
    )


def test_iotpay_reading_an_acknowledged_payment_as_unpaid_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="paid_is_status_2"), STILL_PAID)
    assert_kit_failed(result, "IOTPay knowing only status 2", "before and after the merchant acknowledged it")


def test_example_pay_taking_an_answer_about_another_order_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, EXAMPLE_KIT.format(bug="checked_by_id_alone"), NO_PROVIDER_ID)
    assert_kit_failed(result, "Example Pay checking the payment id alone", "names the order asked about (its reference")


def test_stripe_never_looking_a_refund_up_by_its_refund_id_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug="refund_found_by_stripes_id_only"), LOST_REFUND)
    assert_kit_failed(result, "Stripe's query_refund by Stripe's id only", "find it by the refund id every")


def test_stripe_sending_the_reason_stripe_refuses_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug="reason_as_stripes_reason"), LONGEST_REASON)
    assert_kit_failed(result, "Stripe's reason sent as Stripe's reason", "but make the refund")


def test_iotpay_dropping_the_paid_time_its_query_gives_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="query_paid_time_dropped"), QUERY_PAID_TIME)
    assert_kit_failed(result, "IOTPay's query without paySuccTime", "when it was asked, not when the provider says")


def test_iotpay_misreading_the_unit_of_the_paid_time_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="paid_time_unit_off"), PAID_TIME)
    assert_kit_failed(result, "IOTPay dividing paySuccTime by 1001", "before the order existed")


def test_stripe_crashing_on_an_event_from_the_other_mode_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug="other_mode_crashes"), GARBLED_NOTIFICATION)
    assert_kit_failed(result, "Stripe crashing on livemode", "'livemode' made")
