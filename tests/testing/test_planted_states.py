"""The kit's checks of declared states, of answers that refuse the gateway itself and of refusals where nothing is
to be done fail plugins with these bugs, and pass IOTPay, Stripe and Example Pay as they are:

From IOTPay's second blind trial, which the kit missed:
- a notify's `status` read as paid from 2 up ("2 and 3 are paid, and IOTPay's statuses only grow"), so a
  cancelled order's notify (4, 9) pays it; confirmation by query hides it as long as the query says otherwise;
- `check()` taking any refusal of its probe for a working key ("IOTPay answered: the key works"), so `gateway
  check` passes a deployment whose every call is refused;
- a mini program's `paySign` not required ("WeChat checks the signature"), so an answer with it empty is handed
  to `wx.requestPayment`, which cannot start the payment;
- a refusal's `sign` not verified ("IOTPay signs no refusal"), so a "refused" forged on the way fails an order
  IOTPay created, which the payer may still pay.

And of the kinds the mutation run left alive in IOTPay:
- a state forgotten: the schema's list of statuses IOTPay answers without 4 (cancelled by the system), so a
  query that says the order is closed is read as unclear, and the order waits for ever;
- an error code meaning "the gateway's key is wrong" (0013) read as a plain refusal, so nobody is alerted;
- the other way round, every refusal code read as a wrong configuration, so one merchant's rejected order opens
  the account's breaker for every merchant routed to it;
- a refusal code (0011) read as unclear, so an order the provider turned down waits as `pending`;
- (from IOTPay's third blind trial) a whole number in an answer read from a JSON fraction by cutting it
  ("some IOTPay hosts answer 2856.0"), so a status of 2.5 is paid;
- (from the same trial) 0113, "order already paid", added to the refusal codes, so a create of an
  order IOTPay has, and the payer paid, is a refusal that routing creates again at another account;
- a mchOrderNo IOTPay already has known only by the simulator's wording ("parameter error: ... exists" in
  `errCodeDes`), so the same answer with its text in `retMsg` is a refusal, and routing creates the order
  again at another account;
- Stripe's 403 (a key without a permission) read as a plain refusal;
- (from Stripe's first blind trial) a refund Stripe answers `requires_action` read as failed, so a refund that
  may still go through is recorded failed and made again.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

IOTPAY_KIT = """
import re

import pytest
from gateway_iotpay import checkout, provider, schemas, splitting
from gateway_iotpay.provider import IotPayProvider
from tests.iotpay.harness import IotPayHarness

from gateway.plugin import NotFound, Refused
from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "fraction_cut":  # "some IOTPay hosts answer 2856.0" (IOTPay's third blind trial)
            whole = schemas.WholeNumber._deserialize
            def cut(self, value, attr, data, **kwargs):
                return int(value) if isinstance(value, float) else whole(self, value, attr, data, **kwargs)
            monkeypatch.setattr(schemas.WholeNumber, "_deserialize", cut)
        if BUG == "status_from_two":  # "2 and 3 are paid, and IOTPay's statuses only grow"
            monkeypatch.setattr(schemas, "PAID_STATUSES", range(2, 100))
        if BUG == "any_refusal_checks":  # "IOTPay answered our signed probe: the key works"
            business_call = IotPayProvider._business_call

            def lenient(self, operation, params, schema, **options):
                try:
                    return business_call(self, operation, params, schema, **options)
                except Refused as error:
                    if params.get("mchOrderNo", "").startswith("gatewaycheck"):
                        raise NotFound(error.code, error.message) from None
                    raise

            monkeypatch.setattr(IotPayProvider, "_business_call", lenient)
        if BUG == "state_forgotten":  # "4 is the system's own cancel: IOTPay never answers it"
            status = provider._QUERY_ORDER_RESPONSE.fields["status"].validators[0]
            monkeypatch.setattr(status, "choices", schemas.STATUSES - {{4}})
        if BUG == "pay_sign_unchecked":  # "WeChat checks the signature"
            monkeypatch.setattr(checkout, "MINI_PROGRAM_KEYS", ("timeStamp", "nonceStr", "package", "signType"))
        if BUG == "refusal_sign_unchecked":  # "IOTPay signs no refusal"
            check = IotPayProvider._check_response_sign

            def successes_only(self, operation, raw):
                if raw.get("retCode") == "SUCCESS" and raw.get("resCode") == "SUCCESS":
                    check(self, operation, raw)

            monkeypatch.setattr(IotPayProvider, "_check_response_sign", successes_only)
        if BUG == "not_exist_not_found":  # "whatever does not exist, IOTPay has no such order"
            business_call = IotPayProvider._business_call

            def not_found(self, operation, params, schema, **options):
                try:
                    return business_call(self, operation, params, schema, **options)
                except Refused as error:
                    if "not exist" in error.message:
                        raise NotFound(error.code, error.message) from None
                    raise

            monkeypatch.setattr(IotPayProvider, "_business_call", not_found)
        if BUG == "taken_in_its_own_words":  # "IOTPay's parameter errors all start 'parameter error'"
            def taken(exc):
                return exc.code == "0014" and exc.message.startswith("parameter error") and "exists" in exc.message

            monkeypatch.setattr(provider, "_order_number_taken", taken)
        if BUG == "pair_names_of_letters":  # "IOTPay's names are words"
            monkeypatch.setattr(splitting, "PAIR_INSIDE", re.compile(r"&[A-Za-z]+="))
        if BUG == "key_error_refused":  # "0013 is a refusal like any other"
            monkeypatch.setattr(provider, "CONFIGURATION_CODES", frozenset({{"0015"}}))
        if BUG == "every_refusal_misconfigured":  # "a refused call is a call the account cannot make"
            monkeypatch.setattr(provider, "CONFIGURATION_CODES", provider.REFUSAL_CODES)
        if BUG == "already_paid_refused":  # "0113, order already paid: the create is refused" (a third blind trial)
            monkeypatch.setattr(provider, "REFUSAL_CODES", provider.REFUSAL_CODES | {{"0113"}})
        if BUG == "refusal_unclear":  # "0011 is the HTTP layer's business: unclear"
            monkeypatch.setattr(provider, "REFUSAL_CODES", provider.REFUSAL_CODES - {{"0011"}})

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

STRIPE_KIT = """
import pytest
from gateway_stripe import client, schemas
from tests.stripe.harness import StripeHarness

from gateway.plugin import ProviderMisconfigured, Refused
from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "forbidden_refused":  # "403 is Stripe saying no to this request"
            raised = client.ProviderMisconfigured

            class OnlyUnauthorised(raised):
                def __new__(cls, code, message):
                    if "permission" in message:
                        return Refused(code, message)
                    return raised(code, message)

            monkeypatch.setattr(client, "ProviderMisconfigured", OnlyUnauthorised)
        if BUG == "requires_action_failed":  # "a refund that needs action from the customer has not gone through"
            monkeypatch.setattr(schemas, "REFUND_FAILED", schemas.REFUND_FAILED | {{"requires_action"}})

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

EXAMPLE_KIT = """
import pytest
from tests.testing.example_by_path import ExampleByPath

from gateway.testing import ProviderConformance


class TestExample(ProviderConformance):
    @pytest.fixture
    def harness(self, tmp_path):
        return ExampleByPath(tmp_path)
"""

STATES = "declared_state"
MISCONFIGURED = "misconfiguration_answer_is_read_as_one"
NOTHING = "concludes_nothing"
REFUSED = "each_declared_refusal_of_the_provider_fails_the_call"
EVERY_CHANNEL = "create_answer_in_every_other_channel_with_a_field_garbled"
SIGNED_REFUSAL = "signed_refusal_altered_on_the_way"
BLAMES = "never_blames_the_configuration"
EXISTS = "order_number_exists_is_never_not_created"


def test_the_checks_pass_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    selection = (
        f"{STATES} or {MISCONFIGURED} or {NOTHING} or {REFUSED} or {EVERY_CHANNEL} or {SIGNED_REFUSAL} or {BLAMES} "
        f"or {EXISTS}"
    )
    assert_kit_passed(run_planted_kit(pytester, IOTPAY_KIT.format(bug=""), selection), exactly=16)


def test_the_checks_pass_stripe_and_example_pay_as_they_are(pytester: pytest.Pytester) -> None:
    selection = f"{STATES} or {MISCONFIGURED} or {NOTHING} or {BLAMES}"
    assert_kit_passed(run_planted_kit(pytester, STRIPE_KIT.format(bug=""), selection), exactly=11)
    assert_kit_passed(run_planted_kit(pytester, EXAMPLE_KIT, selection), exactly=11)


def test_iotpay_reading_a_notify_paid_from_status_2_up_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="status_from_two"), STATES)
    assert_kit_failed(result, "IOTPay reading status >= 2 as paid", "status='4' (closed) read as")


def test_iotpay_checking_the_key_with_any_refusal_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="any_refusal_checks"), f"{NOTHING} and not query_order")
    assert_kit_failed(result, "IOTPay's check() taking a refusal for a working key", "never a reading or a passed")


def test_iotpay_forgetting_a_state_its_queries_answer_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="state_forgotten"), f"{STATES} and query")
    assert_kit_failed(result, "IOTPay without status 4", "status=4 (closed) read as")


def test_iotpay_reading_a_wrong_key_as_a_plain_refusal_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="key_error_refused"), MISCONFIGURED)
    assert_kit_failed(result, "IOTPay reading 0013 as a plain refusal", "Raise ProviderMisconfigured")


def test_iotpay_reading_a_refusal_code_as_unclear_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="refusal_unclear"), REFUSED)
    assert_kit_failed(result, "IOTPay reading 0011 as unclear", "says nothing was done: raise Refused")


def test_stripe_reading_a_key_without_permission_as_a_plain_refusal_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug="forbidden_refused"), MISCONFIGURED)
    assert_kit_failed(result, "Stripe reading 403 as a plain refusal", "Raise ProviderMisconfigured")


def test_iotpay_handing_a_mini_program_an_empty_pay_sign_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="pay_sign_unchecked"), EVERY_CHANNEL)
    assert_kit_failed(result, "IOTPay not requiring paySign", "the payer handed ['params.paySign'] as no text")


def test_iotpay_leaving_a_refusals_sign_unchecked_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="refusal_sign_unchecked"), SIGNED_REFUSAL)
    assert_kit_failed(result, "IOTPay not verifying a refusal's sign", "signed (harness.signed_answer) and then")


def test_stripe_reading_a_refund_that_requires_action_as_failed_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug="requires_action_failed"), f"{STATES} and refund")
    assert_kit_failed(result, "Stripe reading requires_action as failed", "status='requires_action' (pending) read")


def test_iotpay_reading_every_refusal_as_a_wrong_configuration_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="every_refusal_misconfigured"), BLAMES)
    assert_kit_failed(result, "IOTPay reading 0011, 0012 and 0014 as misconfiguration", "opens the account's breaker")


def test_iotpay_reading_a_parameter_error_that_says_not_exist_as_no_such_order_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="not_exist_not_found"), BLAMES)
    assert_kit_failed(
        result, "IOTPay reading 0014 'channelId does not exist' as no such order", "and not NotFound, which says"
    )


def test_iotpay_knowing_a_taken_order_number_by_one_wording_only_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="taken_in_its_own_words"), EXISTS)
    assert_kit_failed(
        result, "IOTPay reading 'already exists' only after 'parameter error'", "(harness.existing_order_answers"
    )


def test_iotpay_cutting_a_fraction_off_a_state_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="fraction_cut"), STATES)
    assert_kit_failed(result, "IOTPay reading status 2.5 as 2", "a state with a fraction")


def test_iotpay_reading_order_already_paid_as_a_refusal_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="already_paid_refused"), EXISTS)
    assert_kit_failed(
        result, "IOTPay reading 0113 'order already paid' as a refusal", "(harness.existing_order_answers"
    )


def test_iotpay_seeing_a_pair_only_where_the_name_is_all_letters_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="pair_names_of_letters"), "harness_declares_invalid")
    assert_kit_failed(result, "IOTPay letting 'Tea&param2=x' through as a body", "pair whose name has a digit")
