"""The kit's checks of what a plugin believes fail IOTPay with four bugs an outside engineer planted blind (each
missed by the kit before these checks), and pass it as it is:

- an answer whose `sign` does not verify only logged unless `IOTPAY_REQUIRE_RESPONSE_SIGN=1`, so by default a
  status or an amount changed on the way is believed;
- `query_order` reporting the stored order's amount, not the one IOTPay answers, so the core has nothing to
  compare and a payment of another amount confirms the order;
- a notify's account taken from the settings, not from its `mchId`, so the core's account check compares the
  account with itself;
- `IOTPAY_CONFIRM_NOTIFY_BY_QUERY` off by default, so an MD5 notify alone pays orders, and every check of the
  confirmation is skipped as "the provider does not confirm";

IOTPay with three from a second blind trial:

- the text it signed logged beside an answer's wrong `sign` "to compare with IOTPay's", and IOTPay's signed
  text ends with `&key=<the merchant key>`;
- a query answer without `amount` read with the order's own amount "as sent at create", so the core's amount
  check compares the order with itself and a paid status alone pays it in full;
- `IOTPAY_API_URL` read as written, so signed calls go over plain http to another machine, or to the
  cloud's metadata address (the kit judged no IOTPay address until its harness declared `api_url_setting`);

IOTPay with two that its full mutation run left alive: an answer whose `sign` does not verify given the
code of an unreadable one (`INVALID_RESPONSE`), where IOTPay's page documents `INVALID_SIGN`; a `sign`
that is a JSON number crashing the signature check (a 500 where the answer is unclear); and a `sign` holding a
lone surrogate (JSON's `\\ud800`) crashing it when encoded strictly;

Stripe with one planted in a second blind trial, and one that the full mutation run left alive:

- a refund event that is not failed read as succeeded, so `refund.created` (the refund taken, still pending)
  counts money as refunded that may never move;
- its POSTs without an Idempotency-Key, so a refund retried while its first call is still at Stripe (a
  time-out, then reconciliation) is made twice;

and Example Pay with three from a third:

- the secret the provider refused shown in the error "to help the operator compare it", so it reaches the
  logs, `gateway check` and the API's answers (since the core takes a setting's whole value out of every
  provider error, that one reaches no one, and the kit passes it); and (from a fourth trial) only its first
  characters shown, which the core cannot recognise and the kit fails once they hold eight past the key's
  type marker (`whsec_`);
- a refund answer read as about the refund asked for, whatever refund it names, so another refund's answer
  records this one made;
- (from IOTPay's second trial, where a refund answer's amount went unchecked) a refund answer naming the
  refund asked for but another amount read as its own;
- its API address read as any http(s) URL, so signed calls go over plain http to another machine, or to the
  cloud's metadata address.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

IOTPAY_KIT = """
import dataclasses
import hmac
import logging

import pytest
from gateway_iotpay import config, plugin, signing
from gateway_iotpay.provider import IotPayProvider
from tests.iotpay.harness import IotPayHarness

from gateway.plugin import OutcomeUnknown, Settings
from gateway.testing import ProviderConformance

BUG = {bug!r}
log = logging.getLogger("gateway_iotpay.provider")


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "sign_only_logged":  # "a wrong sign is logged; rejecting it is what the strict setting is for"
            check = IotPayProvider._check_response_sign

            def logged(self, operation, raw):
                if self.config.require_response_sign:
                    check(self, operation, raw)

            monkeypatch.setattr(IotPayProvider, "_check_response_sign", logged)
        if BUG == "wrong_sign_unreadable":  # "an answer that does not verify is one we cannot use"
            check = IotPayProvider._check_response_sign

            def as_unreadable(self, operation, raw):
                try:
                    check(self, operation, raw)
                except OutcomeUnknown as error:
                    raise OutcomeUnknown("INVALID_RESPONSE", error.message) from None

            monkeypatch.setattr(IotPayProvider, "_check_response_sign", as_unreadable)
        if BUG == "sign_any_type":  # "IOTPay's sign is hex text"
            sign = signing.sign

            def is_valid(params, key):
                received = params.get("sign")
                return bool(received) and received.upper() == sign(params, key)

            monkeypatch.setattr(signing, "is_valid", is_valid)
        if BUG == "sign_strictly_encoded":  # "the received sign is hex: encoding it cannot fail"
            sign = signing.sign

            def is_valid(params, key):
                received = params.get("sign")
                if not isinstance(received, str) or not received:
                    return False
                return hmac.compare_digest(sign(params, key).encode("ascii"), received.upper().encode("utf-8"))

            monkeypatch.setattr(signing, "is_valid", is_valid)
        if BUG == "signed_text_logged":  # "log what we signed, so a mismatch can be compared with IOTPay's"
            check = IotPayProvider._check_response_sign

            def logged(self, operation, raw):
                try:
                    check(self, operation, raw)
                except Exception:
                    scalars = {{k: v for k, v in raw.items() if isinstance(v, (str, int)) and not isinstance(v, bool)}}
                    log.error("signed text: %s", signing.canonical_string(scalars, self.config.secret_key))
                    raise

            monkeypatch.setattr(IotPayProvider, "_check_response_sign", logged)
        if BUG == "api_url_raw":  # "IOTPAY_API_URL is IOTPay's address: whatever the operator wrote"
            service_url = Settings.service_url

            def raw(self, name, default):
                if name == "IOTPAY_API_URL":
                    return (self.get(name) or default).rstrip("/")
                return service_url(self, name, default)

            monkeypatch.setattr(Settings, "service_url", raw)
        if BUG == "amount_filled_in":  # "some answers leave amount out: it is the order's, sent at create"
            query, call = IotPayProvider.query_order, IotPayProvider._business_call

            def filling_in(self, order):
                def filled(provider, operation, params, schema, **options):
                    answer = call(provider, operation, params, schema, **options)
                    if operation == "query_order" and answer.get("amount") is None:
                        answer = {{**answer, "amount": order.amount}}
                    return answer

                monkeypatch.setattr(IotPayProvider, "_business_call", filled)
                try:
                    return query(self, order)
                finally:
                    monkeypatch.setattr(IotPayProvider, "_business_call", call)

            monkeypatch.setattr(IotPayProvider, "query_order", filling_in)
        if BUG == "stored_amount":  # "the amount is the order's: the query only says whether it is paid"
            query = IotPayProvider.query_order

            def stored_amount(self, order):
                return dataclasses.replace(query(self, order), amount=order.amount)

            monkeypatch.setattr(IotPayProvider, "query_order", stored_amount)
        if BUG == "own_account":  # "a notify that verifies with our key is about our account"
            verify = IotPayProvider.verify_notification

            def own_account(self, request):
                return dataclasses.replace(verify(self, request), account_id=self.account_id)

            monkeypatch.setattr(IotPayProvider, "verify_notification", own_account)
        if BUG == "confirmation_opt_in":  # "confirming costs a query: turn it on where it is wanted"
            load = plugin.load_config

            def opt_in(settings):
                loaded = load(settings)
                return loaded and dataclasses.replace(loaded, confirm_notify_by_query=settings.flag(config.CONFIRM))

            monkeypatch.setattr(plugin, "load_config", opt_in)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

STRIPE_KIT = """
import dataclasses

import pytest
from gateway_stripe.client import StripeClient
from gateway_stripe.provider import StripeProvider
from tests.stripe.harness import StripeHarness

from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "pending_is_settled":  # "Stripe has accepted the refund unless it says it failed"
            read = StripeProvider._refund_notification

            def settled(self, event, obj):
                notification = read(self, event, obj)
                if notification.outcome == "pending":
                    return dataclasses.replace(notification, outcome="succeeded")
                return notification

            monkeypatch.setattr(StripeProvider, "_refund_notification", settled)
        if BUG == "no_idempotency_key":  # "we look the refund up before we make it again"
            send = StripeClient._send

            def keyless(self, method, path, **kwargs):
                headers = {{k: v for k, v in kwargs.pop("headers").items() if k != "Idempotency-Key"}}
                return send(self, method, path, headers=headers, **kwargs)

            monkeypatch.setattr(StripeClient, "_send", keyless)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

EXAMPLE_KIT = """
import pytest
from gateway_example_provider.client import ExampleClient
from gateway_example_provider.provider import ExampleProvider
from tests.testing.example_by_path import ExampleByPath

from gateway.plugin import ProviderMisconfigured, Settings
from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedExample(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        call = ExampleClient.call

        def planted_call(self, operation, payload):
            try:
                answer = call(self, operation, payload)
            except ProviderMisconfigured as error:
                if BUG == "secret_shown":  # "let the operator compare the key with the dashboard"
                    raise ProviderMisconfigured(error.code, f"{{error.message}} (signed with {{self._secret!r}})")
                if BUG == "secret_prefix_shown":  # "the first characters tell the operator which key it was"
                    shown = f"{{error.message}} (EXAMPLE_SECRET {{self._secret[:16]}}...)"
                    raise ProviderMisconfigured(error.code, shown)
                raise
            if BUG == "any_refund_answer" and operation == "refund" and isinstance(answer, dict):
                answer = {{**answer, "refund_id": payload["refund_id"]}}  # "it answers what we asked"
            return answer

        monkeypatch.setattr(ExampleClient, "call", planted_call)
        if BUG == "any_refund_amount":  # "the refund id matches: the answer is this refund's"
            monkeypatch.setattr(ExampleProvider, "_says", lambda self, amount, request: True)
        if BUG == "any_http_address":  # "an http(s) URL is an http(s) URL"
            service_url = Settings.service_url

            def lax(self, name, default):
                if name == "EXAMPLE_API_URL":
                    return (self.get(name, default) or "").rstrip("/")
                return service_url(self, name, default)

            monkeypatch.setattr(Settings, "service_url", lax)

    @pytest.fixture
    def harness(self, tmp_path):
        return ExampleByPath(tmp_path)
"""

WRONG_SECRET = "connection_check_passes_and_fails_a_wrong_secret"
GIVEN_TO_ANOTHER = "given_to_another_leaves_it_unknown"
REFUND_AMOUNT = "refund_answer_that_says_another_amount"
UNSAFE_ADDRESS = "unsafe_api_address"
STILL_PENDING = "still_pending_settles_nothing"
STILL_AT_THE_PROVIDER = "still_at_the_provider"
SIGNED = "changed_after_it_was_signed"
AMOUNT = "query_answer_that_says_another_amount"
WITHOUT_AMOUNT = "without_its_amount"
ACCOUNT = "naming_another_account"
CONFIRMS = "confirmed_by_query_as_the_harness_declares"


def test_the_checks_pass_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    selection = f"{SIGNED} or {AMOUNT} or {WITHOUT_AMOUNT} or {ACCOUNT} or {CONFIRMS}"
    assert_kit_passed(run_planted_kit(pytester, IOTPAY_KIT.format(bug=""), selection), exactly=5)


def test_iotpay_only_logging_a_wrong_answer_signature_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="sign_only_logged"), SIGNED)
    assert_kit_failed(result, "IOTPay only logging a wrong answer sign", "not signed again, were read as answers")


def test_iotpay_giving_a_wrong_answer_signature_the_code_of_an_unreadable_answer_fails(
    pytester: pytest.Pytester,
) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="wrong_sign_unreadable"), SIGNED)
    assert_kit_failed(result, "IOTPay coding a wrong sign INVALID_RESPONSE", "(harness.wrong_signature_code)")


def test_iotpay_crashing_on_a_signature_that_is_not_text_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="sign_any_type"), SIGNED)
    assert_kit_failed(result, "IOTPay calling upper() on any sign", "the signature 'sign' made 1: AttributeError")


def test_iotpay_crashing_on_a_signature_no_encoder_can_write_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="sign_strictly_encoded"), SIGNED)
    assert_kit_failed(result, "IOTPay encoding the received sign strictly", "UnicodeEncodeError")


def test_iotpay_logging_the_text_it_signed_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="signed_text_logged"), SIGNED)
    assert_kit_failed(result, "IOTPay logging the text it signed, key included", "harness.secrets()[0] is in the log")


def test_the_address_check_passes_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_planted_kit(pytester, IOTPAY_KIT.format(bug=""), UNSAFE_ADDRESS), exactly=2)


def test_iotpay_taking_any_api_address_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="api_url_raw"), UNSAFE_ADDRESS)
    assert_kit_failed(result, "IOTPay reading IOTPAY_API_URL raw", "the gateway started with IOTPAY_API_URL")


def test_iotpay_reporting_the_stored_amount_from_a_query_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="stored_amount"), AMOUNT)
    assert_kit_failed(result, "IOTPay's query reporting the order's amount", "report the amount the provider answers")


def test_iotpay_filling_in_a_query_answers_missing_amount_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="amount_filled_in"), WITHOUT_AMOUNT)
    assert_kit_failed(result, "IOTPay filling in the order's amount", "does not say how much was paid proves")


def test_iotpay_reading_every_notify_as_its_own_accounts_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="own_account"), ACCOUNT)
    assert_kit_failed(result, "IOTPay taking the notify's account from its settings", "report the account")


def test_iotpay_confirming_notifies_only_when_asked_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="confirmation_opt_in"), CONFIRMS)
    assert_kit_failed(result, "IOTPay not confirming notifies by default", "a notification's signature alone")


def test_the_pending_refund_checks_pass_stripe_as_it_is(pytester: pytest.Pytester) -> None:
    selection = f"{STILL_PENDING} or {STILL_AT_THE_PROVIDER}"
    assert_kit_passed(run_planted_kit(pytester, STRIPE_KIT.format(bug=""), selection), exactly=2)


def test_stripe_reading_a_pending_refund_event_as_settled_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug="pending_is_settled"), STILL_PENDING)
    assert_kit_failed(result, "Stripe reading refund.created as succeeded", "a refund the provider has taken")


def test_the_secret_and_refund_answer_checks_pass_example_pay_as_it_is(pytester: pytest.Pytester) -> None:
    selection = f"{WRONG_SECRET} or {GIVEN_TO_ANOTHER} or {REFUND_AMOUNT} or {UNSAFE_ADDRESS}"
    assert_kit_passed(run_planted_kit(pytester, EXAMPLE_KIT.format(bug=""), selection), exactly=5)


def test_example_pay_showing_the_whole_refused_secret_is_saved_by_the_core(pytester: pytest.Pytester) -> None:
    # The core takes every value of a provider's settings as long as a key out of its errors before they are
    # logged, recorded or answered (instrument.secret_values): the whole secret reaches no one, and the kit passes.
    assert_kit_passed(run_planted_kit(pytester, EXAMPLE_KIT.format(bug="secret_shown"), WRONG_SECRET), exactly=1)


def test_example_pay_showing_the_first_characters_of_the_refused_secret_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, EXAMPLE_KIT.format(bug="secret_prefix_shown"), WRONG_SECRET)
    failure = "the refused EXAMPLE_SECRET ('whsec_harness_5d')"
    assert_kit_failed(result, "Example Pay showing 16 characters of the secret", failure)


def test_example_pay_reading_any_refund_answer_as_its_own_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, EXAMPLE_KIT.format(bug="any_refund_answer"), GIVEN_TO_ANOTHER)
    assert_kit_failed(result, "Example Pay reading another refund's answer as its own", "given as the answer")


def test_example_pay_reading_a_refund_answer_of_another_amount_as_its_own_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, EXAMPLE_KIT.format(bug="any_refund_amount"), REFUND_AMOUNT)
    assert_kit_failed(result, "Example Pay checking a refund answer's id, not its amount", "an answer about another")


def test_example_pay_taking_any_http_address_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, EXAMPLE_KIT.format(bug="any_http_address"), UNSAFE_ADDRESS)
    assert_kit_failed(result, "Example Pay reading its address as any URL", "the gateway started with EXAMPLE_API_URL")


def test_stripe_without_idempotency_keys_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug="no_idempotency_key"), STILL_AT_THE_PROVIDER)
    assert_kit_failed(result, "Stripe sending no Idempotency-Key", "while its first call was still at the provider")
