"""The kit's check of refusals with garbage beside them fails IOTPay with a bug of each kind planted (and
passes it as it is):

- IOTPay reading any answer its schema refuses as unclear, its refusals too: a refusal with an empty
  `payOrderId` beside it leaves the order pending instead of failed;
- IOTPay looking a refund refusal's business result up under another key, so a refusal of a refund
  with garbage beside it reads as an answer without a result: unclear instead of refused.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = "garbage_beside"

IOTPAY_KIT = """
import pytest
from gateway.testing import ProviderConformance
from gateway_iotpay import provider
from tests.iotpay.harness import IotPayHarness

BUG = {bug!r}


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "garbage_makes_a_refusal_unclear":  # "an answer the schema refuses is no answer at all"
            monkeypatch.setattr(provider, "_refusal_envelope", lambda raw, *, result_required: None)
        if BUG == "business_result_under_another_key":
            def envelope(raw, *, result_required):
                try:
                    loaded = provider._ENVELOPE.load(raw)
                except provider.ValidationError:
                    return None
                if loaded["ret_code"] != "SUCCESS":
                    return loaded
                return None if not result_required else loaded  # resCode never found
            monkeypatch.setattr(provider, "_refusal_envelope", envelope)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""


def run_kit(pytester: pytest.Pytester, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, IOTPAY_KIT.format(bug=bug), SELECTION)


def test_the_check_passes_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_kit(pytester, ""), exactly=2)


@pytest.mark.parametrize(
    ("bug", "operation"),
    [("garbage_makes_a_refusal_unclear", "create_order"), ("business_result_under_another_key", "refund")],
)
def test_the_check_fails_iotpay_with_a_planted_bug(pytester: pytest.Pytester, bug: str, operation: str) -> None:
    result = run_kit(pytester, bug)
    assert_kit_failed(result, f"IOTPay with {bug!r} planted", f"declared refusals of {operation} were read as refusals")
