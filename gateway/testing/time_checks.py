"""Kit checks of time in signed messages: judged by the gateway's clock, inside the provider's window only.

Part of `ProviderConformance`. A provider that signs timestamps (Stripe's `t=`) declares its
window as `harness.timestamp_tolerance`; the kit then moves the provider's clock
(`Provider.clock`, a `FixedClock`) and expects a genuine notification refused once it is
older, or newer, than the window allows, and applied inside it. A provider that reads
`time.time()` instead of its clock, or never checks the timestamp, fails.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.plugin.clock import FixedClock, utcnow
from gateway.plugin.provider import Verdict
from gateway.testing.live import LiveGateway

MARGIN = timedelta(minutes=2)  # well past the window's edge, so that the test's own seconds never matter

# How far the provider's clock is moved from the moment the notification was signed.
MOMENTS = {
    "stale": lambda window: window + MARGIN,  # the clock is past the window: a replay
    "from_the_future": lambda window: -(window + MARGIN),
    "inside_the_window": lambda window: window - MARGIN,
}


class TimeChecks:
    @pytest.mark.parametrize("moment", sorted(MOMENTS))
    def test_a_signed_timestamp_is_judged_by_the_gateways_clock(
        self, gateway_under_test: LiveGateway, moment: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        window = harness.timestamp_tolerance
        if window is None:
            pytest.skip("harness.timestamp_tolerance is None: the provider signs no timestamps")
        assert window > MARGIN, f"harness.timestamp_tolerance {window} is too short for the kit to move around"
        order = gateway.new_order()
        notification = gateway.paid_notification(order)
        gateway.provider.clock = FixedClock(utcnow() + MOMENTS[moment](window))
        reply = gateway.notify(notification)
        verdict = gateway.verdicts()[-1]
        if moment == "inside_the_window":
            assert verdict == Verdict.APPLIED, (
                f"a notification signed {window - MARGIN} before the provider's clock was judged {verdict} "
                f"({reply}): inside timestamp_tolerance it must be applied"
            )
            return
        assert verdict == Verdict.BAD_SIGNATURE, (
            f"a notification {moment.replace('_', ' ')} by {window + MARGIN} was judged {verdict} ({reply}): "
            "compare the signed timestamp with Provider.clock (never time.time()), and refuse it outside "
            "timestamp_tolerance as BAD_SIGNATURE"
        )
        assert gateway.order(order["id"])["status"] == "pending"
