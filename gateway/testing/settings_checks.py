"""Kit checks of a plugin's start-up: each required setting missing in turn is refused, by name.

Part of `ProviderConformance`. A plugin that starts without its key (or with a sandbox key in
its place) signs and verifies with a secret everyone knows; one that silently disables itself
turns a typo into lost payments. The harness declares its `required_settings`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.testing.harness import ProviderHarness
from gateway.testing.live import LiveGateway


class SettingsChecks:
    def test_each_required_setting_missing_is_refused_at_start_by_name(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        required = list(gateway_harness.required_settings)
        if not required:
            pytest.skip("harness.required_settings declares none")
        problems: dict[str, str] = {}
        for name in required:
            try:
                gateway_factory(without=[name])
            except Exception as refusal:  # ConfigError is expected; whatever it is, it must name it
                if name not in str(refusal):
                    problems[name] = f"refused without naming it: {str(refusal).splitlines()[0]}"
                continue
            problems[name] = "the gateway started with the provider enabled (a default or a sandbox secret?)"
        assert not problems, f"with one required setting missing, start-up must raise ConfigError naming it: {problems}"
