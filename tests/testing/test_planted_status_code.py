"""The kit's check of the code of an answer with an HTTP status other than 200 (`status_answer_code`)
fails IOTPay with it planted under one code for every status (and passes IOTPay as it is): an operator
told `HTTP_ERROR` cannot tell a 404 (a wrong API address) from a 500 (IOTPay's own trouble).
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = "garbled_answer_to_create and html"

IOTPAY_KIT = """
import pytest
from gateway.plugin import OutcomeUnknown
from gateway.testing import ProviderConformance
from gateway_iotpay import client
from tests.iotpay.harness import IotPayHarness

BUG = {bug!r}


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "one_code_for_every_status":
            read = client._json_object

            def json_object(operation, response):
                if response.status_code != 200:
                    raise OutcomeUnknown("HTTP_ERROR", "IOTPay answered an HTTP error")
                return read(operation, response)

            monkeypatch.setattr(client, "_json_object", json_object)

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""


def run_kit(pytester: pytest.Pytester, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, IOTPAY_KIT.format(bug=bug), SELECTION)


def test_the_check_passes_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_kit(pytester, ""), exactly=2)


def test_the_check_fails_iotpay_with_a_planted_bug(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "one_code_for_every_status")
    assert_kit_failed(
        result, "IOTPay with one code for every status", "not code 'HTTP_404' (harness.status_answer_code)"
    )
