"""The kit's checks of the window's edge, hostile timestamps, 3xx answers and the codes a merchant is
shown fail Stripe, a built-in provider, with a bug of each kind planted.

Each bug is planted for one pytester session, where an author would make it: a window that refuses
its own edge; a timestamp read with `int()` alone (which takes `+1`, `1_0` and other scripts' digits,
and raises on letters); a client that reads any status below 400 as an answer, on a transport that
lets redirects through; a failed refund's code and an unreadable answer's code other than the
documented ones; and the lookup of a refund by a key the plugin never wrote (the refund a retry
should find is never found, and Stripe's replay of the first answer hides it).
"""

from __future__ import annotations

import pytest

from tests.testing.conftest import assert_kit_failed, assert_kit_passed, run_planted_kit

pytest_plugins = ["pytester"]

KIT_MODULE = """
import pytest
from gateway.plugin import OutcomeUnknown, RefundFailed
from gateway.plugin.http import ProviderHttp
from gateway.testing import ProviderConformance
from gateway_stripe import client, provider, signing
from tests.stripe.harness import StripeHarness

BUG = {bug!r}


class TestPlantedStripe(ProviderConformance):
    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch):
        if BUG == "window_refuses_its_edge":  # drift >= tolerance
            verify = signing.verify
            monkeypatch.setattr(signing, "verify", lambda *a, **k: verify(*a, **{{**k, "tolerance": 299}}))
        if BUG == "timestamp_read_by_int":
            def parse(value):
                items = [item.strip().partition("=") for item in value.split(",")]
                stamps = [text for name, _, text in items if name == "t"]
                return int(stamps[0]), [text for name, _, text in items if name == "v1"]
            monkeypatch.setattr(signing, "_parse", parse)
        if BUG == "redirect_read_as_an_answer":  # status < 400, on a transport that does not refuse redirects
            monkeypatch.setattr(ProviderHttp, "_refuse_redirect", lambda self, response, what: None)
            answer = client._answer
            def lenient(what, response):
                if 300 <= response.status_code < 400:
                    response.status_code = 200
                return answer(what, response)
            monkeypatch.setattr(client, "_answer", lenient)
        if BUG == "failed_refund_code_undocumented":
            class Failed(RefundFailed):
                def __init__(self, code, message):
                    super().__init__("failed", message)
            monkeypatch.setattr(provider, "RefundFailed", Failed)
        if BUG == "invalid_answer_code_undocumented":
            load = provider._load
            def renamed(schema, raw, what):
                try:
                    return load(schema, raw, what)
                except OutcomeUnknown as exc:
                    raise OutcomeUnknown("malformed", exc.message) from None
            monkeypatch.setattr(provider, "_load", renamed)
        if BUG == "refund_looked_up_by_another_key":
            find = provider.StripeProvider._find_refund
            renamed = lambda self, intent, refund_id: find(self, intent, "r:" + refund_id)
            monkeypatch.setattr(provider.StripeProvider, "_find_refund", renamed)

    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""

pytestmark = pytest.mark.usefixtures("project_importable")
EDGE = "timestamp_window_is_inclusive or not_a_plain_number"
CODES = "declared_code or fails_later"


def run_kit(pytester: pytest.Pytester, bug: str, selection: str) -> pytest.RunResult:
    return run_planted_kit(pytester, KIT_MODULE.format(bug=bug), selection)


def test_these_checks_pass_stripe_as_it_is(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "", f"{EDGE} or 3xx or {CODES}")
    assert_kit_passed(result, exactly=15)


@pytest.mark.parametrize(
    ("bug", "selection", "failure"),
    [
        ("window_refuses_its_edge", EDGE, "timestamp_tolerance 0:05:00 is inclusive"),
        ("timestamp_read_by_int", EDGE, "accept only the plain ASCII digits that were signed"),
        ("redirect_read_as_an_answer", "3xx", "with its status made 300"),
        ("failed_refund_code_undocumented", CODES, "harness.failed_refund_codes"),
        ("invalid_answer_code_undocumented", CODES, "harness.invalid_answer_code"),
        ("refund_looked_up_by_another_key", CODES, "find the refund at the provider by RefundRequest.refund_id"),
    ],
)
def test_these_checks_fail_stripe_with_a_planted_bug(
    pytester: pytest.Pytester, bug: str, selection: str, failure: str
) -> None:
    result = run_kit(pytester, bug, selection)
    assert_kit_failed(result, f"Stripe with {bug!r} planted", failure)
