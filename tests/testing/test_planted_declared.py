"""The kit's checks of declared invalid orders and of notifications in a form body fail IOTPay with a
bug of each kind planted (and pass it as it is):

- IOTPay naming a `param2` that holds another pair by its wire name (`param2`), so the merchant is
  told to fix a field the API does not have;
- IOTPay reading a notify's fields from the query string only (IOTPay may send them in a form body);
- IOTPay reading any body as a form, whatever its Content-Type says;
- IOTPay taking a communication failure (`retCode` FAIL) for an unclear answer, so a create IOTPay
  refused before acting stays pending instead of failing;
- IOTPay replacing its refusal's words with its own (`retMsg` read under another key), so the merchant
  never sees what IOTPay said.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = "declares_invalid or form_body or split_between or not_a_form or declared_refusal"

IOTPAY_KIT = """
from urllib.parse import parse_qsl
import pytest
from gateway.testing import ProviderConformance
from gateway.plugin import OutcomeUnknown, Refused
from gateway_iotpay import provider
from tests.iotpay.harness import IotPayHarness

BUG = {bug!r}


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "param2_named_by_its_wire_name":  # the public name forgotten in the table
            public = {{name: field for name, field in provider._PUBLIC_FIELD.items() if name != "param2"}}
            monkeypatch.setattr(provider, "_PUBLIC_FIELD", public)
        if BUG == "query_string_only":  # "IOTPay sends its notify in the query string", always
            monkeypatch.setattr(provider, "_notify_params", lambda request: dict(request.query))
        if BUG == "any_body_is_a_form":  # the Content-Type never looked at
            def params(request):
                pairs = list(request.query) + parse_qsl(request.body.decode(), strict_parsing=bool(request.body))
                return dict(pairs)
            monkeypatch.setattr(provider, "_notify_params", params)
        if BUG == "communication_failure_unclear":  # "FAIL without a business result says nothing sure"
            call = provider.IotPayProvider._business_call

            def unclear(self, *args, **kwargs):
                try:
                    return call(self, *args, **kwargs)
                except Refused as refused:
                    if refused.code == "FAIL":
                        raise OutcomeUnknown(refused.code, refused.message) from None
                    raise

            monkeypatch.setattr(provider.IotPayProvider, "_business_call", unclear)
        if BUG == "refusal_words_replaced":
            call = provider.IotPayProvider._business_call

            def reworded(self, *args, **kwargs):
                try:
                    return call(self, *args, **kwargs)
                except Refused as refused:
                    raise Refused(refused.code, "communication failed") from None

            monkeypatch.setattr(provider.IotPayProvider, "_business_call", reworded)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""


def run_kit(pytester: pytest.Pytester, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, IOTPAY_KIT.format(bug=bug), SELECTION)


def test_these_checks_pass_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "")
    assert_kit_passed(result, at_least=5)


@pytest.mark.parametrize(
    ("bug", "failure"),
    [
        ("param2_named_by_its_wire_name", "the merchant is told to fix the wrong field"),
        ("query_string_only", "read the fields of a form body as those of the query string"),
        ("any_body_is_a_form", "only a body whose Content-Type says it is a form holds fields"),
        ("communication_failure_unclear", "says nothing was done: raise Refused"),
        ("refusal_words_replaced", "provider_error.message is 'communication failed'"),
    ],
)
def test_these_checks_fail_iotpay_with_a_planted_bug(pytester: pytest.Pytester, bug: str, failure: str) -> None:
    result = run_kit(pytester, bug)
    assert_kit_failed(result, f"IOTPay with {bug!r} planted", failure)
