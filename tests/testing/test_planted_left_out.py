"""The kit's checks of an optional setting left out, and of `query_order` asked directly, fail the built-in
providers with planted bugs, and pass them as they are:

- IOTPay asking for an order's `app_id` on every channel but WX_APP when `IOTPAY_WX_APP_ID` is not set (the
  rule applied to the wrong channels), so no Alipay or UnionPay order is taken;
- IOTPay leaving `app_id` out of WX_APP's `required_fields` when `IOTPAY_WX_APP_ID` is not set, though it
  refuses the order without it, so a checkout that builds its form from `/v1/providers` never asks for it;
- IOTPay requiring `resCode` in a refund answer, which IOTPay documents as `retCode` and `retMsg` alone (its
  samples and the simulator add `resCode`), so every refund answered as documented would be unknown;
- IOTPay requiring its own refund id (`refundOrderId`) in a refund answer, which IOTPay does not document at all,
  so a refund made and answered without it would be unknown;
- IOTPay taking a refund answer without `resCode` as an answer about the refund it asked for, whatever it echoes
  (another refund's answer in that shape made this refund "succeeded");
- IOTPay taking a create answer without `resCode` as a created order, where IOTPay's documentation says
  success needs both `retCode` and `resCode`;
- IOTPay taking a refund answer without `resCode` that echoes no refund as this refund's (as its echo rule
  does with the test turned round, `is not None`);
- IOTPay refusing a create answer whose `qr_code`, a field only the QR channels use, is `null`, so every
  order of another channel answered that way would be unknown;
- IOTPay refusing payForSubmit's QR answer whose `url`, the redirect it answers without a QR code, is `null`;
- IOTPay reading `retParams` only as an object, so a redirect channel's answer with the JSON text of one
  (which the plugin documents it takes) leaves the order unknown;
- Stripe's query reading the PaymentIntent it is given without looking at whose order it is: the core refuses
  the answer, but `query_order` itself passed it on as the order asked about.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

IOTPAY_KIT = """
import pytest
from gateway_iotpay import channels, provider
from gateway_iotpay.provider import IotPayProvider
from tests.iotpay.harness import IotPayHarness

from gateway.testing import ProviderConformance

BUG = {bug!r}


def app_id_elsewhere(self, channel):  # "without the setting, the app id is the order's: except on WX_APP"
    if channel.name != "WX_APP" and not self.config.wx_app_id:
        return (*channel.required, channels.APP_ID)
    return channel.required


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "app_id_elsewhere":
            monkeypatch.setattr(IotPayProvider, "required_fields", app_id_elsewhere)
        if BUG == "app_id_unlisted":  # "check_order refuses a WX_APP order without its app: enough"
            monkeypatch.setattr(IotPayProvider, "required_fields", lambda self, channel: channel.required)
        if BUG == "refund_needs_rescode":  # "a business call always says how the business went"
            call = IotPayProvider._business_call

            def result_always_required(self, operation, params, schema, *, result_required=True):
                return call(self, operation, params, schema, result_required=True)

            monkeypatch.setattr(IotPayProvider, "_business_call", result_always_required)
        if BUG == "refund_id_required":  # "IOTPay always says which refund it made"
            from gateway_iotpay import schemas

            field = schemas.RefundOrderResponse._declared_fields["refund_order_id"]
            monkeypatch.setattr(field, "required", True)
        if BUG == "refund_without_rescode_is_ours":  # "no resCode: IOTPay said SUCCESS to what we asked"
            business_call = IotPayProvider._business_call

            def trusting(self, operation, params, schema, *, result_required=True):
                answer = business_call(self, operation, params, schema, result_required=result_required)
                if operation == "refund_order" and answer.get("res_code") is None:
                    ours = {{"mch_refund_no": params["mchRefundNo"], "refund_amount": params["refundAmount"]}}
                    answer = {{**answer, **ours}}
                return answer

            monkeypatch.setattr(IotPayProvider, "_business_call", trusting)
        if BUG == "echo_rule_turned":  # "with resCode, IOTPay must say which refund; without, it said SUCCESS"
            business_call = IotPayProvider._business_call

            def turned(self, operation, params, schema, *, result_required=True):
                answer = business_call(self, operation, params, schema, result_required=result_required)
                if operation == "refund_order" and answer.get("res_code") is None and not answer.get("mch_refund_no"):
                    ours = {{"mch_refund_no": params["mchRefundNo"], "refund_amount": params["refundAmount"]}}
                    answer = {{**answer, **ours}}
                return answer

            monkeypatch.setattr(IotPayProvider, "_business_call", turned)
        if BUG == "null_qr_code_refused":  # "a QR code field is a QR code, never null"
            field = provider._RESPONSE_SCHEMAS["create_order"].fields["qr_code"]
            monkeypatch.setattr(field, "allow_none", False)
        if BUG == "null_url_refused":  # "payForSubmit answers a url: a null one is no answer"
            field = provider._RESPONSE_SCHEMAS["payForSubmit"].fields["url"]
            monkeypatch.setattr(field, "allow_none", False)
        if BUG == "retparams_text_unread":  # "retParams is an object"
            field = provider._RESPONSE_SCHEMAS["create_order"].fields["ret_params"]
            read = type(field)._deserialize

            def object_only(self, value, attr, data, **kwargs):
                if isinstance(value, str):
                    raise self.make_error("invalid")
                return read(self, value, attr, data, **kwargs)

            monkeypatch.setattr(type(field), "_deserialize", object_only)
        if BUG == "no_result_needed":  # "retCode SUCCESS is IOTPay saying it did it"
            lenient = IotPayProvider._business_call

            def result_never_required(self, operation, params, schema, *, result_required=True):
                return lenient(self, operation, params, schema, result_required=False)

            monkeypatch.setattr(IotPayProvider, "_business_call", result_never_required)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

STRIPE_KIT = """
import pytest
from gateway_stripe import schemas
from gateway_stripe.provider import StripeProvider, _load, _report
from tests.stripe.harness import StripeHarness

from gateway.testing import ProviderConformance

BUG = {bug!r}


def whoever_it_is_about(self, order):  # "the PaymentIntent id is the order's: whatever comes back is about it"
    intent = _load(schemas.PaymentIntent(), self.client.get(f"/v1/payment_intents/{{order.provider_order_id}}"), "PI")
    return _report(intent, paid=intent["status"] == schemas.SUCCEEDED)


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "whoever_it_is_about":
            monkeypatch.setattr(StripeProvider, "query_order", whoever_it_is_about)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

OPTIONAL = "optional_setting_left_out"
ASKED_DIRECTLY = "query_order_itself_refuses"
THROUGH_THE_CORE = "answer_about_another_order_is_refused and not no_provider_id"
SHAPES = "documentation_leaves_out"
REQUIRED = "documentation_requires"
NULL = "null_its_documentation_allows"
JSON_TEXT = "sent_as_its_json_text"


def test_the_checks_pass_the_providers_as_they_are(pytester: pytest.Pytester) -> None:
    selection = f"{OPTIONAL} or {ASKED_DIRECTLY} or {REQUIRED} or {NULL} or {JSON_TEXT}"
    assert_kit_passed(run_planted_kit(pytester, IOTPAY_KIT.format(bug=""), selection), exactly=6)
    assert_kit_passed(run_planted_kit(pytester, STRIPE_KIT.format(bug=""), ASKED_DIRECTLY), exactly=1)


def test_iotpay_asking_the_wrong_channels_for_the_app_id_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="app_id_elsewhere"), OPTIONAL)
    assert_kit_failed(result, "IOTPay asking every other channel for app_id", "without IOTPAY_WX_APP_ID, an order in")


def test_iotpay_not_listing_the_app_id_it_requires_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="app_id_unlisted"), OPTIONAL)
    assert_kit_failed(result, "IOTPay leaving app_id out of WX_APP's required_fields", "what /v1/providers lists")


def test_stripe_passing_on_an_answer_about_another_order_fails_though_the_core_refuses_it(
    pytester: pytest.Pytester,
) -> None:
    # Through the gateway the answer is refused all the same (the core compares the reference and the ids) ...
    assert_kit_passed(run_planted_kit(pytester, STRIPE_KIT.format(bug="whoever_it_is_about"), THROUGH_THE_CORE))
    # ... so only the plugin asked directly shows it.
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug="whoever_it_is_about"), ASKED_DIRECTLY)
    assert_kit_failed(result, "Stripe's query not checking whose order", "names the order asked about")


def test_iotpay_requiring_the_refund_answers_rescode_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="refund_needs_rescode"), SHAPES)
    assert_kit_failed(result, "IOTPay requiring resCode in refund answers", "without 'resCode'")


def test_iotpay_requiring_its_own_refund_id_in_a_refund_answer_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="refund_id_required"), SHAPES)
    assert_kit_failed(result, "IOTPay requiring refundOrderId in refund answers", "without 'refundOrderId'")


def test_iotpay_taking_any_refund_answer_without_rescode_as_its_own_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="refund_without_rescode_is_ours"), SHAPES)
    assert_kit_failed(
        result, "IOTPay reading any resCode-less refund answer as its own", "must still be about the refund"
    )


def test_iotpay_taking_a_create_answer_without_rescode_as_created_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="no_result_needed"), REQUIRED)
    assert_kit_failed(
        result, "IOTPay taking retCode SUCCESS alone as a created order", "create_order answer without 'resCode'"
    )


def test_iotpay_taking_a_bare_refund_answer_as_this_refunds_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="echo_rule_turned"), REQUIRED)
    assert_kit_failed(
        result, "IOTPay taking a bare refund answer as this refund's", "refund answer without ('resCode', 'mchRefundNo'"
    )


def test_iotpay_refusing_a_null_field_of_another_channel_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="null_qr_code_refused"), NULL)
    assert_kit_failed(result, "IOTPay refusing a null qr_code on an app channel", "'qr_code' null")


def test_iotpay_refusing_a_null_url_beside_a_qr_code_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="null_url_refused"), NULL)
    assert_kit_failed(result, "IOTPay refusing a null url in payForSubmit's QR answer", "'url' null")


def test_iotpay_reading_retparams_only_as_an_object_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="retparams_text_unread"), JSON_TEXT)
    assert_kit_failed(result, "IOTPay refusing retParams as JSON text", "sent as the JSON text of its object")
