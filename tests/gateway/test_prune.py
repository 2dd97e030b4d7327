"""`gateway prune`: old audit rows go, in batches; orders, refunds and whatever an open order needs stay.

Every row here comes from a real flow (orders over the API, notifies from the simulator, webhooks
delivered to a receiver over HTTP); prune is then run as if `days` had passed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.domain import webhooks
from gateway.domain.prune import TABLES, prune
from gateway.plugin import clock
from gateway.store.models import (
    IdempotencyKey,
    NotificationRecord,
    Order,
    OutboxEvent,
    ProviderCall,
    Refund,
    WebhookDelivery,
)
from gateway.testing.live import LiveServer
from tests.support.flows import order_with, paid_with

SECRET = "prune-webhook-secret-0123456789"


class Receiver:
    """A merchant's webhook endpoint that accepts, or refuses with a 500, every event."""

    def __init__(self) -> None:
        self.status = "200 OK"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response(self.status, [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, LiveServer]]:
    endpoint = Receiver()
    server = LiveServer(endpoint)
    yield endpoint, server
    server.stop()


@pytest.fixture
def prune_app(neutral_factory: Callable[..., Any], receiver: tuple[Receiver, LiveServer]) -> Any:
    return neutral_factory(
        GATEWAY_WEBHOOK_URL=f"{receiver[1].url}/hooks", GATEWAY_WEBHOOK_SECRET=SECRET, EXAMPLE_TIMEOUT="0.5"
    )


def deliver(app: Any) -> webhooks.DeliveryReport:
    gateway = app.extensions["gateway"]
    return webhooks.deliver_due(gateway.db, gateway.settings)


def counts(app: Any) -> dict[str, int]:
    models = {
        "orders": Order,
        "refunds": Refund,
        "notifications": NotificationRecord,
        "provider_calls": ProviderCall,
        "outbox_events": OutboxEvent,
        "webhook_deliveries": WebhookDelivery,
        "idempotency_keys": IdempotencyKey,
    }
    with app.extensions["gateway"].db.transaction() as session:
        return {name: session.scalar(select(func.count()).select_from(model)) or 0 for name, model in models.items()}


def later(days: int) -> Any:
    return clock.utcnow() + timedelta(days=days)


def test_old_audit_rows_of_settled_orders_go_and_orders_and_refunds_stay(prune_app: Any, neutral_provider: Any) -> None:
    client = prune_app.test_client()
    order = paid_with(client, neutral_provider, 1000)
    refunded = client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 300}, headers={"Idempotency-Key": "r1"})
    assert refunded.status_code == 201 and refunded.get_json()["status"] == "succeeded"
    assert deliver(prune_app).delivered == 2  # order.paid, refund.succeeded
    before = counts(prune_app)
    assert min(before.values()) >= 1, before

    report = prune(prune_app.extensions["gateway"].db, timedelta(days=30), now=later(31))

    after = counts(prune_app)
    assert report.counts == {
        "notifications": before["notifications"],
        "provider_calls": before["provider_calls"],
        "outbox_events": 2,
        "webhook_deliveries": 2,
        "idempotency_keys": before["idempotency_keys"],
    }
    assert after == {**dict.fromkeys(TABLES, 0), "orders": 1, "refunds": 1}
    assert client.get(f"/v1/orders/{order['id']}").get_json()["refunded_amount"] == 300


def test_rows_younger_than_the_cut_off_stay(prune_app: Any, neutral_provider: Any) -> None:
    paid_with(prune_app.test_client(), neutral_provider, 1000)
    deliver(prune_app)
    before = counts(prune_app)

    report = prune(prune_app.extensions["gateway"].db, timedelta(days=30), now=later(29))

    assert set(report.counts.values()) == {0}
    assert counts(prune_app) == before


def test_everything_an_open_order_needs_stays(
    prune_app: Any, neutral_provider: Any, receiver: tuple[Receiver, LiveServer]
) -> None:
    client = prune_app.test_client()
    pending = order_with(client, neutral_provider, 500)  # never paid: reconciliation still queries it
    with_unknown_refund = paid_with(client, neutral_provider, 1000)
    neutral_provider.garble_next("refund", "http_500")
    unclear = client.post(
        f"/v1/orders/{with_unknown_refund['id']}/refunds", json={"amount": 400}, headers={"Idempotency-Key": "r2"}
    )
    assert unclear.get_json()["error"] == "provider_outcome_unknown"
    receiver[0].status = "500 Internal Server Error"
    failing = paid_with(client, neutral_provider, 700)  # its order.paid is refused by the receiver
    report = deliver(prune_app)
    assert report.delivered == 0 and report.failed >= 2
    db = prune_app.extensions["gateway"].db
    before = counts(prune_app)

    pruned = prune(db, timedelta(days=30), now=later(31))

    assert pruned.counts["outbox_events"] == pruned.counts["webhook_deliveries"] == 0
    with db.transaction() as session:
        kept_calls = set(session.scalars(select(ProviderCall.merchant_order_no)))
        kept_notifies = set(session.scalars(select(NotificationRecord.order_id)))
        undelivered = session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.delivered_at.is_(None))
        )
    assert {pending["merchant_order_no"], with_unknown_refund["merchant_order_no"], failing["merchant_order_no"]} <= (
        kept_calls
    )
    assert {with_unknown_refund["id"], failing["id"]} <= kept_notifies
    assert undelivered == before["outbox_events"]
    assert counts(prune_app)["webhook_deliveries"] == before["webhook_deliveries"]


def test_a_dry_run_counts_what_a_run_deletes_and_deletes_nothing(prune_app: Any, neutral_provider: Any) -> None:
    client = prune_app.test_client()
    for amount in (100, 200, 300):
        paid_with(client, neutral_provider, amount)
    deliver(prune_app)
    db = prune_app.extensions["gateway"].db
    before = counts(prune_app)

    dry = prune(db, timedelta(days=7), dry_run=True, now=later(8))

    assert counts(prune_app) == before
    assert dry.as_dict()["dry_run"] is True and dry.counts["outbox_events"] == 3
    real = prune(db, timedelta(days=7), batch_size=1, now=later(8))  # one row per transaction
    assert real.counts == dry.counts
    assert real.as_dict()["deleted"] == dry.as_dict()["would_delete"]


def test_the_command_prints_counts_per_table_and_refuses_a_cut_off_under_a_day(
    prune_app: Any, neutral_provider: Any
) -> None:
    paid_with(prune_app.test_client(), neutral_provider, 100)
    runner = prune_app.test_cli_runner()

    dry = runner.invoke(args=["gateway", "prune", "--older-than", "1", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    answer = json.loads(dry.stdout)
    assert answer["dry_run"] is True and answer["older_than_days"] == 1
    assert list(answer["would_delete"]) == list(TABLES)  # nothing is older than a day yet
    refused = runner.invoke(args=["gateway", "prune", "--older-than", "0"])
    assert refused.exit_code == 2 and refused.stderr.startswith("Error: ") and len(refused.stderr.splitlines()) == 1
    bad_batch = runner.invoke(args=["gateway", "prune", "--older-than", "30", "--batch-size", "0"])
    assert bad_batch.exit_code == 2
