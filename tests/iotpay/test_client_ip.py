"""The payer's IP that reaches IOTPay (`clientIp`), directly and behind a trusted proxy."""

from __future__ import annotations

from typing import Any

import requests

ORDER = {"channel": "UPI_APP", "amount": 100, "currency": "CAD", "subject": "s", "body": "b"}


def client_ip_seen_by_iotpay(simulator: Any, order: dict[str, Any]) -> str:
    seen = requests.get(f"{simulator.url}/orders/{order['provider_order_id']}", timeout=5).json()
    return str(seen["clientIp"])


def test_an_explicit_client_ip_is_sent(client: Any, simulator: Any) -> None:
    order = client.post("/v1/orders", json={**ORDER, "client_ip": "210.73.10.148"}).get_json()
    assert client_ip_seen_by_iotpay(simulator, order) == "210.73.10.148"


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(app_factory: Any, simulator: Any) -> None:
    client = app_factory().test_client()
    headers = {"X-Forwarded-For": "203.0.113.9"}
    order = client.post("/v1/orders", json=ORDER, headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert client_ip_seen_by_iotpay(simulator, order) == "10.0.0.2"


def test_behind_one_trusted_proxy_the_forwarded_address_is_sent(app_factory: Any, simulator: Any) -> None:
    client = app_factory(GATEWAY_TRUSTED_PROXIES="1").test_client()
    headers = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    order = client.post("/v1/orders", json=ORDER, headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert client_ip_seen_by_iotpay(simulator, order) == "203.0.113.9"
