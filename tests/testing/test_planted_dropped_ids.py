"""The kit's garbled answers fail IOTPay with an id dropped from an answer that still holds it (and pass
IOTPay as it is): IOTPay reading a successful answer its schema refuses by its envelope alone, so a
refund answer with its amount garbled is read as a refund that went through with no refund id, though
the answer still names the refund (`refundOrderId`) where the genuine one did.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = "refund_answer_with_a_field_garbled"

IOTPAY_KIT = """
import pytest
from gateway.testing import ProviderConformance
from gateway_iotpay import provider
from tests.iotpay.harness import IotPayHarness

BUG = {bug!r}


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "read_by_its_envelope":  # "what the schema refuses beside the envelope does not matter"
            def envelope(raw, *, result_required):
                try:
                    return provider._ENVELOPE.load(raw)
                except provider.ValidationError:
                    return None
            monkeypatch.setattr(provider, "_refusal_envelope", envelope)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""


def run_kit(pytester: pytest.Pytester, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, IOTPAY_KIT.format(bug=bug), SELECTION)


def test_the_check_passes_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_kit(pytester, ""), exactly=1)


def test_the_check_fails_iotpay_with_a_planted_bug(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "read_by_its_envelope")
    assert_kit_failed(
        result, "IOTPay read by its envelope", "provider_refund_id left unsaid, though the answer still holds"
    )
