"""A merchant's stored Stripe account beside IOTPay accounts: its own webhook URL and secrets (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet

from gateway.testing.live import LiveServer
from tests.stripe.conftest import WEBHOOK_SECRET, StripeSandbox, stripe_settings
from tests.support.flows import wait_for

CREDENTIALS_KEY = Fernet.generate_key().decode()


def test_a_stored_stripe_account_is_paid_through_its_own_webhook_url_beside_iotpay(
    app_factory: Any, stripe: StripeSandbox, gateway_server: LiveServer, tmp_path: Path
) -> None:
    app = app_factory(GATEWAY_CREDENTIALS_KEYS=CREDENTIALS_KEY)  # IOTPay from the environment, no Stripe
    runner = app.test_cli_runner()

    def cli(*args: str) -> Any:
        result = runner.invoke(args=["gateway", *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    merchant = cli("merchants", "create", "--name", "stripe-shop")
    settings = tmp_path / "stripe.json"
    settings.write_text(json.dumps(stripe_settings(stripe.url)))
    account = cli(
        "accounts", "create", "--merchant", merchant["id"], "--provider", "stripe", "--name", "eu",
        "--settings", str(settings),
    )  # fmt: skip
    assert account["notify_url"] == f"{gateway_server.url}/notify/stripe/{account['id']}"
    stripe.simulator.webhook_url = account["notify_url"]  # as the operator registers it at Stripe
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {merchant['api_key']}"

    created = client.post(
        "/v1/orders", json={"channel": "card", "amount": 500, "currency": "JPY", "subject": "Tea", "body": "Green"}
    )
    assert created.status_code == 201, created.get_json()
    order = created.get_json()
    assert (order["provider"], order["account"], order["merchant"]) == ("stripe", account["id"], merchant["id"])

    stripe.pay(order["provider_order_id"])
    paid = wait_for(lambda: (o := client.get(f"/v1/orders/{order['id']}").get_json())["status"] == "paid" and o)
    assert paid["paid_at"] is not None
    [event] = stripe.intent(order["provider_order_id"])["events"]
    # The environment's /notify/stripe is no door into this account: no Stripe there at all.
    assert requests.post(f"{gateway_server.url}/notify/stripe", data=b"{}", timeout=5).status_code == 404
    assert WEBHOOK_SECRET not in json.dumps(cli("accounts", "list"))
    assert event["id"]
