"""The kit's own tests: Example Pay (examples/) importable, without installing it anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "examples" / "gateway-example-provider"


@pytest.fixture(autouse=True)
def example_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # The planted plugin is loaded by module name (GATEWAY_PLUGINS), so no entry point is needed.
    monkeypatch.syspath_prepend(str(EXAMPLE_PROJECT))
