"""The kit's checks of every way to order in a channel (`more_channel_options`) and of the provider order
each created order names fail IOTPay with a bug of each kind planted (and pass it as it is):

- IOTPay reading the QR code of WeChat's browser channel (`qrcode_pay`) under another key, so every such
  order is unclear: a channel option the kit never ordered with;
- IOTPay reading payForSubmit's `payOrderId` under another key, so an order in WeChat's browser names no
  IOTPay order until its notify arrives, though IOTPay's answer named it.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")
SELECTION = "every_declared_channel or every_other_channel or names_the_provider_order"

IOTPAY_KIT = """
import pytest
from marshmallow import fields
from gateway.testing import ProviderConformance
from gateway_iotpay import provider, schemas
from tests.iotpay.harness import IotPayHarness

BUG = {bug!r}


class QrCodeMisread(schemas.PayForSubmitResponse):
    code_url = fields.Raw(data_key="codeUrl", allow_none=True)  # create_order's spelling, not payForSubmit's


class OrderIdMisread(schemas.PayForSubmitResponse):
    pay_order_id = fields.String(data_key="payorderid", allow_none=True)


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        misread = {{"qr_code_misread": QrCodeMisread, "order_id_misread": OrderIdMisread}}.get(BUG)
        if misread is not None:
            monkeypatch.setitem(provider._RESPONSE_SCHEMAS, "payForSubmit", misread())

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""


def run_kit(pytester: pytest.Pytester, bug: str) -> pytest.RunResult:
    return run_planted_kit(pytester, IOTPAY_KIT.format(bug=bug), SELECTION)


def test_these_checks_pass_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_kit(pytester, ""), exactly=2)  # the order-id check skips: every order names one


@pytest.mark.parametrize(
    ("bug", "failure"),
    [
        ("qr_code_misread", "an order in declared channel WX_JSAPI_BROWSER"),
        ("order_id_misread", "name no provider order, though the create answer held the id"),
    ],
)
def test_these_checks_fail_iotpay_with_a_planted_bug(pytester: pytest.Pytester, bug: str, failure: str) -> None:
    assert_kit_failed(run_kit(pytester, bug), f"IOTPay with {bug!r} planted", failure)
