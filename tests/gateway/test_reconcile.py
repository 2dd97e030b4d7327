"""Lost notifies, `?refresh=true`, expiry and `flask gateway reconcile`, against the simulator of
Example Pay (examples/), a provider that belongs to no one."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway import create_app
from gateway.domain.reconcile import reconcile
from gateway.plugin.clock import utcnow
from gateway.store.models import OutboxEvent
from tests.conftest import gateway_config
from tests.gateway.conftest import NEUTRAL_NAME
from tests.support.flows import order_with, wait_for
from tests.support.plugins import all_plugins_but

pytestmark = pytest.mark.neutral


def dead_url() -> str:
    """A loopback URL nobody listens on: notifies sent there are lost."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def lost_notify_app(app_factory: Callable[..., Any]) -> Any:
    """The gateway tells the provider a notify URL that goes nowhere, so every notify is lost."""
    return app_factory(GATEWAY_PUBLIC_URL=dead_url())


def events(app: Any, event_type: str) -> list[OutboxEvent]:
    with app.extensions["gateway"].db.transaction() as session:
        return list(session.scalars(select(OutboxEvent).where(OutboxEvent.type == event_type)))


def pay_and_lose_the_notify(client: Any, provider: Any) -> dict[str, Any]:
    order = order_with(client, provider, 1000)
    provider.pay_without_notifying(order)  # paid at the provider; its notification never arrives
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"
    return order


def test_refresh_asks_the_provider_and_settles_a_lost_notify_once(lost_notify_app: Any, neutral_provider: Any) -> None:
    client = lost_notify_app.test_client()
    order = pay_and_lose_the_notify(client, neutral_provider)

    refreshed = client.get(f"/v1/orders/{order['id']}?refresh=true").get_json()
    again = client.get(f"/v1/orders/{order['id']}?refresh=true").get_json()

    assert refreshed["status"] == again["status"] == "paid"
    assert refreshed["paid_at"] is not None
    assert len(events(lost_notify_app, "order.paid")) == 1


def test_a_late_notify_after_refresh_is_a_duplicate(lost_notify_app: Any, neutral_provider: Any) -> None:
    client = lost_notify_app.test_client()
    order = pay_and_lose_the_notify(client, neutral_provider)
    client.get(f"/v1/orders/{order['id']}?refresh=true")
    late = neutral_provider.paid_notification(order)

    response = client.post(f"/notify/{neutral_provider.provider_name}", data=late.body, headers=dict(late.headers))

    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(events(lost_notify_app, "order.paid")) == 1


def test_refresh_of_an_unpaid_order_leaves_it_pending(client: Any, neutral_provider: Any) -> None:
    order = order_with(client, neutral_provider, 1000)
    assert client.get(f"/v1/orders/{order['id']}?refresh=true").get_json()["status"] == "pending"


def test_refresh_time_out_is_a_504_and_changes_nothing(app_factory: Callable[..., Any], neutral_provider: Any) -> None:
    client = app_factory(**neutral_provider.timeout_settings(0.5)).test_client()
    order = order_with(client, neutral_provider, 1000)
    neutral_provider.delay_next("query_order", 1.5)
    response = client.get(f"/v1/orders/{order['id']}?refresh=true")
    assert (response.status_code, response.get_json()["error"]) == (504, "provider_timeout")
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"


def test_reconcile_settles_lost_notifies_and_leaves_young_orders_alone(
    lost_notify_app: Any, neutral_provider: Any
) -> None:
    client = lost_notify_app.test_client()
    order = pay_and_lose_the_notify(client, neutral_provider)
    runner = lost_notify_app.test_cli_runner()

    young = runner.invoke(args=["gateway", "reconcile"])  # default: only orders older than 300 s
    assert young.exit_code == 0, young.output
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"

    settled = runner.invoke(args=["gateway", "reconcile", "--older-than", "0"])
    assert settled.exit_code == 0, settled.output
    assert json.loads(settled.output)["orders_paid"] == 1
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "paid"
    assert len(events(lost_notify_app, "order.paid")) == 1


def test_unpaid_orders_past_expiry_expire_and_a_late_payment_still_counts(
    app_factory: Callable[..., Any], neutral_provider: Any
) -> None:
    app = app_factory(GATEWAY_ORDER_EXPIRY="60")
    client = app.test_client()
    order = order_with(client, neutral_provider, 1000)
    gateway = app.extensions["gateway"]

    assert reconcile(gateway, timedelta(0))["orders_still_open"] == 1  # not yet expired
    outcome = reconcile(gateway, timedelta(0), now=utcnow() + timedelta(seconds=61))

    assert outcome["orders_expired"] == 1
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "expired"
    assert len(events(app, "order.expired")) == 1

    neutral_provider.pay(order)  # the payer paid anyway: money moved, so it is recorded
    late = wait_for(lambda: (o := client.get(f"/v1/orders/{order['id']}").get_json())["status"] == "paid" and o)
    assert late["paid_after_expiry"] is True
    assert len(events(app, "order.paid")) == 1


def test_an_order_the_provider_never_created_expires(app_factory: Callable[..., Any], neutral_provider: Any) -> None:
    app = app_factory(GATEWAY_ORDER_EXPIRY="60", **neutral_provider.timeout_settings(0.5))
    client = app.test_client()
    neutral_provider.garble_next("create_order", "http_500")  # it did nothing, but the gateway cannot know
    response = client.post(
        "/v1/orders", json={"channel": "wallet", "amount": 5, "currency": "USD", "subject": "s", "body": "b"}
    )
    assert response.status_code == 502
    order_id = response.get_json()["order_id"]

    outcome = reconcile(app.extensions["gateway"], timedelta(0), now=utcnow() + timedelta(seconds=61))

    assert outcome["orders_expired"] == 1
    assert client.get(f"/v1/orders/{order_id}").get_json()["status"] == "expired"


def test_overlapping_reconcile_runs_never_work_on_the_same_order(lost_notify_app: Any, neutral_provider: Any) -> None:
    client = lost_notify_app.test_client()
    orders = [pay_and_lose_the_notify(client, neutral_provider) for _ in range(6)]
    gateway = lost_notify_app.extensions["gateway"]
    provider = gateway.providers[NEUTRAL_NAME]
    queried: list[str] = []
    real_query = provider.query_order

    def counting_query(ref: Any) -> Any:
        queried.append(ref.merchant_order_no)
        return real_query(ref)

    provider.query_order = counting_query  # a spy that still calls the simulator for real
    barrier = threading.Barrier(3)
    outcomes: list[Any] = []

    def run() -> None:
        barrier.wait()
        outcomes.append(reconcile(gateway, timedelta(0)))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(queried) == sorted(o["merchant_order_no"] for o in orders)  # each exactly once
    assert sum(outcome["orders_paid"] for outcome in outcomes) == 6
    assert len(events(lost_notify_app, "order.paid")) == 6


def test_an_unclear_query_answer_never_expires_an_order(
    app_factory: Callable[..., Any],
    neutral_provider: Any,
) -> None:
    """The provider answering HTML or a 5xx says nothing about the order: it might well be paid."""
    app = app_factory(GATEWAY_ORDER_EXPIRY="60", GATEWAY_PUBLIC_URL=dead_url())
    client = app.test_client()
    order = pay_and_lose_the_notify(client, neutral_provider)
    neutral_provider.garble_next("query_order", "http_500")

    outcome = reconcile(app.extensions["gateway"], timedelta(0), now=utcnow() + timedelta(seconds=61))

    assert outcome["orders_query_failed"] == 1
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"
    assert not events(app, "order.expired")


def test_a_late_payment_whose_notifies_were_lost_is_found_after_expiry(
    app_factory: Callable[..., Any], neutral_provider: Any
) -> None:
    app = app_factory(GATEWAY_ORDER_EXPIRY="60", GATEWAY_PUBLIC_URL=dead_url())
    client = app.test_client()
    gateway = app.extensions["gateway"]
    order = order_with(client, neutral_provider, 1000)
    assert reconcile(gateway, timedelta(0), now=utcnow() + timedelta(seconds=61))["orders_expired"] == 1

    neutral_provider.pay_without_notifying(order)  # paid after expiry; its notify goes nowhere
    outcome = reconcile(gateway, timedelta(0), now=utcnow() + timedelta(seconds=120))

    assert outcome["orders_paid"] == 1
    late = client.get(f"/v1/orders/{order['id']}").get_json()
    assert (late["status"], late["paid_after_expiry"]) == ("paid", True)


def test_a_row_that_fails_does_not_stop_the_run(lost_notify_app: Any, neutral_provider: Any, monkeypatch: Any) -> None:
    client = lost_notify_app.test_client()
    first, second = (pay_and_lose_the_notify(client, neutral_provider) for _ in range(2))
    provider = lost_notify_app.extensions["gateway"].providers[NEUTRAL_NAME]
    real_query = provider.query_order

    def broken_for_the_first(ref: Any) -> Any:
        if ref.merchant_order_no == first["merchant_order_no"]:
            raise KeyError("a bug in one row")
        return real_query(ref)

    monkeypatch.setattr(provider, "query_order", broken_for_the_first)
    outcome = reconcile(lost_notify_app.extensions["gateway"], timedelta(0))

    assert (outcome["orders_errors"], outcome["orders_paid"]) == (1, 1)
    assert client.get(f"/v1/orders/{second['id']}").get_json()["status"] == "paid"
    monkeypatch.setattr(provider, "query_order", real_query)
    # Released, not left leased: the next run settles it.
    assert reconcile(lost_notify_app.extensions["gateway"], timedelta(0))["orders_paid"] == 1


def test_a_refused_query_never_expires_an_order_and_an_operator_hears_of_it(
    app_factory: Callable[..., Any], neutral_provider: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A refusal of the *query* says nothing about the order, which was paid."""
    app = app_factory(GATEWAY_ORDER_EXPIRY="60", GATEWAY_PUBLIC_URL=dead_url())
    client = app.test_client()
    order = pay_and_lose_the_notify(client, neutral_provider)
    neutral_provider.fail_next("query_order")
    gateway = app.extensions["gateway"]

    outcome = reconcile(gateway, timedelta(0), now=utcnow() + timedelta(seconds=61))

    assert outcome["orders_query_failed"] == 1
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"
    assert not events(app, "order.expired")
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert any("refused the query" in error and "simulated_refusal" in error for error in errors), errors
    # Once the cause is fixed, the next run finds the payment.
    assert reconcile(gateway, timedelta(0), now=utcnow() + timedelta(seconds=62))["orders_paid"] == 1


def test_an_order_of_a_provider_no_longer_enabled_is_never_expired_unasked(
    app_factory: Callable[..., Any], neutral_provider: Any, database_url: str, tmp_path: Path
) -> None:
    """Nobody can say whether it was paid: a provider left out of the configuration is not "no such order"."""
    app = app_factory(GATEWAY_ORDER_EXPIRY="60", GATEWAY_PUBLIC_URL=dead_url())
    order = pay_and_lose_the_notify(app.test_client(), neutral_provider)
    config = gateway_config(database_url, dead_url(), dead_url(), tmp_path / "instance", GATEWAY_ORDER_EXPIRY="60")
    without_it = create_app({**config, "GATEWAY_DISABLED_PLUGINS": all_plugins_but()})  # Example Pay not loaded
    assert NEUTRAL_NAME not in without_it.extensions["gateway"].providers

    outcome = reconcile(without_it.extensions["gateway"], timedelta(0), now=utcnow() + timedelta(seconds=61))

    assert outcome["orders_expired"] == 0
    assert client_status(app, order) == "pending"
    assert not events(app, "order.expired")
    without_it.extensions["gateway"].db.dispose()


def client_status(app: Any, order: dict[str, Any]) -> str:
    status: str = app.test_client().get(f"/v1/orders/{order['id']}").get_json()["status"]
    return status


def test_refresh_of_an_order_whose_create_answer_was_lost_shows_the_providers_order(
    app_factory: Callable[..., Any], neutral_provider: Any
) -> None:
    app = app_factory(**neutral_provider.timeout_settings(0.5))
    neutral_provider.delay_next("create_order", 1)  # made at the provider, its answer lost to the time-out
    client = app.test_client()
    fields = {"channel": neutral_provider.channel, "currency": neutral_provider.currency, "amount": 1000}
    created = client.post("/v1/orders", json={**fields, "subject": "Tea", "body": "Green"})
    assert created.status_code == 504
    order_id = created.get_json()["order_id"]

    def refreshed() -> dict[str, Any] | None:
        answer = client.get(f"/v1/orders/{order_id}?refresh=true")
        return answer.get_json() if answer.status_code == 200 else None

    found = wait_for(lambda: (shown := refreshed()) and shown["provider_order_id"] and shown, 5, "the provider's id")

    assert found["status"] == "pending" and found["provider_order_id"].startswith("pay_")
    late = neutral_provider.paid_notification(found)
    assert client.post(f"/notify/{NEUTRAL_NAME}", data=late.body, headers=dict(late.headers)).status_code == 200
    assert client.get(f"/v1/orders/{order_id}").get_json()["status"] == "paid"


@pytest.mark.parametrize("answer", ["paid", "closed"])
def test_a_query_answer_about_another_order_neither_pays_nor_expires_the_order(
    lost_notify_app: Any, neutral_provider: Any, monkeypatch: Any, answer: str
) -> None:
    """A plugin that reads the provider's answer about another order (one whose provider id it leaves out,
    as after a lost create answer) as the order asked about: the core compares the reference itself."""
    client = lost_notify_app.test_client()
    gateway = lost_notify_app.extensions["gateway"]
    asked, other = order_with(client, neutral_provider, 1000), pay_and_lose_the_notify(client, neutral_provider)
    provider = gateway.providers[NEUTRAL_NAME]
    real_query = provider.query_order

    def misdirected(ref: Any) -> Any:
        if ref.merchant_order_no != asked["merchant_order_no"]:
            return real_query(ref)
        other_ref = dataclasses.replace(
            ref, merchant_order_no=other["merchant_order_no"], provider_order_id=other["provider_order_id"]
        )
        about_other = real_query(other_ref)
        assert about_other.paid
        if answer == "closed":
            about_other = dataclasses.replace(about_other, paid=False, cancelled=True)
        return dataclasses.replace(about_other, provider_order_id=None)

    monkeypatch.setattr(provider, "query_order", misdirected)
    refreshed = client.get(f"/v1/orders/{asked['id']}?refresh=true")
    outcome = reconcile(gateway, timedelta(0), now=utcnow() + timedelta(days=2))  # long past its expiry

    assert refreshed.status_code == 502, refreshed.get_json()
    assert refreshed.get_json()["provider_error"]["code"] == "answer_about_another_order"
    assert outcome["orders_query_failed"] >= 1
    assert client.get(f"/v1/orders/{asked['id']}").get_json()["status"] == "pending"
    assert not events(lost_notify_app, "order.expired")
    assert client.get(f"/v1/orders/{other['id']}").get_json()["status"] == "paid"  # asked about, and answered
