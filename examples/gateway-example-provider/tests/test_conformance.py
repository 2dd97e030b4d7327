"""Example Pay against the gateway's conformance kit. Run: python -m pytest tests -q (from this folder)."""

from pathlib import Path

import pytest
from gateway_example_provider.harness import ExampleHarness

from gateway.testing import ProviderConformance


class TestExampleConformance(ProviderConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> ExampleHarness:
        return ExampleHarness(tmp_path)  # not started: the kit calls start() and stop() around each test
