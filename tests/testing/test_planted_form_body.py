"""The kit's check that a form body is read as the query string is fails IOTPay with two bugs, and passes it as it is:

- its form body parsed strictly (`strict_parsing=True`, as the plugin did until this check): a notify whose body
  holds an empty pair (`&&`) or ends in `&` is refused as malformed, where the same text in the query string,
  which the gateway parses by the URL standard, pays the order;
- its form body's blank fields dropped (`keep_blank_values=False`, a mutant the full run left alive): a blank
  field of a name IOTPay never sends is refused in the query string and let through in the body.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

IOTPAY_KIT = """
from urllib.parse import parse_qsl

import pytest
from gateway_iotpay import provider
from tests.iotpay.harness import IotPayHarness

from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedIotPay(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "strict_form":  # "a form IOTPay sends has no empty pairs: refuse one that does"
            monkeypatch.setattr(provider, "parse_qsl", lambda text, **_: parse_qsl(text, True, True))
        if BUG == "blank_fields_dropped":  # "an empty value is not signed: it is no field"
            monkeypatch.setattr(provider, "parse_qsl", lambda text, **_: parse_qsl(text))

    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

AS_THE_QUERY = "read_as_the_query_string_is"


def test_the_check_passes_iotpay_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_planted_kit(pytester, IOTPAY_KIT.format(bug=""), AS_THE_QUERY), exactly=1)


def test_iotpay_parsing_its_form_body_strictly_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="strict_form"), AS_THE_QUERY)
    assert_kit_failed(result, "IOTPay parsing a form body strictly", "with an empty pair (`&&`) inside were judged")


def test_iotpay_dropping_a_form_bodys_blank_fields_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, IOTPAY_KIT.format(bug="blank_fields_dropped"), AS_THE_QUERY)
    assert_kit_failed(result, "IOTPay dropping blank fields of a form body", "with a blank field of another name")
