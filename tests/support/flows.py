"""Steps shared by lifecycle tests: create an order over the API and pay it in the simulator."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import requests


def new_key() -> dict[str, str]:
    """The header of a new refund (or order): a fresh Idempotency-Key, as a well-behaved client sends."""
    return {"Idempotency-Key": str(uuid.uuid4())}


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def create_order(client: Any, amount: int = 1000, channel: str = "ALIPAY_MOBILE", **extra: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/orders",
        json={"channel": channel, "amount": amount, "currency": "CAD", "subject": "Tea", "body": "Green", **extra},
    )
    assert response.status_code == 201, response.get_json()
    order: dict[str, Any] = response.get_json()
    return order


def pay_in_simulator(simulator: Any, order: dict[str, Any]) -> None:
    response = requests.post(f"{simulator.url}/pay", data={"payOrderId": order["provider_order_id"]}, timeout=5)
    assert response.status_code == 202, response.text


def paid_order(client: Any, simulator: Any, amount: int = 1000) -> dict[str, Any]:
    """An order paid for real: the simulator's signed notify reached the gateway over HTTP."""
    order = create_order(client, amount)
    pay_in_simulator(simulator, order)
    return wait_for(lambda: _status_is(client, order["id"], "paid"), what="the order to be paid")


def _status_is(client: Any, order_id: str, status: str) -> dict[str, Any] | None:
    order: dict[str, Any] = client.get(f"/v1/orders/{order_id}").get_json()
    return order if order["status"] == status else None


def simulator_order(simulator: Any, order: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, Any] = requests.get(f"{simulator.url}/orders/{order['provider_order_id']}", timeout=5).json()
    return seen


def order_with(client: Any, harness: Any, amount: int | None = None, **extra: Any) -> dict[str, Any]:
    """An order for `harness`'s provider (a `gateway.testing.ProviderHarness`), on its channel and currency."""
    amount = harness.amount if amount is None else amount
    return create_order(client, amount, harness.channel, **{"currency": harness.currency, **extra})


def paid_with(client: Any, harness: Any, amount: int | None = None) -> dict[str, Any]:
    """An order paid for real at `harness`'s simulator, its notification delivered over HTTP."""
    order = order_with(client, harness, amount)
    harness.pay(order)
    return wait_for(lambda: _status_is(client, order["id"], "paid"), what="the order to be paid")
