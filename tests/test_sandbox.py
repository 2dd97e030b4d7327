"""Sandbox mode: the newcomer's flow from the README, create -> pay in the simulator -> paid.

Run once in-process and once under gunicorn with the repository's gunicorn.conf.py (what
`make run` starts), where the simulator is mounted in the same server that it calls back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from gateway import create_app
from gateway.domain import webhooks
from gateway.store.models import OutboxEvent
from gateway.testing.live import LiveServer
from tests.support.flows import wait_for
from tests.support.processes import Gunicorn, flask_cli, free_port

ORDER = {"channel": "WX_APP", "amount": 2856, "currency": "CAD", "subject": "Coffee", "body": "1kg medium roast"}


def run_newcomer_flow(base_url: str) -> None:
    providers = requests.get(f"{base_url}/v1/providers", timeout=10).json()
    assert ("iotpay", True) in [(p["name"], p["sandbox"]) for p in providers]

    created = requests.post(f"{base_url}/v1/orders", json=ORDER, timeout=30)
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "pending"
    assert order["sandbox"] is True
    assert order["pay_params"]["package"] == "Sign=WXPay"

    paid = requests.post(f"{base_url}/sandbox/iotpay/pay", data={"payOrderId": order["provider_order_id"]}, timeout=10)
    assert paid.status_code == 202, paid.text

    def order_is_paid() -> dict[str, Any] | None:
        current = requests.get(f"{base_url}/v1/orders/{order['id']}", timeout=10).json()
        return current if current["status"] == "paid" else None

    final = wait_for(order_is_paid, timeout=20, what="the order to be paid")
    assert final["paid_at"] is not None

    app_pay = requests.get(f"{base_url}/pay", params={"channelid": "ALIPAY_MOBILE", "amount": "19.99"}, timeout=30)
    assert app_pay.status_code == 200, app_pay.text
    stored = requests.get(f"{base_url}/v1/orders/{app_pay.headers['Gateway-Order-Id']}", timeout=10).json()
    assert (stored["amount"], stored["currency"], stored["pay_params"]) == (1999, "CAD", app_pay.json())


@pytest.fixture
def sandbox_app(tmp_path: Path) -> Iterator[Any]:
    server = LiveServer()
    app = create_app(
        {
            "GATEWAY_SANDBOX": "1",
            "GATEWAY_PUBLIC_URL": server.url,
            "GATEWAY_INSTANCE_PATH": str(tmp_path),
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
        }
    )
    from gateway.store import migrate

    migrate.upgrade(app.extensions["gateway"].db.url)
    server.app = app
    app.config["SERVER_URL"] = server.url
    yield app
    server.stop()
    app.extensions["gateway"].db.dispose()


@pytest.fixture
def sandbox_server(sandbox_app: Any) -> str:
    return str(sandbox_app.config["SERVER_URL"])


def test_sandbox_flow_in_process(sandbox_server: str) -> None:
    run_newcomer_flow(sandbox_server)


def test_the_webhook_event_of_a_sandbox_order_says_sandbox(sandbox_app: Any, sandbox_server: str) -> None:
    order = requests.post(f"{sandbox_server}/v1/orders", json=ORDER, timeout=30).json()
    requests.post(f"{sandbox_server}/sandbox/iotpay/pay", data={"payOrderId": order["provider_order_id"]}, timeout=10)
    db = sandbox_app.extensions["gateway"].db

    def paid_event() -> OutboxEvent | None:
        with db.transaction() as session:
            return session.scalar(select(OutboxEvent).where(OutboxEvent.type == "order.paid"))

    event = wait_for(paid_event, timeout=20, what="the order.paid event")
    posted = json.loads(webhooks.event_body(event))

    assert posted["sandbox"] is True
    assert posted["data"]["order"]["sandbox"] is True


LIVE_IOTPAY = {"IOTPAY_MCH_ID": "20003333", "IOTPAY_SECRET_KEY": "live-looking-merchant-key-4f2a9c1e7b3d"}
LIVE_STRIPE = {"STRIPE_SECRET_KEY": "sk_live_4f2a9c1e7b3d5a6f8e0c2b4d"}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        pytest.param(LIVE_IOTPAY, ["IOTPAY_MCH_ID", "IOTPAY_SECRET_KEY"], id="iotpay-credentials-for-its-service"),
        pytest.param(
            {**LIVE_IOTPAY, "IOTPAY_API_URL": "https://api.iotpaycloud.com/v1"}, ["IOTPAY_MCH_ID"], id="iotpay-url"
        ),
        pytest.param(LIVE_STRIPE, ["STRIPE_SECRET_KEY"], id="stripe-live-key"),
        pytest.param({"STRIPE_PUBLISHABLE_KEY": "pk_live_9d1b3f5a7c2e"}, ["STRIPE_PUBLISHABLE_KEY"], id="stripe-pk"),
        pytest.param({**LIVE_IOTPAY, "IOTPAY_API_URL": "http://127.0.0.1:9/v1"}, [], id="iotpay-local-simulator"),
        pytest.param({"STRIPE_SECRET_KEY": "sk_test_4f2a9c1e7b3d5a6f8e0c2b4d"}, [], id="stripe-test-key"),
        pytest.param({}, [], id="nothing-set"),
    ],
)
def test_sandbox_mode_with_live_looking_credentials_warns_loudly_naming_them_never_their_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, settings: dict[str, str], named: list[str]
) -> None:
    caplog.set_level(logging.WARNING)

    app = create_app({"GATEWAY_SANDBOX": "1", "GATEWAY_INSTANCE_PATH": str(tmp_path), **settings})
    app.extensions["gateway"].db.dispose()

    loud = [record.getMessage() for record in caplog.records if "LIVE-LOOKING" in record.getMessage()]
    if not named:
        assert loud == []
        return
    [line] = loud
    assert all(name in line for name in named), line
    assert all(value not in line for value in settings.values())


@pytest.mark.slow
def test_sandbox_flow_under_gunicorn_as_make_run_starts_it(tmp_path: Path) -> None:
    port = free_port()
    config = {
        "GATEWAY_SANDBOX": "1",
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_INSTANCE_PATH": str(tmp_path),
    }
    migrated = flask_cli(config, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "gateway.sqlite3").exists()

    server = Gunicorn.deployed(config, port, log_path=tmp_path / "server.log")
    try:
        server.wait_until_healthy()
        run_newcomer_flow(server.url)
    finally:
        server.stop()
    assert "sandbox-key" not in server.output()  # the simulator's made-up key is still a key
