"""The kit's check of a provider error that quotes the gateway's secret back fails two bugs, and passes Example Pay,
IOTPay and Stripe as they are:

- Stripe logging its error's code as Stripe sent it, the key not taken out (as the plugin did until this check:
  it took the key out of the message only, after its own log line), so an error that echoes the request's key
  writes it to the log;
- Example Pay logging the provider's words "for the operator" before raising, so the key reaches the log even
  though the core takes it out of the error itself.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import IOTPAY_AS_IT_IS, assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

STRIPE_KIT = """
import pytest
from gateway_stripe import client
from tests.stripe.harness import StripeHarness

from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "code_logged_raw":  # "Stripe's codes are identifiers: only its message can quote anything"
            answer = client._answer
            monkeypatch.setattr(client, "_answer", lambda what, response, secret_key: answer(what, response, "\\0"))

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

EXAMPLE_KIT = """
import logging

import pytest
from gateway_example_provider.client import ExampleClient
from tests.testing.example_by_path import ExampleByPath

from gateway.plugin import ProviderError
from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedExample(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "words_logged":  # "log what Example Pay said, for the operator"
            call = ExampleClient.call

            def logged(self, operation, payload):
                try:
                    return call(self, operation, payload)
                except ProviderError as error:
                    logging.getLogger("gateway_example_provider").warning("Example Pay said: %s", error.message)
                    raise

            monkeypatch.setattr(ExampleClient, "call", logged)

    @pytest.fixture
    def harness(self, tmp_path):
        return ExampleByPath(tmp_path)
"""

QUOTED = "quotes_the_secret"


@pytest.mark.parametrize("kit", [EXAMPLE_KIT.format(bug=""), IOTPAY_AS_IT_IS, STRIPE_KIT.format(bug="")])
def test_the_check_passes_each_plugin_as_it_is(pytester: pytest.Pytester, kit: str) -> None:
    assert_kit_passed(run_planted_kit(pytester, kit, QUOTED), exactly=1)


def test_stripe_logging_its_error_code_raw_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug="code_logged_raw"), QUOTED)
    assert_kit_failed(result, "Stripe logging a code that quotes the key", "back put it in the log")


def test_example_pay_logging_the_providers_words_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, EXAMPLE_KIT.format(bug="words_logged"), QUOTED)
    assert_kit_failed(result, "Example Pay logging the provider's words", "back put it in the log")
