"""The kit's checks of moved fields, busy answers, lost answers and hostile addresses fail the
built-in providers, and Example Pay, with a bug of each kind planted.

Each bug is planted for one pytester session, in the one place an author would make it:

- IOTPay answering its notifications `SUCCESS` (IOTPay re-sends until it reads `success`), and
  reading UPI_SEQ's redirect under Alipay's key (a channel no other check drives);
- IOTPay without its check that a signed text was split the one way IOTPay split it (so a value
  holding `&name=` is read as signed), and IOTPay's form body built by joining strings (so a
  return_url's `&` starts a field of its own);
- Stripe reading its 429 "try again" answers as refusals, and taking any redirect address;
- IOTPay's `check()` taking any answer for a pass (so `gateway check` passes a wrong key);
- Example Pay writing its JSON by hand (a quote in a subject ends the string);
- Example Pay reading its own 503 "busy" answer as a refusal, and sending a create again after a
  time-out (its simulator then refuses the order's reference as a duplicate).
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = (
    "fields_moved or busy_answer or answer_was_lost or hostile_return_url or hostile_address"
    " or reply_the_provider or every_declared_channel or looks_like_fields or connection_check"
)

IOTPAY_KIT = """
import json
import pytest
from gateway.testing import ProviderConformance
from gateway.plugin import Acknowledgement, ProviderError
from marshmallow import fields
from gateway_iotpay import checkout, client, provider, schemas
from tests.iotpay.harness import IotPayHarness

BUG = {bug!r}


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "signed_text_split_any_way":  # the signature checked, the split never
            monkeypatch.setattr(provider.splitting, "notify_problem", lambda params: None)
            # ... and an id with no bound, which can then carry the fields glued to it (payOrderId=P1&mchId=...)
            unbounded = {{"pay_order_id": fields.String(data_key="payOrderId", required=True)}}
            loose = type("LooseNotify", (schemas.PaymentNotify,), unbounded)
            monkeypatch.setattr(provider, "_PAYMENT_NOTIFY", loose())
        if BUG == "form_joined_by_hand":  # params=<json> as text: an '&' in a value starts a field
            def call(self, operation, params):
                body = "params=" + json.dumps(params, separators=(",", ":"))
                headers = {{"Content-Type": "application/x-www-form-urlencoded"}}
                answer = self.http.post(f"{{self.api_url}}/{{operation}}", what=operation, data=body, headers=headers)
                return client._json_object(operation, answer)
            monkeypatch.setattr(provider.IotPayClient, "call", call)  # the class the provider builds
        if BUG == "success_in_capitals":  # IOTPay re-sends until it reads `success`, exactly
            ack = lambda self, verdict: Acknowledgement(200, "SUCCESS" if verdict.accepted else "FAIL")
            monkeypatch.setattr(provider.IotPayProvider, "acknowledge", ack)
        if BUG == "check_passes_any_key":  # "IOTPay answered": but it answered that the signature is wrong
            check = provider.IotPayProvider.check
            def lenient(self):
                try:
                    return check(self)
                except ProviderError:
                    return "IOTPay answered"
            monkeypatch.setattr(provider.IotPayProvider, "check", lenient)
        if BUG == "any_scheme_with_slashes":  # "a web address has ://" (IOTPay's third blind trial)
            url = checkout._url
            def loose(channel, value, name, secure):
                if isinstance(value, str) and "://" in value and not value.startswith("http://"):
                    return value
                return url(channel, value, name, secure)
            monkeypatch.setattr(checkout, "_url", loose)
        if BUG == "upi_redirect_under_alipays_key":  # copied from the Alipay line: UPI_SEQ never redirects
            keys = {{**checkout.REDIRECT_KEYS, "UPI_SEQ": "alipayUrl"}}
            monkeypatch.setattr(checkout, "REDIRECT_KEYS", keys)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

STRIPE_KIT = """
import pytest
from gateway.plugin import NextAction, NextActionType
from gateway.testing import ProviderConformance
from gateway_stripe import client, provider
from tests.stripe.harness import StripeHarness

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "try_again_read_as_refused":  # 429 is a 4xx, so "nothing happened"
            monkeypatch.setattr(client, "INDEFINITE_STATUSES", frozenset({{409, 424}}))
        if BUG == "any_redirect_address":  # whatever Stripe's answer holds goes to the payer's browser
            def next_action(channel, intent, pay_params):
                url = ((intent.get("next_action") or {{}}).get("alipay_handle_redirect") or {{}}).get("url")
                return NextAction(NextActionType.REDIRECT_TO_URL, url=url)
            original = provider._next_action
            monkeypatch.setattr(
                provider, "_next_action", lambda c, i, p: next_action(c, i, p) if c == "alipay" else original(c, i, p)
            )

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

EXAMPLE_KIT = """
import json
import pytest
from gateway.plugin import OutcomeUnknown, ProviderTimeout, Refused
from gateway.testing import ProviderConformance
from gateway_example_provider import client
from tests.testing.example_by_path import ExampleByPath

BUG = {bug!r}


class TestPlantedExample(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        call = client.ExampleClient.call

        def buggy_call(self, operation, payload):
            try:
                return call(self, operation, payload)
            except ProviderTimeout:
                if BUG == "create_sent_again_after_a_timeout" and operation == "create_order":
                    try:
                        return call(self, operation, payload)
                    except Refused as again:  # the retry's "duplicate reference", read as a plain refusal
                        raise Refused("rejected", again.message) from None
                raise
            except OutcomeUnknown as error:
                if BUG == "busy_read_as_refused" and error.code == "HTTP_503":  # "its own error format"
                    raise Refused("busy", "Example Pay refused: busy") from None
                raise

        monkeypatch.setattr(client.ExampleClient, "call", buggy_call)
        if BUG == "json_joined_by_hand":  # '"' in a subject ends the string early: the body is not JSON
            class ByHand:
                loads = staticmethod(json.loads)

                @staticmethod
                def dumps(payload, **options):
                    def pair(k, v):
                        return f'"{{k}}":"{{v}}"' if isinstance(v, str) else f'"{{k}}":{{json.dumps(v)}}'
                    pairs = [pair(k, v) for k, v in payload.items()]
                    return "{{" + ",".join(pairs) + "}}"
            monkeypatch.setattr(client, "json", ByHand)

    @pytest.fixture
    def harness(self, tmp_path):
        return ExampleByPath(tmp_path)
"""

KITS = {"iotpay": IOTPAY_KIT, "stripe": STRIPE_KIT, "example": EXAMPLE_KIT}


def run_kit(pytester: pytest.Pytester, provider: str, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, KITS[provider].format(bug=bug), SELECTION)


@pytest.mark.parametrize("provider", sorted(KITS))
def test_these_checks_pass_each_provider_as_it_is(pytester: pytest.Pytester, provider: str) -> None:
    result = run_kit(pytester, provider, "")
    assert_kit_passed(result, at_least=5)


@pytest.mark.parametrize(
    ("provider", "bug", "failure"),
    [
        ("iotpay", "signed_text_split_any_way", "not refused and not as the genuine one"),
        ("iotpay", "form_joined_by_hand", "return_url"),
        ("iotpay", "check_passes_any_key", "must make a call the secret is checked on"),
        ("example", "json_joined_by_hand", "send free text encoded as one value"),
        ("iotpay", "success_in_capitals", "the provider would take it for a failure"),
        ("iotpay", "upi_redirect_under_alipays_key", "an order in declared channel UPI_SEQ"),
        ("iotpay", "any_scheme_with_slashes", "never_reaches_the_payer[javascript_with_slashes]"),
        ("stripe", "try_again_read_as_refused", "busy says nothing sure"),
        ("stripe", "any_redirect_address", "never a crash"),
        ("example", "busy_read_as_refused", "busy says nothing sure"),
        ("example", "create_sent_again_after_a_timeout", "took the provider's answer to the retry for a refusal"),
    ],
)
def test_these_checks_fail_a_provider_with_a_planted_bug(
    pytester: pytest.Pytester, provider: str, bug: str, failure: str
) -> None:
    result = run_kit(pytester, provider, bug)
    assert_kit_failed(result, f"{provider} with {bug!r} planted", failure)
