"""Kit checks of the notifications the simulator sends by itself: genuine, so never a server error.

Part of `ProviderConformance`. While the kit pays an order and refunds it (whole, and pending then
settled where the harness has `pend_next_refund`), the simulator notifies the gateway over HTTP as its
provider would (Stripe: `payment_intent.succeeded`, `charge.refunded`, `refund.updated`). Each is
genuine, about something the gateway did: the gateway must answer none with a 5xx (a plugin that
crashes on an event it did not expect makes the provider re-send it for days and flag the endpoint as
failing), and record none as `bad_signature` or `malformed`. A simulator that sends nothing over HTTP
skips the check.
"""

from __future__ import annotations

import contextlib
import time

import pytest

from gateway.plugin.provider import Operation, Verdict
from gateway.testing.live import LiveGateway, Served

QUIET = 0.5  # seconds without a new notification: the simulator has sent what it had to
AT_MOST = 5.0  # seconds to wait for that
RECORDED = 0.5  # seconds for a simulator to record the answer its notification got


def answered_notification(gateway: LiveGateway, since: int) -> bool:
    """Whether a notification of the simulator's own, served after the first `since`, was answered 2xx
    within `AT_MOST` seconds."""
    deadline = time.monotonic() + AT_MOST
    while time.monotonic() < deadline:
        if any(served.path.startswith("/notify/") and served.status < 300 for served in gateway.served[since:]):
            return True
        time.sleep(0.05)
    return False


def quiet_notifications(gateway: LiveGateway) -> list[Served]:
    """The notifications served so far, once the simulator has stopped sending them for `QUIET` seconds."""
    deadline, seen, since = time.monotonic() + AT_MOST, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(gateway.served)
        if count != seen:
            seen, since = count, time.monotonic()
        elif time.monotonic() - since >= QUIET:
            break
        time.sleep(0.05)
    return [served for served in gateway.served if served.path.startswith("/notify/")]


class OwnNotificationChecks:
    def test_the_simulators_own_notifications_never_meet_a_server_error(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = gateway.paid_order()
        if Operation.REFUND in gateway.provider.operations:
            gateway.refund(order["id"], order["amount"])
            other = gateway.paid_order()
            with contextlib.suppress(NotImplementedError):
                harness.pend_next_refund()
                gateway.refund(other["id"], other["amount"])
                harness.settle_pending_refunds(other, "succeeded")
        notified = quiet_notifications(gateway)
        if not notified:
            pytest.skip("the simulator sent no notification of its own to the gateway over HTTP")
        errors = [served for served in notified if served.status >= 500]
        assert not errors, (
            f"the simulator's own notifications, genuine, got server errors: {errors} (of {notified}); "
            "verify_notification must refuse (NotificationRejected) or read every event your provider sends, "
            "never raise anything else"
        )
        refused = [verdict for verdict in gateway.verdicts() if verdict in (Verdict.BAD_SIGNATURE, Verdict.MALFORMED)]
        assert not refused, f"the simulator's own notifications, genuine, were recorded as {gateway.verdicts()}"
