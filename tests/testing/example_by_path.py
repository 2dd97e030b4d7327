"""Example Pay's own harness, with the plugin loaded by its module path (`GATEWAY_PLUGINS`) rather than
through an installed entry point: the planted kits (`test_planted_*.py`) patch the example's modules in
a process of their own, where the example package may be importable without being installed."""

from __future__ import annotations

from collections.abc import Mapping

from gateway_example_provider.harness import ExampleHarness


class ExampleByPath(ExampleHarness):
    plugin_name = "gateway_example_provider.plugin"

    def settings(self, public_url: str) -> Mapping[str, str]:
        return {**super().settings(public_url), "GATEWAY_PLUGINS": self.plugin_name}
