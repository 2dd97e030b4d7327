"""Every provider distribution (the built-in ones and the example) has the same layout, so a reader
who knows one finds their way in the others."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(
    [*ROOT.glob("plugins/*/gateway_*/__init__.py"), *ROOT.glob("examples/*/gateway_*/__init__.py")],
)
# The files the contract uses, one job each, and the simulator as a subpackage.
LAYOUT = (
    "plugin.py",  # the hook implementations (the entry point)
    "config.py",  # its settings, read through gateway.plugin.Settings
    "client.py",  # HTTP through gateway.plugin.http.ProviderHttp
    "signing.py",  # signatures, free of I/O
    "schemas.py",  # the wire formats
    "provider.py",  # the Provider
    "sandbox/__init__.py",  # the simulator, built from gateway.sandbox
    "sandbox/app.py",
)


def test_the_built_in_providers_and_the_example_are_all_found() -> None:
    assert [path.parent.name for path in PACKAGES] == ["gateway_example_provider", "gateway_iotpay", "gateway_stripe"]


@pytest.mark.parametrize("package", [path.parent for path in PACKAGES], ids=lambda path: path.name)
def test_each_provider_has_the_shared_layout(package: Path) -> None:
    assert [name for name in LAYOUT if not (package / name).is_file()] == []
