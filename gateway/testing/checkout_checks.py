"""Kit checks of what a payer's checkout is handed, when a payment was made, and a shared account.

Part of `ProviderConformance`; each runs only when the harness declares what it needs, and skips
otherwise, so a harness written for an earlier kit runs unchanged.

- `sdk_params`: the `next_action.params` keys the provider's client-side SDK needs (Stripe.js: the
  PaymentIntent's `client_secret` and the publishable key). Without one, the payer's checkout cannot
  start: the kit expects each present, a non-empty string, and one the provider answered or the
  settings hold (never made up).
- `notifications_carry_paid_time`: the provider's paid notification says when the payment was made
  (Stripe: the event's `created`). A notification that arrives late (a provider re-sends for days)
  must not move the payment to when it arrived: the merchant's statement of that day would be wrong.
  With `paid_time_unit` declared (what the provider gives times in), nor may it be read as earlier than
  the order itself, less that unit and a second for the clocks (a unit misread: milliseconds divided
  by another number, seconds taken for milliseconds). The same goes for a payment a query finds
  (`queries_carry_paid_time`). Both run twice, with the process's local time zone 14 hours east of UTC
  and 12 hours west (`TZ=<+14>-14`, `TZ=<-12>12`), as on hosts not set to UTC: a time read without its
  zone (`datetime.fromtimestamp(seconds)`, or a provider's clock time taken for the host's) is then hours
  off, where on a UTC host it can look right.
- `notifications_reach_every_endpoint`: the provider sends each notification of an account to every
  endpoint registered there (Stripe's webhook endpoints), so gateways that share one account each
  receive the others', and those of payments and refunds made outside any gateway (the provider's
  dashboard; `refund_notification` of an order with no `merchant_order_no`). Such a notification must
  be acknowledged as accepted (or the provider re-sends it for days and may switch the endpoint off)
  and change nothing here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from gateway.plugin.clock import utcnow
from gateway.plugin.provider import Operation, Verdict
from gateway.testing.harness import ProviderHarness
from gateway.testing.live import LiveGateway
from gateway.testing.wire import intercepted

LATE = 1.5  # seconds between building a paid notification and delivering it
SKEW = timedelta(seconds=1)  # between the machine's clock and the simulator's, beyond the provider's own unit
SDK_PARAMS = "sdk_params"  # NextActionType.SDK_PARAMS, as the order JSON shows it
# POSIX zone strings (no time zone database needed): 14 hours east of UTC and 12 hours west, the farthest a host's
# local time can be from UTC either way. A time read without its zone lands on the wrong side of a check at one.
AWAY_FROM_UTC = (("UTC+14", "<+14>-14", 14 * 3600), ("UTC-12", "<-12>12", -12 * 3600))


@contextmanager
def local_time(zone: str, offset: int) -> Iterator[None]:
    """Meanwhile, the process's local time zone is `zone` (what `time.localtime` and a `datetime` made without
    a zone follow)."""
    if not hasattr(time, "tzset"):
        pytest.skip("this platform cannot set the process's local time zone (time.tzset)")
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        assert time.localtime().tm_gmtoff == offset, f"TZ={zone} did not take: local time is not UTC{offset:+d}s"
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


class CheckoutChecks:
    def test_the_checkout_is_handed_every_parameter_its_sdk_needs(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        needed = list(harness.sdk_params)
        if not needed:
            pytest.skip("harness.sdk_params is not declared: the kit cannot know what the client-side SDK needs")
        answers: list[str] = []

        def keep_answer(index: int, request: requests.PreparedRequest, send: Callable[[], requests.Response]) -> Any:
            answered = send()
            answers.append(answered.text)
            return answered

        with intercepted(keep_answer, spare=gateway.url):
            response = gateway.post_order()
        assert response.status_code == 201, f"POST /v1/orders answered {response.status_code}: {response.get_json()}"
        action = response.get_json().get("next_action") or {}
        assert action.get("type") == SDK_PARAMS, (
            f"harness.sdk_params is declared, but an order in harness.channel {harness.channel!r} has next action "
            f"{action.get('type')!r}, not {SDK_PARAMS!r}"
        )
        params = action.get("params") or {}
        known = [*answers, *gateway_settings_values(harness, gateway)]
        for key in needed:
            value = params.get(key)
            assert isinstance(value, str) and value, (
                f"next_action.params[{key!r}] is {value!r}: the payer's checkout needs it (harness.sdk_params), "
                f"and got {sorted(params)}"
            )
            assert any(value in text for text in known), (
                f"next_action.params[{key!r}] = {value!r} is neither in the provider's answer nor in the settings"
            )

    def test_a_late_paid_notification_keeps_the_paid_time_it_carries(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.notifications_carry_paid_time:
            pytest.skip("harness.notifications_carry_paid_time is not declared")
        for name, zone, offset in AWAY_FROM_UTC:
            ordered = utcnow()
            order = gateway.new_order()
            notification = gateway.paid_notification(order)
            built = utcnow()
            time.sleep(LATE)  # as a provider's re-sent notification arrives after the payment
            with local_time(zone, offset):
                reply = gateway.notify(notification)
            paid = gateway.order(order["id"])
            assert paid["status"] == "paid", f"the paid notification got {reply}; the order is {paid['status']!r}"
            paid_at = datetime.fromisoformat(paid["paid_at"])
            assert paid_at <= built + timedelta(seconds=LATE / 3), (
                f"a paid notification built at {built.isoformat()} and delivered {LATE}s later, on a host whose local "
                f"time is {name}, made the order paid at {paid['paid_at']}: when it arrived, not when the provider "
                "says it was paid (Notification.paid_at), or a time read without its zone"
            )
            unit = harness.paid_time_unit
            assert unit is None or paid_at >= ordered - unit - SKEW, (
                f"a paid notification for an order made at {ordered.isoformat()}, on a host whose local time is "
                f"{name}, made it paid at {paid['paid_at']}, before the order existed: read the provider's time in "
                "its own unit and zone (Notification.paid_at)"
            )

    def test_a_payment_found_late_by_a_query_keeps_the_paid_time_the_provider_gives(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.queries_carry_paid_time or Operation.QUERY not in gateway.provider.operations:
            pytest.skip("harness.queries_carry_paid_time is not declared (or no query operation)")
        for name, zone, offset in AWAY_FROM_UTC:
            order = gateway.new_order()
            paid = utcnow()
            harness.pay_without_notifying(order)
            settled = utcnow()
            time.sleep(LATE)  # as reconciliation finds a payment whose notification was lost, later
            with local_time(zone, offset):
                refreshed = gateway.refresh(order["id"]).get_json()
            assert refreshed.get("status") == "paid", f"paid at the simulator, ?refresh=true says {refreshed}"
            paid_at = datetime.fromisoformat(refreshed["paid_at"])
            assert paid_at <= paid + timedelta(seconds=LATE / 3), (
                f"an order paid at the simulator at {paid.isoformat()} and found by a query {LATE}s later, on a host "
                f"whose local time is {name}, is paid at {refreshed['paid_at']}: when it was asked, not when the "
                "provider says it was paid (Notification.paid_at), or a time read without its zone"
            )
            unit = harness.paid_time_unit
            assert unit is None or paid_at >= paid - unit - SKEW, (
                f"an order paid at the simulator between {paid.isoformat()} and {settled.isoformat()}, on a host "
                f"whose local time is {name}, is paid at {refreshed['paid_at']} by a query, before it was paid: read "
                "the provider's time in its own unit and zone"
            )

    def test_another_gateways_notification_on_a_shared_account_changes_nothing(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        if not gateway_harness.notifications_reach_every_endpoint:
            pytest.skip("harness.notifications_reach_every_endpoint is not declared")
        ours, theirs = gateway_factory(), gateway_factory()  # one account, two gateways (two public URLs)
        order = theirs.new_order()
        notification = theirs.paid_notification(order)
        reply = ours.notify(notification)
        verdicts = ours.verdicts()
        assert verdicts == [Verdict.IGNORED], (
            f"another gateway's paid notification on the same account was recorded here as {verdicts}: "
            "tell your own orders from the others' (e.g. by a tag sent with each create) and ignore theirs"
        )
        assert reply == ours.ack(Verdict.IGNORED), (
            f"acknowledged with {reply}: the provider would re-send it, and may switch this endpoint off"
        )
        assert ours.paid_events() == []
        theirs.notify(notification)
        assert theirs.order(order["id"])["status"] == "paid", "the gateway that made the order no longer takes it"

    def test_a_payment_made_outside_any_gateway_on_a_shared_account_is_acknowledged(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.notifications_reach_every_endpoint:
            pytest.skip("harness.notifications_reach_every_endpoint is not declared")
        order = gateway.new_order()
        # A payment taken in the provider's dashboard, or by other software on the account: none of the
        # gateway's references, no order of any gateway's.
        outside = {**gateway.order_never_created(like=order), "provider_order_id": None, "merchant_order_no": ""}
        reply = gateway.notify(harness.paid_notification(outside))
        verdicts = gateway.verdicts()
        assert verdicts == [Verdict.IGNORED], (
            f"a paid notification about a payment no gateway made was recorded as {verdicts} ({reply}): "
            "acknowledge it as ignored, or the provider re-sends it for days"
        )
        assert reply == gateway.ack(Verdict.IGNORED), f"acknowledged with {reply}"
        assert gateway.order(order["id"])["status"] == "pending"
        assert gateway.paid_events() == []

    @pytest.mark.parametrize("outcome", ["succeeded", "pending", "failed"])
    def test_a_refund_made_outside_any_gateway_on_a_shared_account_is_acknowledged(
        self, gateway_under_test: LiveGateway, outcome: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.notifications_reach_every_endpoint:
            pytest.skip("harness.notifications_reach_every_endpoint is not declared")
        order = gateway.new_order()
        # A refund made in the provider's dashboard of a payment no gateway made: none of the gateway's references.
        outside = {**gateway.order_never_created(like=order), "provider_order_id": None, "merchant_order_no": ""}
        refund = {"id": "", "amount": order["amount"], "currency": order["currency"], "provider_refund_id": None}
        try:
            notification = harness.refund_notification(outside, refund, outcome)
        except NotImplementedError:
            pytest.skip("harness.refund_notification is not implemented: the provider sends no refund notifications")
        reply = gateway.notify(notification)
        verdicts = gateway.verdicts()
        assert verdicts == [Verdict.IGNORED], (
            f"a notification that a refund of a payment no gateway made {outcome} was recorded as {verdicts} "
            f"({reply}): acknowledge it as ignored, or the provider re-sends it for days"
        )
        assert reply == gateway.ack(Verdict.IGNORED), f"acknowledged with {reply}"
        assert gateway.order(order["id"])["status"] == "pending"


def gateway_settings_values(harness: ProviderHarness, gateway: LiveGateway) -> list[str]:
    return [value for value in harness.settings(gateway.url).values() if value]
