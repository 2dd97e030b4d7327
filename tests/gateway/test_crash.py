"""A worker killed between the provider call and the commit leaves nothing half-written.

The refund row is committed as `pending` before the provider is called, so a SIGKILL while the
provider is working leaves a reserved, unsettled refund, never a refunded order without its refund
or a refund that nobody will finish. Reconciliation then retries with the same refund id, and the
provider (Example Pay, examples/) ends up with exactly one refund.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from gateway.plugin.clock import utcnow
from gateway.store.models import Order, OutboxEvent, Refund
from gateway.testing import ProviderHarness
from tests.gateway.conftest import EXAMPLE, neutral_settings
from tests.support.flows import new_key, wait_for
from tests.support.keys import AUTH
from tests.support.processes import Gunicorn, flask_cli, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def server_config(database_url: str, neutral_provider: ProviderHarness, tmp_path: Path) -> dict[str, str]:
    port = free_port()
    return {
        **neutral_settings(neutral_provider, f"http://127.0.0.1:{port}"),
        "PYTHONPATH": str(EXAMPLE),  # Example Pay is loaded by module path, not installed
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_INSTANCE_PATH": str(tmp_path),
        "GATEWAY_BIND": f"127.0.0.1:{port}",
        "EXAMPLE_TIMEOUT": "10",
    }


@pytest.fixture
def served(server_config: dict[str, str], tmp_path: Path) -> Iterator[Gunicorn]:
    port = int(server_config["GATEWAY_BIND"].rsplit(":", 1)[1])
    server = Gunicorn.deployed(server_config, port, workers=1, log_path=tmp_path / "server.log")
    try:
        server.wait_until_healthy()
        yield server
    finally:
        server.stop()


def stored(database_url: str, model: Any, row_id: str) -> Any:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return session.get(model, row_id)
    finally:
        engine.dispose()


def test_worker_killed_mid_refund_leaves_a_pending_refund_that_reconcile_settles_once(
    served: Gunicorn, server_config: dict[str, str], database_url: str, neutral_provider: Any,
    neutral_order: dict[str, Any],
) -> None:  # fmt: skip
    created = requests.post(
        f"{served.url}/v1/orders",
        json={**neutral_order, "amount": 1000},
        headers=AUTH,
        timeout=30,
    )
    order = created.json()
    neutral_provider.pay(order)
    wait_for(
        lambda: (
            requests.get(f"{served.url}/v1/orders/{order['id']}", headers=AUTH, timeout=5).json()["status"] == "paid"
        )
    )
    neutral_provider.delay_next("refund", 2)

    outcome: list[Any] = []
    request = threading.Thread(
        target=lambda: outcome.append(
            _post_quietly(f"{served.url}/v1/orders/{order['id']}/refunds", {"amount": 400}, {**new_key(), **AUTH})
        )
    )
    request.start()
    refund = wait_for(lambda: _refund_row(database_url, order["id"]), what="the refund row")
    # Kill only once the provider is working on the refund (its delay fault taken): between its call and the commit.
    wait_for(lambda: not neutral_provider.simulator.faults.is_armed("refund"), what="the provider's call")
    assert served.kill_workers()
    request.join(15)

    assert isinstance(outcome[0], requests.RequestException)  # the caller never heard back
    wait_for(lambda: neutral_provider.refunded_amount(order) == 400, what="the provider to refund")
    # What the crash left: a reserved, unsettled refund and an order still merely paid.
    assert stored(database_url, Refund, refund.id).status == "pending"
    left = stored(database_url, Order, order["id"])
    assert (left.status, left.refunded_amount) == ("paid", 0)
    assert not _events(database_url, "refund.succeeded")

    # While a call for it may still be running, reconcile leaves the refund alone (its lease)...
    early = flask_cli(server_config, "gateway", "reconcile", "--older-than", "0")
    assert early.returncode == 0, early.stderr
    assert stored(database_url, Refund, refund.id).status == "pending"
    # ...and once the lease has run out (15 minutes; moved here rather than waited for), settles it.
    _expire_lease(database_url, refund.id)
    reconciled = flask_cli(server_config, "gateway", "reconcile", "--older-than", "0")

    assert reconciled.returncode == 0, reconciled.stderr
    assert json.loads(reconciled.stdout.strip().splitlines()[-1])["refunds_succeeded"] == 1
    assert stored(database_url, Refund, refund.id).status == "succeeded"
    settled = stored(database_url, Order, order["id"])
    assert (settled.status, settled.refunded_amount) == ("partially_refunded", 400)
    assert neutral_provider.refunded_amount(order) == 400  # one refund at the provider, not two
    assert len(_events(database_url, "refund.succeeded")) == 1


def _expire_lease(database_url: str, refund_id: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                update(Refund).where(Refund.id == refund_id).values(claimed_until=utcnow() - timedelta(seconds=1))
            )
    finally:
        engine.dispose()


def _post_quietly(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    try:
        return requests.post(url, json=body, headers=headers, timeout=15)
    except requests.RequestException as exc:
        return exc


def _refund_row(database_url: str, order_id: str) -> Refund | None:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return session.scalar(select(Refund).where(Refund.order_id == order_id))
    finally:
        engine.dispose()


def _events(database_url: str, event_type: str) -> list[OutboxEvent]:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(OutboxEvent).where(OutboxEvent.type == event_type)))
    finally:
        engine.dispose()
