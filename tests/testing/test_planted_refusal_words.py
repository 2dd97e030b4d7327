"""The kit's check of a declared refusal's code and words fails Stripe with two bugs its mutation run left alive,
and passes it as it is:

- Stripe's `error.code` dropped from a refusal (the code left `None`, which the core shows as empty), so a merchant's
  code that branches on Stripe's refusal code (`card_declined`, `parameter_invalid_integer`) never matches;
- Stripe's `error.message` dropped, so the merchant is shown a refusal without a word of why.

Stripe's refusals nest their fields in an `error` object, where the kit used to judge only a flat refusal's texts.
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.usefixtures("project_importable")

STRIPE_KIT = """
import pytest
from gateway_stripe import client
from tests.stripe.harness import StripeHarness

from gateway.plugin import ProviderError
from gateway.testing import ProviderConformance

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        answer = client._answer

        def planted_answer(what, response, secret_key):
            try:
                return answer(what, response, secret_key)
            except ProviderError as error:
                if BUG == "code_dropped":  # "the type says enough"
                    raise type(error)(None, error.message) from None
                if BUG == "message_dropped":  # "the code says enough"
                    raise type(error)(error.code, None) from None
                raise

        monkeypatch.setattr(client, "_answer", planted_answer)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

REFUSED = "each_declared_refusal_of_the_provider_fails_the_call"


def test_the_check_passes_stripe_as_it_is(pytester: pytest.Pytester) -> None:
    assert_kit_passed(run_planted_kit(pytester, STRIPE_KIT.format(bug=""), REFUSED), exactly=2)


def test_stripe_dropping_a_refusals_code_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug="code_dropped"), REFUSED)
    assert_kit_failed(result, "Stripe dropping error.code", "provider_error.code is '', which holds none")


def test_stripe_dropping_a_refusals_message_fails(pytester: pytest.Pytester) -> None:
    result = run_planted_kit(pytester, STRIPE_KIT.format(bug="message_dropped"), REFUSED)
    assert_kit_failed(result, "Stripe dropping error.message", "provider_error.message is ''; the merchant")
