"""Fixtures for the Stripe plugin's tests: the Stripe simulator on a real port, and the gateway with
IOTPay and Stripe enabled at once (tests/conftest.py provides IOTPay's simulator and the databases).

Test modules here are named test_stripe_*.py: tests/ has no __init__.py files, so pytest imports
each test module by its bare name, and two `test_provider.py` would collide.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from gateway_stripe.sandbox.app import Simulator, create_simulator

from gateway.testing.live import LiveServer

# Made up, in Stripe's formats, and unlike every other key in the test suite.
SECRET_KEY = "sk_test_51GwTestOnly7Xk2eZvKYlo2C0aBcDeFgHiJk"
PUBLISHABLE_KEY = "pk_test_51GwTestOnly9zYxWvUtSrQpOnMlKjIhGfEd"
WEBHOOK_SECRET = "whsec_TestOnly3f8a1c5e7b9d2f4a6c8e0b1d3f5a7c9e"
SECRETS = (SECRET_KEY, WEBHOOK_SECRET)  # the publishable key is public by design: apps receive it


@dataclass
class StripeSandbox:
    simulator: Simulator
    url: str

    def fault(self, operation: str, mode: str, **extra: Any) -> None:
        response = requests.post(
            f"{self.url}/test/faults", json={"operation": operation, "mode": mode, **extra}, timeout=5
        )
        assert response.status_code == 201, response.text

    def pay(self, payment_intent: str, outcome: str = "succeeded") -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/test/pay", json={"payment_intent": payment_intent, "outcome": outcome}, timeout=5
        )
        assert response.status_code == 202, response.text
        paid: dict[str, Any] = response.json()
        return paid

    def intent(self, payment_intent: str) -> dict[str, Any]:
        shown: dict[str, Any] = requests.get(f"{self.url}/test/payment_intents/{payment_intent}", timeout=5).json()
        return shown

    def settle_refund(self, refund_id: str, status: str) -> None:
        response = requests.post(f"{self.url}/test/refunds/{refund_id}", json={"status": status}, timeout=5)
        assert response.status_code == 200, response.text


def stripe_settings(api_url: str, **extra: str) -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_URL": api_url,
        "STRIPE_TIMEOUT": "2",
        **extra,
    }


@pytest.fixture(autouse=True)
def _no_stripe_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own STRIPE_* variables must not change what tests see."""
    for name in list(os.environ):
        if name.startswith("STRIPE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def stripe(tmp_path: Path) -> Iterator[StripeSandbox]:
    """The Stripe simulator on a real port; its webhook URL is set by whoever builds the receiver."""
    simulator = create_simulator(
        SECRET_KEY,
        WEBHOOK_SECRET,
        "http://127.0.0.1:9/not-configured",
        str(tmp_path / "stripe-simulator.sqlite3"),
        webhook_retry_delays=(0.05, 0.1, 0.2, 0.4),
        webhook_timeout=5.0,
    )
    server = LiveServer(simulator)
    yield StripeSandbox(simulator, server.url)
    server.stop()
    simulator.close()


@pytest.fixture
def paid_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "paid.log"
    monkeypatch.setenv("PAID_LOG_PATH", str(path))
    return path


@pytest.fixture
def both_factory(
    app_factory: Callable[..., Any], stripe: StripeSandbox, gateway_server: LiveServer, paid_log: Path
) -> Callable[..., Any]:
    """Build the gateway with IOTPay and Stripe both enabled, Stripe's webhooks pointed at it."""
    stripe.simulator.webhook_url = f"{gateway_server.url}/notify/stripe"

    def build(**extra: str) -> Any:
        return app_factory(GATEWAY_PLUGINS="tests.support.paid_log", **stripe_settings(stripe.url, **extra))

    return build
