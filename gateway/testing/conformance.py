"""The behavioural suite: `ProviderConformance`, subclassed by a provider's tests with a `harness` fixture."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from gateway.plugin.clock import FixedClock
from gateway.plugin.provider import NotificationRejected, Operation, Verdict
from gateway.testing.accounts import AccountChecks
from gateway.testing.answer_fields import AnswerFieldChecks
from gateway.testing.answer_shapes import AnswerShapeChecks
from gateway.testing.answer_signatures import AnswerSignatureChecks
from gateway.testing.busy_checks import BusyChecks
from gateway.testing.check_checks import CheckChecks
from gateway.testing.checkout_checks import CheckoutChecks
from gateway.testing.currencies import CurrencyChecks
from gateway.testing.error_codes import ErrorCodeChecks
from gateway.testing.field_variants import FieldVariantChecks
from gateway.testing.form_notifications import FormNotificationChecks
from gateway.testing.harness import ProviderHarness
from gateway.testing.hostile import HostileChecks
from gateway.testing.invalid_orders import InvalidOrderChecks
from gateway.testing.leaks import shown
from gateway.testing.limits import LimitChecks
from gateway.testing.live import LiveGateway
from gateway.testing.misconfiguration import MisconfigurationChecks
from gateway.testing.not_created import NotCreatedChecks
from gateway.testing.notify_fields import NotificationFieldChecks
from gateway.testing.order_ids import OrderIdChecks
from gateway.testing.outcomes import OutcomeChecks
from gateway.testing.own_notifications import OwnNotificationChecks
from gateway.testing.recovery import RecoveryChecks
from gateway.testing.refund_checks import RefundNotificationChecks
from gateway.testing.refund_pages import RefundPageChecks
from gateway.testing.refund_records import RefundRecordChecks
from gateway.testing.refusal_fields import RefusalFieldChecks
from gateway.testing.refusals import RefusalChecks
from gateway.testing.reply_checks import ReplyChecks
from gateway.testing.scheme_checks import SchemeChecks
from gateway.testing.secret_echo import SecretEchoChecks
from gateway.testing.settings_checks import SettingsChecks
from gateway.testing.states import StateChecks
from gateway.testing.strict_settings import StrictSettingChecks
from gateway.testing.text_checks import TextChecks
from gateway.testing.time_checks import TimeChecks
from gateway.testing.time_edges import TimeEdgeChecks
from gateway.testing.url_checks import UrlChecks

TIMEOUT = 1.0  # seconds the provider waits in the time-out tests: every call there has it, so not too tight
DELAY = 2.5  # seconds the simulator then takes to answer: well past TIMEOUT, short enough not to slow the suite
SETTLE = 5.0  # seconds a delayed call may take beyond DELAY to land in the simulator's records
CONCURRENT_DELIVERIES = 10


class ProviderConformance(
    RecoveryChecks,
    OutcomeChecks,
    CurrencyChecks,
    HostileChecks,
    SettingsChecks,
    TimeChecks,
    TimeEdgeChecks,
    RefundNotificationChecks,
    AccountChecks,
    NotCreatedChecks,
    FieldVariantChecks,
    BusyChecks,
    UrlChecks,
    ReplyChecks,
    TextChecks,
    CheckChecks,
    AnswerFieldChecks,
    InvalidOrderChecks,
    FormNotificationChecks,
    CheckoutChecks,
    SchemeChecks,
    LimitChecks,
    RefundRecordChecks,
    RefundPageChecks,
    ErrorCodeChecks,
    RefusalChecks,
    RefusalFieldChecks,
    OrderIdChecks,
    StrictSettingChecks,
    AnswerShapeChecks,
    AnswerSignatureChecks,
    OwnNotificationChecks,
    NotificationFieldChecks,
    StateChecks,
    MisconfigurationChecks,
    SecretEchoChecks,
):
    """The conformance suite: subclass it as `Test<Provider>Conformance` with a `harness` fixture.

    The checks of lost notifications, closed payments and mixed-up query answers
    (`RecoveryChecks`), of refusals, unclear answers and event ids (`OutcomeChecks`) and of every
    declared currency (`CurrencyChecks`), with hostile input (`HostileChecks`), of start-up
    settings (`SettingsChecks`), of signed timestamps (`TimeChecks`, and to the second and as text:
    `TimeEdgeChecks`), of refund notifications
    (`RefundNotificationChecks`), of two accounts side by side (`AccountChecks`), of create outcomes
    that routing may fail over after (`NotCreatedChecks`), of a genuine notification's fields moved
    (`FieldVariantChecks`) and garbled and signed again (`NotificationFieldChecks`), of busy and
    lost answers (`BusyChecks`), of hostile addresses
    (`UrlChecks`), of replies and channels (`ReplyChecks`), of hostile free text (`TextChecks`),
    of `Provider.check` (`CheckChecks`), of answers the kit changes (`AnswerFieldChecks`), of
    declared field and amount limits (`LimitChecks`), of the provider's own refund ids
    (`RefundRecordChecks`), of refunds past a page of the provider's listing (`RefundPageChecks`), of
    the codes a merchant is shown (`ErrorCodeChecks`), of the provider's declared refusals, plain
    (`RefusalChecks`) and with garbage beside them (`RefusalFieldChecks`), of the provider order id of
    an order in every channel (`OrderIdChecks`), of the settings that make a plugin stricter with
    answers (`StrictSettingChecks`), of signed answers changed on the way (`AnswerSignatureChecks`), of
    the simulator's own notifications (`OwnNotificationChecks`), of every declared state (`StateChecks`)
    and of answers that refuse the gateway itself (`MisconfigurationChecks`) live in modules of their own; this
    class has the rest.

    Every test looks at what a user of the gateway sees: the acknowledgement the provider gets
    back (compared with the provider's own `acknowledge(verdict)`), the order through
    `GET /v1/orders/<id>`, the verdict recorded in the `notifications` table, and the
    `order.paid` merchant webhooks queued in the outbox; and, for refunds, at what the provider's
    side recorded (`harness.refunded_amount`). Refund bounds are not tested here: the core
    enforces them before any provider is called, so no provider could fail such a test.
    """

    pytestmark = [pytest.mark.gateway_conformance]

    # -- what the provider declares --

    def test_declared_capabilities_are_well_formed(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        info = gateway.provider.info
        assert info.channels, "info.channels is empty: declare the channels orders can be created with"
        assert harness.channel in info.channels, f"harness.channel {harness.channel!r} is not in {info.channels}"
        assert info.currencies, "info.currencies is empty: declare {ISO-4217 code: minor-unit exponent}"
        for code, exponent in info.currencies.items():
            assert len(code) == 3 and code.isalpha() and code.isupper(), f"currency {code!r} is not an ISO-4217 code"
            assert isinstance(exponent, int) and 0 <= exponent <= 4, f"{code} exponent {exponent!r} is not 0..4"
        assert harness.currency in info.currencies, f"harness.currency {harness.currency!r} is not declared"
        unknown = [operation for operation in info.capabilities if operation not in set(Operation)]
        assert not unknown, f"capabilities {unknown} are not gateway.plugin.Operation members"
        listed = gateway.client.get("/v1/providers").get_json()
        assert harness.provider_name in [provider["name"] for provider in listed], "/v1/providers does not list it"
        if harness.display_name is not None:
            names = {provider.get("display_name") for provider in listed if provider["name"] == harness.provider_name}
            assert names == {harness.display_name}, (
                f"/v1/providers shows {harness.provider_name} as {sorted(map(str, names))}, not "
                f"{harness.display_name!r} (harness.display_name, the name the provider's own pages give it): a "
                "checkout shows it to payers"
            )

    # -- signatures --

    def test_known_answer_signatures_are_judged_as_computed_outside(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        answers = list(gateway_harness.known_answers())
        if not any(answer.valid for answer in answers):
            pytest.fail(
                "harness.known_answers() has no valid KnownAnswer: give at least one notification signed "
                "outside your plugin (the provider's documentation, SDK or demo code) with the settings it "
                "was signed for, and ideally a copy with one byte changed (valid=False)"
            )
        for answer in answers:
            gateway = gateway_factory(answer.settings)
            if answer.at is not None:
                gateway.provider.clock = FixedClock(answer.at)
            try:
                gateway.provider.verify_notification(gateway.inbound(answer.request))
                rejected_as = None
            except NotificationRejected as rejection:
                rejected_as = rejection.verdict
            reply = gateway.notify(answer.request)
            verdicts = gateway.verdicts()
            assert len(verdicts) == 1, f"{answer.name}: one notification, recorded as {verdicts}"
            if answer.valid:
                assert rejected_as is not Verdict.BAD_SIGNATURE, (
                    f"known answer {answer.name!r} is signed correctly, but verify_notification rejected it"
                )
                assert verdicts != [Verdict.BAD_SIGNATURE], f"{answer.name}: /notify judged it {verdicts}"
            else:
                assert rejected_as is Verdict.BAD_SIGNATURE, (
                    f"known answer {answer.name!r} is signed wrongly, but verify_notification gave {rejected_as}"
                )
                assert verdicts == [Verdict.BAD_SIGNATURE], f"{answer.name}: /notify judged it {verdicts}"
                assert reply == gateway.ack(Verdict.BAD_SIGNATURE), f"{answer.name}: acknowledged with {reply}"

    @pytest.mark.parametrize("forgery", ["tampered", "unsigned"])
    def test_forged_notification_is_rejected_and_changes_nothing(
        self, gateway_under_test: LiveGateway, forgery: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = gateway.new_order()
        genuine = harness.paid_notification(order)
        forged = harness.tamper(genuine) if forgery == "tampered" else harness.unsigned(genuine)
        assert forged != genuine, f"the harness returned the notification unchanged as the {forgery} one"
        self.assert_refused(gateway, order, gateway.notify(forged), Verdict.BAD_SIGNATURE)

    # -- the notify pipeline --

    def test_paid_notification_marks_the_order_paid(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        order = gateway.new_order()
        assert order["status"] == "pending", f"a new order is {order['status']!r}"
        reply = gateway.notify(gateway.paid_notification(order))
        assert gateway.verdicts() == [Verdict.APPLIED], f"recorded as {gateway.verdicts()}"
        assert reply == gateway.ack(Verdict.APPLIED), f"acknowledged with {reply}"
        assert 200 <= reply.status < 300, f"an accepted notification is acknowledged with HTTP {reply.status}"
        assert gateway.order(order["id"])["status"] == "paid"
        assert gateway.paid_events() == [order["id"]]

    def test_unpaid_notification_is_acknowledged_and_leaves_the_order_unpaid(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway = gateway_under_test
        order = gateway.new_order()
        reply = gateway.notify(gateway.harness.unpaid_notification(order))
        assert gateway.verdicts() == [Verdict.IGNORED], (
            f"a notification saying the payment did not succeed was recorded as {gateway.verdicts()}: "
            "verify_notification must return it with paid=False"
        )
        assert reply == gateway.ack(Verdict.IGNORED), f"acknowledged with {reply}, not acknowledge(ignored)"
        assert 200 <= reply.status < 300, f"an accepted notification is acknowledged with HTTP {reply.status}"
        assert gateway.order(order["id"])["status"] == "pending", "an unpaid notification changed the order"
        assert gateway.paid_events() == [], "an unpaid notification queued an order.paid webhook"
        # A failed attempt does not stop the payer from paying afterwards.
        gateway.notify(gateway.paid_notification(order))
        assert gateway.verdicts() == [Verdict.IGNORED, Verdict.APPLIED], f"then recorded as {gateway.verdicts()}"
        assert gateway.order(order["id"])["status"] == "paid"

    def test_notification_sent_three_times_is_applied_once(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        order = gateway.new_order()
        notification = gateway.paid_notification(order)
        replies = [gateway.notify(notification) for _ in range(3)]
        assert gateway.verdicts() == [Verdict.APPLIED, Verdict.DUPLICATE, Verdict.DUPLICATE]
        expected = [gateway.ack(Verdict.APPLIED), gateway.ack(Verdict.DUPLICATE), gateway.ack(Verdict.DUPLICATE)]
        assert replies == expected, f"acknowledged with {replies}"
        assert gateway.order(order["id"])["status"] == "paid"
        assert gateway.paid_events() == [order["id"]], "one payment, one order.paid webhook"

    def test_notification_delivered_concurrently_is_applied_once(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        order = gateway.new_order()
        notification = gateway.paid_notification(order)
        start_together = threading.Barrier(CONCURRENT_DELIVERIES)

        def deliver(_: int) -> Any:
            start_together.wait(timeout=10)
            return gateway.notify_over_http(notification)

        with ThreadPoolExecutor(CONCURRENT_DELIVERIES) as pool:
            replies = set(pool.map(deliver, range(CONCURRENT_DELIVERIES)))
        verdicts = sorted(gateway.verdicts())
        assert verdicts == [Verdict.APPLIED] + [Verdict.DUPLICATE] * (CONCURRENT_DELIVERIES - 1), verdicts
        assert replies <= {gateway.ack(Verdict.APPLIED), gateway.ack(Verdict.DUPLICATE)}, replies
        assert gateway.order(order["id"])["status"] == "paid"
        assert gateway.paid_events() == [order["id"]], "one payment, one order.paid webhook"

    def test_paid_notification_is_applied_only_once_the_providers_query_confirms_it(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not gateway.provider.info.confirm_notifications:
            pytest.skip("the provider does not confirm notifications by query (info.confirm_notifications)")
        order = gateway.new_order()
        notification = harness.paid_notification(order)  # correctly signed, but the simulator was never paid
        reply = gateway.notify(notification)
        assert gateway.verdicts() == [Verdict.MISMATCH], (
            f"a paid notification the provider's query contradicts was recorded as {gateway.verdicts()}"
        )
        assert reply == gateway.ack(Verdict.MISMATCH), f"acknowledged with {reply}"
        self.garble(gateway, "query_order", "http_500")
        reply = gateway.notify(gateway.paid_notification(order))
        assert gateway.verdicts()[-1] == Verdict.UNCONFIRMED, f"with no clear query answer: {gateway.verdicts()}"
        assert reply == gateway.ack(Verdict.UNCONFIRMED) != gateway.ack(Verdict.APPLIED), f"acknowledged with {reply}"
        assert gateway.order(order["id"])["status"] == "pending"
        assert gateway.paid_events() == [], "an unconfirmed notification queued an order.paid webhook"
        gateway.notify(notification)  # sent again, and now the provider's query says paid
        assert gateway.verdicts()[-1] == Verdict.APPLIED, f"then recorded as {gateway.verdicts()}"
        assert gateway.paid_events() == [order["id"]]

    @pytest.mark.parametrize("disagreement", ["amount", "amount one unit less", "currency"])
    def test_notification_disagreeing_with_the_order_is_refused(
        self, gateway_under_test: LiveGateway, disagreement: str
    ) -> None:
        gateway = gateway_under_test
        order = gateway.new_order()
        # An amount the provider signs is one it says was paid: one unit short is a payment that disagrees
        # with the order (a mismatch the record shows), never a notification too garbled to read.
        amounts = {"amount": order["amount"] + 1, "amount one unit less": order["amount"] - 1}
        if disagreement in amounts:
            notification = gateway.paid_notification(order, amount=amounts[disagreement])
        else:
            # Another currency the provider takes is the realistic case; XTS is ISO's code for tests.
            other = next((code for code in gateway.provider.info.currencies if code != order["currency"]), "XTS")
            notification = gateway.paid_notification(order, currency=other)
        self.assert_refused(gateway, order, gateway.notify(notification), Verdict.MISMATCH)

    def test_notification_for_an_order_the_gateway_never_created_is_refused(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway = gateway_under_test
        order = gateway.new_order()
        notification = gateway.harness.paid_notification(gateway.order_never_created(like=order))
        self.assert_refused(gateway, order, gateway.notify(notification), Verdict.UNKNOWN_ORDER)

    @staticmethod
    def assert_refused(gateway: LiveGateway, order: Mapping[str, Any], reply: Any, verdict: Verdict) -> None:
        """`reply` refused the notification as `verdict`, and `order` is as unpaid as before."""
        assert gateway.verdicts() == [verdict], f"recorded as {gateway.verdicts()}, expected [{verdict}]"
        assert reply == gateway.ack(verdict), f"acknowledged with {reply}, not acknowledge({verdict})"
        assert reply != gateway.ack(Verdict.APPLIED), (
            f"acknowledge({verdict}) is the accepted reply: the provider would stop re-sending"
        )
        assert gateway.order(order["id"])["status"] == "pending"
        assert gateway.paid_events() == [], "a refused notification queued an order.paid webhook"

    # -- provider calls --

    def test_create_order_time_out_is_reported_as_unknown_and_leaves_the_order_pending(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        gateway = gateway_factory(gateway_harness.timeout_settings(TIMEOUT))
        gateway_harness.delay_next("create_order", DELAY)
        started = time.monotonic()
        response = gateway.post_order()
        waited = time.monotonic() - started
        answer = response.get_json()
        assert response.status_code == 504, (
            f"with timeout_settings({TIMEOUT}) and delay_next('create_order', {DELAY}), "
            f"POST /v1/orders answered {response.status_code}: {answer}"
        )
        assert answer["error"] == "provider_timeout", f"raise ProviderTimeout on a read time-out, not {answer}"
        assert waited < DELAY, f"the provider waited {waited:.2f}s: timeout_settings({TIMEOUT}) was not honoured"
        assert "order_id" in answer, "a 504 must name the order it left pending"
        order = gateway.order(answer["order_id"])
        assert order["status"] == "pending", f"an order whose creation is unknown is {order['status']!r}"

    # -- refunds: what the provider itself recorded --

    def test_whole_refund_reaches_the_provider(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        self.require_operations(gateway, Operation.REFUND)
        order = gateway.paid_order()
        amount = order["amount"]
        whole = gateway.refund(order["id"], amount)
        assert whole.status_code == 201, f"refunding the whole amount answered {whole.get_json()}"
        assert whole.get_json()["status"] == "succeeded", whole.get_json()
        after = gateway.order(order["id"])
        assert (after["status"], after["refunded_amount"]) == ("refunded", amount), after
        self.assert_provider_refunded(gateway, order, amount, "after refunding the whole amount")

    def test_partial_refund_amount_reaches_the_provider(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        operations = self.require_operations(gateway, Operation.REFUND, Operation.PARTIAL_REFUND)
        order = gateway.paid_order()
        part = self.partial_amount(gateway, order)
        first = gateway.refund(order["id"], part)
        assert first.status_code == 201, f"refunding {part} of {order['amount']} answered {first.get_json()}"
        assert first.get_json()["status"] == "succeeded", first.get_json()
        self.assert_provider_refunded(gateway, order, part, f"after refunding {part} of {order['amount']}")
        if Operation.MULTIPLE_REFUNDS in operations:
            rest = order["amount"] - part
            second = gateway.refund(order["id"], rest)
            assert second.status_code == 201, f"refunding the other {rest} answered {second.get_json()}"
            assert second.get_json()["status"] == "succeeded", second.get_json()
            after = gateway.order(order["id"])
            assert (after["status"], after["refunded_amount"]) == ("refunded", order["amount"]), after
            self.assert_provider_refunded(gateway, order, order["amount"], f"after a second refund of {rest}")

    def test_refund_time_out_is_unknown_and_a_retry_never_refunds_twice(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        from gateway.domain.reconcile import reconcile

        gateway, order, amount, started, response = self.refund_timing_out(gateway_harness, gateway_factory)
        answer = response.get_json()
        unknown = response.status_code == 504 or (
            response.status_code == 502 and answer.get("error") == "provider_outcome_unknown"
        )
        assert unknown, (
            f"with timeout_settings({TIMEOUT}) and delay_next('refund', {DELAY}), the refund answered "
            f"{response.status_code}: {answer}; a time-out says nothing about whether the provider refunded, "
            "so raise ProviderTimeout (or OutcomeUnknown), never Refused"
        )
        refunds = gateway.refunds(order["id"])
        assert [refund["status"] for refund in refunds] in (["unknown"], ["pending"]), (
            f"a refund whose outcome is unknown is recorded as {refunds}"
        )
        # delay_next carries the refund out, late: wait for the simulator to have done it.
        deadline = started + DELAY + SETTLE
        while self.provider_refunded(gateway, order) < amount and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assert_provider_refunded(gateway, order, amount, f"once delay_next('refund', {DELAY}) has passed")

        # Reconcile skips a refund whose lease (`claimed_until`) is in the future, as it is while a
        # call may still be running; that call is over, so the lease is moved to the past.
        gateway.expire_refund_leases(order["id"])
        reconcile(gateway.gateway, timedelta(0))
        settled = gateway.refunds(order["id"])
        assert [refund["status"] for refund in settled] == ["succeeded"], (
            f"reconcile retried the refund (same refund_id) and recorded {settled}"
        )
        assert gateway.order(order["id"])["refunded_amount"] == amount
        retried = "after reconcile retried it (a retry with the same refund_id must never refund again)"
        self.assert_provider_refunded(gateway, order, amount, retried)

    def test_a_refund_retried_while_its_first_call_is_still_at_the_provider_never_refunds_twice(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        # The first call timed out and the provider is still carrying it out: the refund is in none of its
        # records yet, so a look-up finds nothing, and only the provider's own idempotency (a refund number, an
        # Idempotency-Key) stands between the retry and a second refund.
        from gateway.domain.reconcile import reconcile

        gateway, order, amount, started, first = self.refund_timing_out(gateway_harness, gateway_factory)
        assert first.status_code in (502, 504), f"a refund that timed out answered {first.get_json()}"
        gateway.expire_refund_leases(order["id"])
        reconcile(gateway.gateway, timedelta(0))  # while the first call is still being carried out
        in_flight = time.monotonic() - started < DELAY
        # The first call lands once its delay is over: then both are in the simulator's records, if both were made.
        deadline = started + DELAY + SETTLE
        while time.monotonic() < started + DELAY + 0.5 or (
            self.provider_refunded(gateway, order) < amount and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        self.assert_provider_refunded(
            gateway, order, amount, "after reconcile retried the refund while its first call was still at the provider"
        )
        if not in_flight:
            pytest.skip(f"the retry came {DELAY}s after the first call, when it was over: nothing was judged")

    def refund_timing_out(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> tuple[LiveGateway, dict[str, Any], int, float, Any]:
        """A refund of a paid order whose call times out (`delay_next`) while the simulator carries it out:
        the gateway, the order, the amount, when the call was made, and the API's answer."""
        gateway = gateway_factory(gateway_harness.timeout_settings(TIMEOUT))
        operations = self.require_operations(gateway, Operation.REFUND)
        order = gateway.paid_order()
        # Less than the whole amount when the provider takes it, so that a second refund would fit.
        amount = self.partial_amount(gateway, order) if Operation.PARTIAL_REFUND in operations else order["amount"]
        gateway_harness.delay_next("refund", DELAY)
        started = time.monotonic()
        return gateway, order, amount, started, gateway.refund(order["id"], amount)

    @staticmethod
    def require_operations(gateway: LiveGateway, *needed: Operation) -> frozenset[Operation]:
        """The provider's operations; skips the test unless it declares all of `needed`."""
        operations = gateway.provider.operations
        missing = [str(operation) for operation in needed if operation not in operations]
        if missing:
            pytest.skip(f"{gateway.harness.provider_name} does not declare {', '.join(missing)}")
        return operations

    @staticmethod
    def partial_amount(gateway: LiveGateway, order: Mapping[str, Any]) -> int:
        """About half of the order: a refund amount of its own, that a second refund would fit beside."""
        amount: int = order["amount"]
        part = amount // 2
        if gateway.provider.info.currencies.get(order["currency"]) == 3:
            part -= part % 10  # three-decimal currencies are refunded in tens at some providers (Stripe)
        assert 0 < part < amount, f"harness.amount {amount} is too small to refund part of it"
        return part

    @staticmethod
    def provider_refunded(gateway: LiveGateway, order: Mapping[str, Any]) -> int:
        try:
            return gateway.harness.refunded_amount(order)
        except NotImplementedError:
            pytest.fail(
                "the provider declares the refund operation: implement harness.refunded_amount(order) "
                "(what the simulator itself recorded as refunded for the order)"
            )

    @classmethod
    def assert_provider_refunded(cls, gateway: LiveGateway, order: Mapping[str, Any], expected: int, when: str) -> None:
        refunded = cls.provider_refunded(gateway, order)
        assert refunded == expected, (
            f"{when}, the simulator recorded {refunded} refunded, not {expected}: "
            "the provider must send exactly RefundRequest.amount, once per refund_id"
        )

    # -- secrets --

    def test_secrets_never_appear_in_logs_or_responses(
        self,
        gateway_harness: ProviderHarness,
        gateway_factory: Callable[..., LiveGateway],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        secrets = self.secrets_of(gateway_harness)
        caplog.set_level(logging.DEBUG)
        gateway = gateway_factory()  # built here, so that its start-up logs are looked at too
        created = gateway.post_order()
        assert created.status_code == 201, created.get_json()
        notification = gateway.paid_notification(created.get_json())
        replies = [gateway.notify(gateway_harness.tamper(notification)), gateway.notify(notification)]
        invalid = gateway.post_order(amount=0, channel="NO_SUCH_CHANNEL")
        assert 400 <= invalid.status_code < 500, invalid.get_json()
        missing = gateway.client.get("/v1/orders/no-such-order")
        # A gateway of its own for the time-out: a short time-out must not touch the calls above.
        impatient = gateway_factory(gateway_harness.timeout_settings(TIMEOUT))
        gateway_harness.delay_next("create_order", DELAY)
        timed_out = impatient.post_order()
        assert timed_out.status_code == 504, timed_out.get_json()
        places = {
            "the log": caplog.text,
            "the notification acknowledgements": " ".join(reply.body for reply in replies),
            "the gateway's database": gateway.stored_text() + impatient.stored_text(),
            **{f"the {r.status_code} answer": r.get_data(as_text=True) for r in (created, timed_out, invalid, missing)},
        }
        self.assert_no_secret(secrets, places)

    def test_provider_error_messages_carry_no_secret(
        self,
        gateway_harness: ProviderHarness,
        gateway_factory: Callable[..., LiveGateway],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        secrets = self.secrets_of(gateway_harness)
        caplog.set_level(logging.DEBUG)
        gateway = gateway_factory()
        gateway_harness.fail_next("create_order")
        answers = {"POST /v1/orders": gateway.post_order()}
        if Operation.REFUND in gateway.provider.operations:
            order = gateway.paid_order()
            gateway_harness.fail_next("refund")
            answers["POST /v1/orders/<id>/refunds"] = gateway.refund(order["id"], order["amount"])
        for call, answer in answers.items():
            assert answer.status_code == 502, (
                f"after fail_next(...), {call} answered {answer.status_code}: {answer.get_json()}; "
                "the simulator must refuse the call, and the provider raise Refused"
            )
        places = {
            "the log": caplog.text,
            "the gateway's database (orders, refunds, notifications ...)": gateway.stored_text(),
            **{f"the 502 answer to {call}": answer.get_data(as_text=True) for call, answer in answers.items()},
        }
        self.assert_no_secret(secrets, places)

    @staticmethod
    def secrets_of(harness: ProviderHarness) -> list[str]:
        secrets = [secret for secret in harness.secrets() if secret]
        assert secrets, "harness.secrets() is empty: list every secret value in settings() (keys, tokens)"
        return secrets

    @staticmethod
    def assert_no_secret(secrets: Sequence[str], places: Mapping[str, str]) -> None:
        leaks = [
            f"secrets()[{n}] ({'whole' if piece == s else repr(piece)}) in {place}"
            for n, s in enumerate(secrets)
            for place, text in places.items()
            if (piece := shown(s, text))
        ]
        assert not leaks, f"secrets leak: {leaks}"
