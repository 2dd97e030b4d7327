"""The kit's paid-time checks fail a plugin that reads its provider's time without a zone, and pass both built-in
providers as they are.

`datetime.fromtimestamp(seconds)` gives the host's local time with no zone; on a host set to UTC it looks right,
which is why a kit run on one never saw it. Elsewhere every payment is recorded hours off: the merchant's statement
of the day is wrong. The kit now runs these checks with the local time zone 14 hours east of UTC. Planted:

- Stripe's event `created` read as local time (a webhook's paid time);
- IOTPay's `paySuccTime` read as local time (a query answer's, and a notify's).
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import (
    IOTPAY_AS_IT_IS,
    STRIPE_AS_IT_IS,
    assert_kit_failed,
    assert_kit_passed,
    run_planted_kit,
)

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

STRIPE_KIT = """
import dataclasses
from datetime import datetime

import pytest
from gateway_stripe.provider import StripeProvider
from tests.stripe.harness import StripeHarness

from gateway.testing import ProviderConformance


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        verify = StripeProvider.verify_notification

        def planted_verify(self, request):
            read = verify(self, request)
            paid_at = getattr(read, "paid_at", None)
            if paid_at is None:
                return read
            return dataclasses.replace(read, paid_at=datetime.fromtimestamp(paid_at.timestamp()))  # "local is fine"

        monkeypatch.setattr(StripeProvider, "verify_notification", planted_verify)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

IOTPAY_KIT = """
from datetime import datetime

import pytest
from gateway_iotpay import provider
from tests.iotpay.harness import IotPayHarness

from gateway.testing import ProviderConformance


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        def planted_epoch_ms(text):
            if not text or not text.isdigit() or not int(text):
                return None
            return datetime.fromtimestamp(int(text) / 1000)  # the zone "is the server's anyway"

        monkeypatch.setattr(provider, "_epoch_ms", planted_epoch_ms)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

LATE_NOTIFICATION = "late_paid_notification_keeps_the_paid_time"
PAID_TIME = "paid_time"


def test_the_checks_pass_stripe_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_planted_kit(pytester, STRIPE_AS_IT_IS, LATE_NOTIFICATION), exactly=1)


def test_the_checks_pass_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_planted_kit(pytester, IOTPAY_AS_IT_IS, PAID_TIME), exactly=2)


def test_stripe_reading_its_event_time_as_local_time_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT, LATE_NOTIFICATION)
    assert_kit_failed(result, "Stripe's event time read as local time", "when it arrived, not when the provider says")


def test_iotpay_reading_its_paid_time_as_local_time_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT, PAID_TIME)
    assert result.parseoutcomes().get("failed", 0) == 2, result.stdout.str()
    assert_kit_failed(result, "IOTPay's paySuccTime read as local time", "when it was asked, not when the provider")
