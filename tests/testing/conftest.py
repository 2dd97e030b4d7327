"""The kit's own tests: Example Pay (examples/) importable, without installing it anywhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "examples" / "gateway-example-provider"
ROOT = EXAMPLE_PROJECT.parents[1]


# A kit run of a built-in provider as it is, with no bug planted: what a planted test's check must pass.
IOTPAY_AS_IT_IS = """
import pytest
from tests.iotpay.harness import IotPayHarness

from gateway.testing import ProviderConformance


class TestIotPay(ProviderConformance):
    @pytest.fixture
    def harness(self, tmp_path):
        return IotPayHarness(tmp_path)
"""

STRIPE_AS_IT_IS = """
import pytest
from tests.stripe.harness import StripeHarness

from gateway.testing import ProviderConformance


class TestStripe(ProviderConformance):
    @pytest.fixture
    def harness(self, tmp_path):
        return StripeHarness(tmp_path)
"""


@pytest.fixture(autouse=True)
def example_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # The planted plugin is loaded by module name (GATEWAY_PLUGINS), so no entry point is needed.
    monkeypatch.syspath_prepend(str(EXAMPLE_PROJECT))


@pytest.fixture
def project_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository and Example Pay importable in a child process (`run_planted_kit`'s)."""
    path = os.pathsep.join([str(ROOT), str(EXAMPLE_PROJECT), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)


def run_planted_kit(pytester: pytest.Pytester, module_source: str, selection: str) -> pytest.RunResult:
    """The kit checks `selection` of `module_source` (a test module with a planted bug, or none), in a
    process of its own: the gateway keeps the plugin modules it loaded, so a bug patched into a module
    that this process had already loaded would never reach the provider under test."""
    pytester.makepyfile(test_kit=module_source)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", "-q", "-k", selection)


def assert_kit_passed(result: pytest.RunResult, *, at_least: int = 1, exactly: int | None = None) -> None:
    """The selected checks all passed: `exactly` so many, or at least `at_least` (a selection that
    matched fewer checks than it names proves nothing)."""
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    passed = outcomes.get("passed", 0)
    assert (passed == exactly if exactly is not None else passed >= at_least) and "failed" not in outcomes, outcomes


def assert_kit_failed(result: pytest.RunResult, planted: str, failure: str) -> None:
    """The kit failed the plugin with `planted` (what, and which bug), for the reason `failure` words."""
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, f"the kit passed {planted}: {outcomes}"
    assert failure in result.stdout.str(), result.stdout.str()
