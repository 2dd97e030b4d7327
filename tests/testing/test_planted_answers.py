"""The kit's checks of garbled provider answers (`answer_fields.py`) fail the built-in providers, and
Example Pay, with a bug of each kind planted; and pass them as they are.

Each bug is planted for one pytester session, in the one place an author would make it: a field of
the plugin's own answer schema made optional, nullable or unchecked, as "the provider always sends
it right" invites:

- Stripe taking an `amount_received` past any amount it takes (its bound removed), any `status`
  text (its validator removed), a null `amount` (`allow_none=True`), and a PaymentIntent without
  `currency` (`required=False`);
- Example Pay reading a payment without `status` as pending (a schema default);
- IOTPay taking any query `amount` (its range removed), any `status` number (its set removed), a
  refund id of any length, and any `currency` text (its set removed);
- IOTPay reading its answer's body whatever the HTTP status (so a 500 carrying an order reads as created);
- IOTPay reading an object sent as JSON text (`retParams`) without a guard, so text that is not JSON crashes;
- IOTPay taking any `resCode` text, so a garbled one becomes the error code a merchant is shown.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = "field_garbled or status_500"

IOTPAY_KIT = """
import json
import pytest
from gateway.testing import ProviderConformance
from marshmallow import fields
from gateway_iotpay import client, schemas
from tests.iotpay.harness import IotPayHarness

BUG = {bug!r}


def unguarded(self, value, attr, data, **kwargs):  # "IOTPay always sends JSON there"
    return json.loads(value) if isinstance(value, str) else value


def any_result(schema):  # resCode's OneOf removed
    return type(schema).from_dict({{"res_code": fields.String(data_key="resCode")}})()


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "body_read_whatever_the_status":  # the status line never looked at
            monkeypatch.setattr(client, "_json_object", lambda operation, response: response.json())
        query, refund = schemas.QueryOrderResponse._declared_fields, schemas.RefundOrderResponse._declared_fields
        if BUG == "any_query_amount":  # "IOTPay checks its own amounts"
            monkeypatch.setitem(query, "amount", schemas.WholeNumber(data_key="amount"))
        if BUG == "any_status_number":  # a status IOTPay never answers read as "not paid yet"
            monkeypatch.setitem(query, "status", schemas.WholeNumber(data_key="status"))
        if BUG == "refund_id_of_any_length":
            monkeypatch.setitem(refund, "refund_order_id", fields.String(data_key="refundOrderId"))
        if BUG == "currency_of_any_text":  # its OneOf removed
            monkeypatch.setitem(query, "currency", fields.String(data_key="currency"))
        if BUG == "json_text_read_unguarded":
            monkeypatch.setattr(schemas.JsonObject, "_deserialize", unguarded)
        # Imported only here: importing it builds the schemas the patches above must reach first.
        from gateway_iotpay import provider

        if BUG == "result_code_of_any_text":
            for operation, schema in list(provider._RESPONSE_SCHEMAS.items()):
                monkeypatch.setitem(provider._RESPONSE_SCHEMAS, operation, any_result(schema))
            monkeypatch.setattr(provider, "_QUERY_ORDER_RESPONSE", any_result(provider._QUERY_ORDER_RESPONSE))

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

STRIPE_KIT = """
import pytest
from marshmallow import fields, validate
from gateway.plugin import StrictInt
from gateway.testing import ProviderConformance
from gateway_stripe import schemas
from tests.stripe.harness import StripeHarness

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        intent = schemas.PaymentIntent._declared_fields
        if BUG == "amount_received_unbounded":  # "Stripe's amounts are Stripe's business": a bound removed
            monkeypatch.setitem(intent, "amount_received", StrictInt(required=True, validate=validate.Range(min=0)))
        if BUG == "any_status_text":  # its OneOf removed
            monkeypatch.setitem(intent, "status", fields.String(required=True))
        if BUG == "null_amount":
            monkeypatch.setitem(intent, "amount", StrictInt(required=True, allow_none=True))
        if BUG == "currency_optional":
            monkeypatch.setitem(intent, "currency", fields.String(validate=validate.Length(equal=3)))

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

EXAMPLE_KIT = """
import pytest
from marshmallow import fields
from gateway.testing import ProviderConformance
from gateway_example_provider import schemas
from tests.testing.example_by_path import ExampleByPath

BUG = {bug!r}


class TestPlantedExample(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "status_defaults_to_pending":  # a payment without a status read as not paid yet
            monkeypatch.setitem(schemas.Payment._declared_fields, "status", fields.String(load_default="pending"))

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
    assert_kit_passed(result, at_least=4)


@pytest.mark.parametrize(
    ("provider", "bug", "failure"),
    [
        ("stripe", "amount_received_unbounded", "'amount_received' huge"),
        ("stripe", "any_status_text", "'status' empty"),
        ("stripe", "null_amount", "'amount' null"),
        ("stripe", "currency_optional", "'currency' left out"),
        ("example", "status_defaults_to_pending", "'status' left out"),
        ("iotpay", "any_query_amount", "'amount' negative"),
        ("iotpay", "any_status_number", "'status' huge"),
        ("iotpay", "refund_id_of_any_length", "'refundOrderId' over-long"),
        ("iotpay", "currency_of_any_text", "'currency' over-long"),
        ("iotpay", "body_read_whatever_the_status", "a 500 says nothing sure"),
        ("iotpay", "json_text_read_unguarded", "'retParams' as text not JSON"),
        ("iotpay", "result_code_of_any_text", "'resCode' over-long (call 1): unclear, but with code 'SUCCESSx"),
    ],
)
def test_these_checks_fail_a_provider_with_a_planted_bug(
    pytester: pytest.Pytester, provider: str, bug: str, failure: str
) -> None:
    result = run_kit(pytester, provider, bug)
    assert_kit_failed(result, f"{provider} with {bug!r} planted", failure)
