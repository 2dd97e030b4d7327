"""Notifies confirmed by the provider's query before they move money (ProviderInfo.confirm_notifications).

IOTPay declares it unless IOTPAY_CONFIRM_NOTIFY_BY_QUERY=0. Payments here are taken by the IOTPay
simulator, which then answers query_order as IOTPay would; its faults make the query unclear or
late. Seen from outside: the reply IOTPay gets, the order, the `notifications` rows, the
`order.paid` events, the simulator's own record of its notify attempts, and the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from gateway_iotpay import signing
from sqlalchemy import select

from gateway.domain.plugin_manager import provider_problem
from gateway.plugin.provider import (
    Acknowledgement,
    CreatedOrder,
    InboundRequest,
    Notification,
    OrderRequest,
    Provider,
    ProviderInfo,
    Verdict,
)
from gateway.store.models import NotificationRecord, OutboxEvent, ProviderCall
from tests.conftest import MCH_ID, MCH_KEY
from tests.support.flows import wait_for


@pytest.fixture
def paid_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "paid.log"
    monkeypatch.setenv("PAID_LOG_PATH", str(path))
    return path


@pytest.fixture
def app(app_factory: Callable[..., Any], paid_log: Path) -> Any:
    return app_factory(GATEWAY_PLUGINS="tests.support.paid_log")


def create(client: Any) -> dict[str, Any]:
    payload = {"channel": "WX_APP", "amount": 2856, "currency": "CAD", "subject": "Coffee", "body": "1kg"}
    response = client.post("/v1/orders", json=payload)
    assert response.status_code == 201, response.get_json()
    order: dict[str, Any] = response.get_json()
    return order


def signed_notify(order: dict[str, Any]) -> dict[str, str]:
    """A paid notify for `order`, signed with the merchant key: what IOTPay sends, or what anyone who
    can make the MD5 signature (the key leaked, or the hash broken) could send."""
    fields = {
        "payOrderId": order["provider_order_id"], "mchId": MCH_ID, "mchOrderNo": order["merchant_order_no"],
        "channelId": order["channel"], "currency": order["currency"], "amount": str(order["amount"]),
        "status": "2", "backType": "2", "subject": "Coffee", "body": "1kg",
    }  # fmt: skip
    return {**fields, "sign": signing.sign(fields, MCH_KEY)}


def send(client: Any, params: dict[str, str]) -> tuple[int, str]:
    response = client.post(f"/notify/iotpay?{urlencode(params)}")
    return response.status_code, response.get_data(as_text=True)


def records(app: Any) -> list[tuple[str, str | None]]:
    with app.extensions["gateway"].db.transaction() as session:
        rows = session.execute(
            select(NotificationRecord.verdict, NotificationRecord.reason).order_by(NotificationRecord.id)
        )
        return [(verdict, reason) for verdict, reason in rows]


def paid_events(app: Any) -> list[str]:
    with app.extensions["gateway"].db.transaction() as session:
        return [str(i) for i in session.scalars(select(OutboxEvent.order_id).where(OutboxEvent.type == "order.paid"))]


def query_calls(app: Any) -> list[str]:
    """The outcomes of the query_order calls on the console's timeline (provider_calls), in order."""
    with app.extensions["gateway"].db.transaction() as session:
        found = session.scalars(
            select(ProviderCall.outcome).where(ProviderCall.operation == "query_order").order_by(ProviderCall.id)
        )
        return list(found)


def status_of(client: Any, order_id: str) -> str:
    status: str = client.get(f"/v1/orders/{order_id}").get_json()["status"]
    return status


def fault(simulator: Any, operation: str, mode: str, **extra: Any) -> None:
    body = {"operation": operation, "mode": mode, **extra}
    assert requests.post(f"{simulator.url}/faults", json=body, timeout=5).status_code == 201


def pay_at_iotpay(simulator: Any, order: dict[str, Any], notify: bool = True) -> None:
    form = {"payOrderId": order["provider_order_id"], "notify": "true" if notify else "false"}
    assert requests.post(f"{simulator.url}/pay", data=form, timeout=5).status_code == 202


def notify_attempts(simulator: Any, order: dict[str, Any]) -> list[str]:
    seen = requests.get(f"{simulator.url}/orders/{order['provider_order_id']}", timeout=5).json()
    return [attempt.get("body") or "" for attempt in seen["notifyAttempts"]]


def test_a_payment_iotpay_took_is_confirmed_by_its_query_and_applied_once(
    app: Any, client: Any, simulator: Any, paid_log: Path
) -> None:
    order = create(client)
    pay_at_iotpay(simulator, order)  # the simulator's own signed notify, over HTTP
    wait_for(lambda: status_of(client, order["id"]) == "paid", what="the notify to pay the order")
    assert [verdict for verdict, _ in records(app)] == ["applied"]
    assert paid_events(app) == [order["id"]]
    assert query_calls(app) == ["ok"]  # on record, written with the payment
    assert send(client, signed_notify(order)) == (200, "success")  # a re-sent notify: a duplicate, no query needed
    assert paid_events(app) == [order["id"]]
    assert query_calls(app) == ["ok"]


def test_a_signed_notify_iotpay_never_sent_is_refused_when_its_query_says_unpaid(
    app: Any, client: Any, simulator: Any, paid_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    order = create(client)  # never paid at IOTPay

    assert send(client, signed_notify(order)) == (400, "fail")

    [(verdict, reason)] = records(app)
    assert verdict == "mismatch" and reason is not None and "not paid" in reason
    assert query_calls(app) == ["ok"]  # a query that refused the payment is on record too
    assert status_of(client, order["id"]) == "pending"
    assert paid_events(app) == [] and not paid_log.exists()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("contradicted by the provider's query" in message for message in errors), errors


@pytest.mark.parametrize("mode", ["http_500", "html", "garbage", "bad_sign", "fail"])
def test_no_clear_answer_to_the_query_means_not_yet_and_iotpay_sends_it_again(
    app: Any, client: Any, simulator: Any, paid_log: Path, mode: str
) -> None:
    order = create(client)
    fault(simulator, "query_order", mode)  # the next query only: the retry's query is answered
    pay_at_iotpay(simulator, order)

    wait_for(lambda: status_of(client, order["id"]) == "paid", what="the re-sent notify to pay the order")

    verdicts = [verdict for verdict, _ in records(app)]
    assert verdicts == ["unconfirmed", "applied"], records(app)
    calls = query_calls(app)
    assert len(calls) == 2 and calls[0] != "ok" and calls[1] == "ok", calls
    # Not acknowledged until applied (the simulator records its attempt once it has the answer).
    wait_for(lambda: notify_attempts(simulator, order)[:2] == ["fail", "success"], what="the two attempts")
    assert paid_events(app) == [order["id"]]


def test_a_query_that_times_out_is_not_yet_and_holds_no_database_connection(
    app_factory: Callable[..., Any], simulator: Any, paid_log: Path
) -> None:
    app = app_factory(GATEWAY_PLUGINS="tests.support.paid_log", IOTPAY_TIMEOUT="1.5")
    client = app.test_client()
    order = create(client)
    pay_at_iotpay(simulator, order, notify=False)
    fault(simulator, "query_order", "delay", seconds=3)
    replies: list[tuple[int, str]] = []
    notifying = threading.Thread(target=lambda: replies.append(send(app.test_client(), signed_notify(order))))
    notifying.start()
    time.sleep(0.3)  # the notify is now waiting for IOTPay's answer

    started = time.monotonic()
    other = create(app.test_client())  # a write, on SQLite behind the one writer: it must not wait
    took = time.monotonic() - started
    notifying.join(10)

    assert took < 1.0, f"an order took {took:.2f}s to create while a notify's query was in flight"
    assert replies == [(400, "fail")]
    [(verdict, reason)] = records(app)
    assert verdict == "unconfirmed" and reason is not None and "timeout" in reason
    assert status_of(client, order["id"]) == "pending" and status_of(client, other["id"]) == "pending"
    assert send(client, signed_notify(order)) == (200, "success")  # sent again, confirmed this time
    assert paid_events(app) == [order["id"]]


def test_turning_confirmation_off_lets_the_signature_alone_pay(
    app_factory: Callable[..., Any], simulator: Any, paid_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What IOTPAY_CONFIRM_NOTIFY_BY_QUERY=0 costs: a notify signed with the key pays, whatever IOTPay knows."""
    app = app_factory(GATEWAY_PLUGINS="tests.support.paid_log", IOTPAY_CONFIRM_NOTIFY_BY_QUERY="0")
    client = app.test_client()
    order = create(client)  # never paid at IOTPay

    assert send(client, signed_notify(order)) == (200, "success")

    assert status_of(client, order["id"]) == "paid"
    assert any(
        "IOTPAY_CONFIRM_NOTIFY_BY_QUERY=0" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
    )


def test_iotpay_declares_confirmation_by_default(client: Any) -> None:
    assert client.application.extensions["gateway"].providers["iotpay"].info.confirm_notifications is True


def test_a_provider_that_confirms_by_query_without_a_query_is_refused_at_start() -> None:
    class ConfirmsWithoutQuery(Provider):
        info = ProviderInfo(
            name="noquery", display_name="No query", channels=("X",), currencies={"CAD": 2}, confirm_notifications=True
        )

        def create_order(self, request: OrderRequest) -> CreatedOrder:
            raise NotImplementedError

        def verify_notification(self, request: InboundRequest) -> Notification:
            raise NotImplementedError

        def acknowledge(self, verdict: Verdict) -> Acknowledgement:
            return Acknowledgement(200, "ok")

    problem = provider_problem(ConfirmsWithoutQuery())
    assert problem is not None and "query_order" in problem
