"""The kit's check of declared strict settings (`strict_settings`) fails IOTPay with a bug of each kind
planted (and passes it as it is), each in code that runs only under `IOTPAY_REQUIRE_RESPONSE_SIGN=1`:

- an unsigned answer given another code than the documented one, so an operator searching for
  `UNSIGNED_RESPONSE` never finds why an order is pending;
- the setting read and never enforced, so an unsigned answer is believed;
- the setting enforced on refusals too, which IOTPay never signs: every refusal becomes unclear;
- an empty `sign` taken for no signature to check (a second blind trial), and `"sign": ""` is there, so the
  setting finds nothing missing: an answer anyone can write is believed.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = "strict_setting"

IOTPAY_KIT = """
import pytest
from gateway.plugin import OutcomeUnknown
from gateway.testing import ProviderConformance
from gateway_iotpay import provider
from tests.iotpay.harness import IotPayHarness

BUG = {bug!r}


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "another_code":
            def require(self, operation, raw):
                if "sign" not in raw and self.config.require_response_sign:
                    raise OutcomeUnknown("INVALID_RESPONSE", "no sign")
            monkeypatch.setattr(provider.IotPayProvider, "_require_response_sign", require)
        if BUG == "never_enforced":
            monkeypatch.setattr(provider.IotPayProvider, "_require_response_sign", lambda self, operation, raw: None)
        if BUG == "refusals_too":
            check = provider.IotPayProvider._check_response_sign

            def strict(self, operation, raw):
                if "sign" not in raw and self.config.require_response_sign:
                    raise OutcomeUnknown("UNSIGNED_RESPONSE", "no sign")
                check(self, operation, raw)
            monkeypatch.setattr(provider.IotPayProvider, "_check_response_sign", strict)

        if BUG == "empty_is_unsigned":  # "no signature to check: absent, null or empty"
            check = provider.IotPayProvider._check_response_sign

            def lenient(self, operation, raw):
                if raw.get("sign"):
                    check(self, operation, raw)
            monkeypatch.setattr(provider.IotPayProvider, "_check_response_sign", lenient)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""


def run_kit(pytester: pytest.Pytester, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, IOTPAY_KIT.format(bug=bug), SELECTION)


def test_the_check_passes_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_kit(pytester, ""), exactly=2)


@pytest.mark.parametrize(
    ("bug", "failure"),
    [
        ("another_code", "with provider_error.code 'UNSIGNED_RESPONSE' (StrictSetting.code)"),
        ("never_enforced", "the provider may have acted, so the outcome is unknown"),
        ("refusals_too", "a refusal the provider really sends stays a refusal"),
        ("empty_is_unsigned", "a create answered with 'sign' empty (the simulator acted)"),
    ],
)
def test_the_check_fails_iotpay_with_a_planted_bug(pytester: pytest.Pytester, bug: str, failure: str) -> None:
    assert_kit_failed(run_kit(pytester, bug), f"IOTPay with {bug!r} planted", failure)
