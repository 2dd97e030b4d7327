"""Junk on /notify: bounded storage per rejected request, a throttle per source, and genuine
notifies that always land, also under a junk flood from the same address (real HTTP)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from gateway_iotpay import signing
from sqlalchemy import select

from gateway.domain.notify_guard import MAX_STORED_PREFIX
from gateway.plugin.settings import ConfigError
from gateway.store.models import NotificationRecord
from gateway.testing.live import LiveServer
from tests.conftest import MCH_KEY
from tests.support.flows import create_order, pay_in_simulator, simulator_order, wait_for

FORM = "application/x-www-form-urlencoded"
FEW_KB = 4 * 1024


def records(app: Any) -> list[NotificationRecord]:
    with app.extensions["gateway"].db.transaction() as session:
        return list(session.scalars(select(NotificationRecord).order_by(NotificationRecord.id)))


def rejected(app: Any) -> list[NotificationRecord]:
    return [record for record in records(app) if record.verdict in ("bad_signature", "malformed")]


def stored_size(record: NotificationRecord) -> int:
    return sum(len(text or "") for text in (record.query_string, record.body, record.reason, record.content_type))


def junk_body(size: int, salt: str = "") -> bytes:
    filler = "x" * size
    return urlencode({"payOrderId": f"P{salt}", "amount": "1", "sign": "0" * 32, "junk": filler}).encode()


def signed_notify(simulator: Any, order: dict[str, Any]) -> dict[str, str]:
    """The notify IOTPay would send for `order`, paid at the simulator."""
    seen = simulator_order(simulator, order)
    params = {
        "payOrderId": seen["payOrderId"], "mchId": seen["mchId"], "mchOrderNo": seen["mchOrderNo"],
        "channelId": seen["channelId"], "currency": seen["currency"], "amount": str(seen["amount"]),
        "status": "2", "paySuccTime": seen.get("paySuccTime") or "1700000000000", "backType": "2",
    }  # fmt: skip
    params["sign"] = signing.sign(params, MCH_KEY)
    return params


def test_a_rejected_request_stores_its_digest_size_and_a_bounded_prefix(client: Any, app: Any) -> None:
    body = junk_body(60_000)
    query = {"q": "y" * 5000}

    response = client.post("/notify/iotpay", data=body, content_type=FORM, query_string=query)

    assert response.status_code == 400
    [record] = records(app)
    assert record.verdict == "bad_signature"
    assert stored_size(record) <= FEW_KB
    assert len(record.body) == MAX_STORED_PREFIX and body.decode().startswith(record.body)
    query_bytes = urlencode(query).encode()
    assert record.request_size == len(body) + len(query_bytes)
    assert record.body_digest == hashlib.sha256(query_bytes + b"\n" + body).hexdigest()


def test_a_source_that_keeps_sending_junk_is_throttled_but_its_genuine_notify_lands(
    app_factory: Callable[..., Any], simulator: Any
) -> None:
    app = app_factory(GATEWAY_NOTIFY_REJECTION_LIMIT="3/minute")
    client = app.test_client()
    order = create_order(client, 1000)
    pay_in_simulator(simulator, order)
    wait_for(lambda: client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "paid", what="paid")
    before = len(records(app))
    genuine = signed_notify(simulator, order)
    proxy = {"REMOTE_ADDR": "198.51.100.23"}  # junk and the genuine notify share one address (a NAT, a proxy)

    answers = [
        client.post("/notify/iotpay", data=junk_body(100, str(n)), content_type=FORM, environ_base=proxy).status_code
        for n in range(6)
    ]
    again = client.post("/notify/iotpay", data=urlencode(genuine), content_type=FORM, environ_base=proxy)
    other_source = client.post("/notify/iotpay", data=junk_body(100), content_type=FORM)

    assert answers == [400, 400, 400, 429, 429, 429]
    assert (again.status_code, again.get_data(as_text=True)) == (200, "success")  # verified before throttled
    assert other_source.status_code == 400  # another address has its own allowance
    new = records(app)[before:]
    assert [record.verdict for record in new] == ["bad_signature"] * 3 + ["duplicate", "bad_signature"]


def test_all_sources_together_store_at_most_the_budget(app_factory: Callable[..., Any]) -> None:
    app = app_factory(GATEWAY_NOTIFY_REJECTION_LIMIT="100/minute", GATEWAY_NOTIFY_REJECTION_BUDGET="4/minute")
    client = app.test_client()

    answers = [
        client.post(
            "/notify/iotpay", data=junk_body(10), content_type=FORM, environ_base={"REMOTE_ADDR": f"203.0.113.{n}"}
        ).status_code
        for n in range(10)
    ]

    assert answers == [400] * 4 + [429] * 6
    assert len(rejected(app)) == 4


@pytest.mark.parametrize("name", ["GATEWAY_NOTIFY_REJECTION_LIMIT", "GATEWAY_NOTIFY_REJECTION_BUDGET"])
def test_a_malformed_rejection_limit_stops_start_up(app_factory: Callable[..., Any], name: str) -> None:
    with pytest.raises(ConfigError) as exc_info:
        app_factory(**{name: "plenty"})
    assert exc_info.value.variable == name


# -- load: a junk flood at the same time as genuine notifies ---------------------------------------

FLOODERS = 4
JUNK_PER_FLOODER = 150
JUNK_SIZE = 32 * 1024
GENUINE = 12


def test_a_junk_flood_neither_fills_the_table_nor_loses_a_genuine_notify(
    app: Any, gateway_server: LiveServer, simulator: Any
) -> None:
    """Genuine notifies come from the simulator over HTTP, from the same address (127.0.0.1) as the flood."""
    client = app.test_client()
    orders = [create_order(client, 100 + n) for n in range(GENUINE)]
    url = f"{gateway_server.url}/notify/iotpay"
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(FLOODERS + 1)

    def flood(worker: int) -> None:
        start.wait()
        with requests.Session() as session:
            for n in range(JUNK_PER_FLOODER):
                body = junk_body(JUNK_SIZE, f"{worker}-{n}")
                answer = session.post(url, data=body, headers={"Content-Type": FORM}, timeout=30)
                with lock:
                    statuses.append(answer.status_code)

    flooders = [threading.Thread(target=flood, args=(worker,)) for worker in range(FLOODERS)]
    for thread in flooders:
        thread.start()
    start.wait()
    for order in orders:  # the payers pay while the flood runs; IOTPay notifies each payment
        pay_in_simulator(simulator, order)
    for thread in flooders:
        thread.join(120)

    for order in orders:
        wait_for(lambda o=order: client.get(f"/v1/orders/{o['id']}").get_json()["status"] == "paid", what="paid")
        attempts = simulator_order(simulator, order)["notifyAttempts"]
        # Never refused, not even once: the first notify of each payment was acknowledged.
        assert attempts[0]["httpStatus"] == 200 and attempts[0]["body"] == "success", attempts

    junk_sent = FLOODERS * JUNK_PER_FLOODER
    assert len(statuses) == junk_sent and set(statuses) <= {400, 429}
    stored = rejected(app)
    # 20 a minute per source (default); a fixed window may let two windows' worth through.
    assert len(stored) <= 2 * 20
    assert statuses.count(429) >= junk_sent - 2 * 20
    assert sum(stored_size(record) for record in stored) <= len(stored) * FEW_KB
    assert len([record for record in records(app) if record.verdict == "applied"]) == GENUINE
