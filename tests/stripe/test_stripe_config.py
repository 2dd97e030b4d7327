"""STRIPE_* configuration: disabled, complete, partial or wrong (named, never shown), and sandbox mode."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from gateway_stripe.config import (
    DEFAULT_API_URL,
    DEFAULT_TIMEOUT,
    SANDBOX_SECRET_KEY,
    SANDBOX_WEBHOOK_SECRET,
    load_config,
)

from gateway import create_app
from gateway.plugin import ConfigError, Settings
from gateway.store import migrate
from gateway.testing.live import LiveServer
from tests.stripe.conftest import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET, stripe_settings
from tests.support.flows import new_key, wait_for
from tests.support.processes import Gunicorn, flask_cli, free_port

COMPLETE = {
    "STRIPE_SECRET_KEY": SECRET_KEY,
    "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
}
LIVE_SECRET = "sk_live_51GwTestOnlyLiveKey0000000000000000"


def settings(**values: str) -> Settings:
    return Settings(values=values, instance_path="/nonexistent")


def test_nothing_set_means_disabled() -> None:
    assert load_config(settings()) is None
    assert load_config(settings(STRIPE_SECRET_KEY="  ")) is None  # blank counts as unset


def test_three_keys_are_enough_and_the_rest_has_defaults() -> None:
    config = load_config(settings(**COMPLETE))
    assert config is not None
    assert (config.api_url, config.timeout, config.live, config.sandbox) == (
        DEFAULT_API_URL,
        DEFAULT_TIMEOUT,
        False,
        False,
    )
    assert config.secret_key == SECRET_KEY and config.webhook_secret == WEBHOOK_SECRET
    assert SECRET_KEY not in repr(config) and WEBHOOK_SECRET not in repr(config) and "test" in repr(config)


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"STRIPE_SECRET_KEY": SECRET_KEY}, "STRIPE_PUBLISHABLE_KEY"),
        ({"STRIPE_API_URL": "https://api.stripe.com"}, "STRIPE_SECRET_KEY"),
        ({"STRIPE_TIMEOUT": "5"}, "STRIPE_SECRET_KEY"),
        ({**COMPLETE, "STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET"),
        ({**COMPLETE, "STRIPE_SECRET_KEY": PUBLISHABLE_KEY}, "STRIPE_SECRET_KEY"),
        ({**COMPLETE, "STRIPE_SECRET_KEY": "not-a-stripe-key"}, "STRIPE_SECRET_KEY"),
        ({**COMPLETE, "STRIPE_PUBLISHABLE_KEY": SECRET_KEY}, "STRIPE_PUBLISHABLE_KEY"),
        ({**COMPLETE, "STRIPE_SECRET_KEY": LIVE_SECRET}, "STRIPE_PUBLISHABLE_KEY"),  # live key beside a test key
        ({**COMPLETE, "STRIPE_WEBHOOK_SECRET": SECRET_KEY}, "STRIPE_WEBHOOK_SECRET"),
        ({**COMPLETE, "STRIPE_API_URL": "ftp://api.stripe.com"}, "STRIPE_API_URL"),
        ({**COMPLETE, "STRIPE_API_URL": "https://api.stripe.com/v1"}, "STRIPE_API_URL"),
        ({**COMPLETE, "STRIPE_TIMEOUT": "soon"}, "STRIPE_TIMEOUT"),
        ({**COMPLETE, "STRIPE_TIMEOUT": "0"}, "STRIPE_TIMEOUT"),
    ],
    ids=["only-secret", "only-url", "only-timeout", "blank-webhook-secret", "publishable-as-secret", "not-a-key",
         "secret-as-publishable", "live-and-test", "secret-as-webhook-secret", "ftp", "v1-suffix", "timeout-text",
         "timeout-zero"],
)  # fmt: skip
def test_partial_or_wrong_configuration_names_the_variable_and_never_a_value(
    values: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(settings(**values))
    assert refused.value.variable == variable
    for secret in (SECRET_KEY, WEBHOOK_SECRET, LIVE_SECRET, PUBLISHABLE_KEY):
        assert secret not in str(refused.value) and secret not in repr(refused.value)


def test_the_app_logs_stripe_disabled_or_refuses_to_start(app_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    app = app_factory()
    assert [p["name"] for p in app.test_client().get("/v1/providers").get_json()] == ["iotpay"]
    assert any(r.getMessage() == "stripe: disabled (no STRIPE_* variables set)" for r in caplog.records)
    with pytest.raises(ConfigError) as refused:
        app_factory(STRIPE_SECRET_KEY=SECRET_KEY)
    assert refused.value.variable == "STRIPE_PUBLISHABLE_KEY" and SECRET_KEY not in caplog.text


def test_enabled_stripe_logs_where_its_webhook_endpoint_must_point(
    app_factory: Any, gateway_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app_factory(**stripe_settings("https://api.stripe.com"))
    assert f"{gateway_server.url}/notify/stripe" in caplog.text
    assert SECRET_KEY not in caplog.text and WEBHOOK_SECRET not in caplog.text


# -- sandbox mode ------------------------------------------------------------------------------


@pytest.fixture
def sandbox_url(tmp_path: Path) -> Iterator[str]:
    server = LiveServer()
    app = create_app(
        {
            "GATEWAY_SANDBOX": "1",
            "GATEWAY_PUBLIC_URL": server.url,
            "GATEWAY_INSTANCE_PATH": str(tmp_path),
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
            "STRIPE_SECRET_KEY": SECRET_KEY,  # ignored: the sandbox uses its own made-up keys
        }
    )
    migrate.upgrade(app.extensions["gateway"].db.url)
    server.app = app
    yield server.url
    server.stop()
    app.extensions["gateway"].db.dispose()


def run_stripe_sandbox_flow(sandbox_url: str) -> None:
    providers = requests.get(f"{sandbox_url}/v1/providers", timeout=10).json()
    assert sorted((p["name"], p["sandbox"]) for p in providers) == [("iotpay", True), ("stripe", True)]
    created = requests.post(
        f"{sandbox_url}/v1/orders",
        json={"provider": "stripe", "channel": "wechat_pay", "amount": 2856, "currency": "CAD", "subject": "Coffee",
              "body": "1kg"},
        timeout=30,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["pay_params"]["publishable_key"].startswith("pk_test_sandbox")
    paid = requests.post(
        f"{sandbox_url}/sandbox/stripe/test/pay", json={"payment_intent": order["provider_order_id"]}, timeout=10
    )
    assert paid.status_code == 202, paid.text

    def is_paid() -> dict[str, Any] | None:
        current: dict[str, Any] = requests.get(f"{sandbox_url}/v1/orders/{order['id']}", timeout=10).json()
        return current if current["status"] == "paid" else None

    wait_for(is_paid, what="the sandbox order to be paid")
    refund = requests.post(
        f"{sandbox_url}/v1/orders/{order['id']}/refunds", json={"amount": 856}, headers=new_key(), timeout=30
    )
    assert refund.status_code == 201 and refund.json()["status"] == "succeeded", refund.text
    shown = requests.get(f"{sandbox_url}/sandbox/stripe/test/payment_intents/{order['provider_order_id']}", timeout=10)
    assert [r["amount"] for r in shown.json()["refunds"]] == [856]


def test_sandbox_mode_pays_a_stripe_order_through_the_mounted_simulator(sandbox_url: str) -> None:
    run_stripe_sandbox_flow(sandbox_url)


@pytest.mark.slow
def test_sandbox_flow_served_with_workers_sharing_the_simulator_state(tmp_path: Path) -> None:
    port = free_port()
    config = {
        "GATEWAY_SANDBOX": "1",
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_INSTANCE_PATH": str(tmp_path),
        "GATEWAY_WORKERS": "3",
    }
    migrated = flask_cli(config, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    server = Gunicorn.deployed(config, port, log_path=tmp_path / "server.log")
    try:
        server.wait_until_healthy()
        run_stripe_sandbox_flow(server.url)
    finally:
        server.stop()
    output = server.output()
    assert SANDBOX_SECRET_KEY not in output and SANDBOX_WEBHOOK_SECRET not in output
