"""The core's entry points are typed for mypy: a misspelt hook, or create_app used as something else,
is an error in `make lint`, not a call pluggy silently drops (pm.hook accepts any name)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

WRONG = """
from gateway import create_app
from gateway.domain.core import Gateway
from gateway.plugin import OrderSnapshot


def announce(gateway: Gateway, order: OrderSnapshot) -> None:
    gateway.hooks.gateway_order_payed(order=order)
    gateway.hooks.gateway_order_paid(snapshot=order)


port: int = create_app()
"""


def test_mypy_sees_a_wrong_hook_name_a_wrong_argument_and_a_wrong_use_of_create_app(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy comes with the dev extra (make lint installs it)")
    module = tmp_path / "wrong.py"
    module.write_text(WRONG, encoding="utf-8")
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), str(module)])
    assert status == 1, stdout + stderr
    assert '"Hooks" has no attribute "gateway_order_payed"' in stdout
    assert 'Unexpected keyword argument "snapshot" for "gateway_order_paid" of "Hooks"' in stdout
    assert 'Incompatible types in assignment (expression has type "Flask", variable has type "int")' in stdout
    assert stdout.count("error:") == 3
