"""The notify pipeline (gateway/domain/notify.py) on SQLite and PostgreSQL, through Example Pay
(examples/), a provider that belongs to no one: its notifications are one HMAC-signed JSON body, so
what is checked here is the core's rules: applied once, a replay a duplicate, and a forged, unknown
or disagreeing notification refused, recorded and logged, never paying an order.

Seen from outside: the reply the provider gets, the order over the API, the `notifications` rows,
the WARNING log lines and the `gateway_order_paid` hook (tests/support/paid_log.py). The kit
(gateway.testing, run on Example Pay in test_plugins.py) checks the same rules for every provider;
this module adds what the record and the log must say.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.domain.notify import unstorable
from gateway.plugin import NotificationRejected, RefundNotification, Verdict
from gateway.store.models import NotificationRecord
from gateway.testing import HttpRequest, ProviderHarness
from tests.gateway.conftest import NEUTRAL_PLUGIN
from tests.support.flows import order_with

pytestmark = pytest.mark.neutral


@pytest.fixture
def paid_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "paid.log"
    monkeypatch.setenv("PAID_LOG_PATH", str(path))
    return path


@pytest.fixture
def app(app_factory: Callable[..., Any], paid_log: Path) -> Any:
    """Example Pay's gateway plus the hook-recording plugin."""
    return app_factory(GATEWAY_PLUGINS=f"{NEUTRAL_PLUGIN},tests.support.paid_log")


def hook_calls(paid_log: Path) -> list[str]:
    return paid_log.read_text().splitlines() if paid_log.exists() else []


def send(client: Any, provider: ProviderHarness, notification: HttpRequest) -> Any:
    return client.post(f"/notify/{provider.provider_name}", data=notification.body, headers=dict(notification.headers))


def notifications(app: Any) -> list[NotificationRecord]:
    with app.extensions["gateway"].db.transaction() as session:
        return list(session.scalars(select(NotificationRecord).order_by(NotificationRecord.id)))


def notify_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gateway.notify" and r.levelno == logging.WARNING]


def shown(client: Any, order: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = client.get(f"/v1/orders/{order['id']}").get_json()
    return answer


def assert_not_paid(client: Any, order: dict[str, Any], paid_log: Path) -> None:
    now = shown(client, order)
    assert (now["status"], now["paid_at"]) == ("pending", None)
    assert hook_calls(paid_log) == []


def test_a_paid_notification_pays_the_order_once_and_a_replay_is_a_duplicate(
    app: Any, client: Any, neutral_provider: Any, paid_log: Path
) -> None:
    order = order_with(client, neutral_provider)
    paid = neutral_provider.paid_notification(order)

    first, again = send(client, neutral_provider, paid), send(client, neutral_provider, paid)

    assert first.status_code == again.status_code == 200
    now = shown(client, order)
    assert now["status"] == "paid" and now["paid_at"] is not None
    assert [(r.verdict, r.order_id, r.provider) for r in notifications(app)] == [
        ("applied", order["id"], "example"),
        ("duplicate", order["id"], "example"),
    ]
    assert hook_calls(paid_log) == [order["id"]]


def test_an_unpaid_notification_is_acknowledged_and_pays_nothing(
    app: Any, client: Any, neutral_provider: Any, paid_log: Path
) -> None:
    order = order_with(client, neutral_provider)

    assert send(client, neutral_provider, neutral_provider.unpaid_notification(order)).status_code == 200

    assert_not_paid(client, order, paid_log)


FORGERIES: dict[str, Callable[[Any, HttpRequest], HttpRequest]] = {
    "body-changed-after-signing": lambda provider, request: provider.tamper(request),
    "unsigned": lambda provider, request: provider.unsigned(request),
    "signed-with-another-secret": lambda provider, request: HttpRequest(
        headers={**request.headers, "X-Example-Signature": "0" * 64}, body=request.body
    ),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_bad_signature_is_refused_recorded_and_logged(
    app: Any, client: Any, neutral_provider: Any, paid_log: Path, caplog: pytest.LogCaptureFixture, forgery: str
) -> None:
    order = order_with(client, neutral_provider)
    forged = FORGERIES[forgery](neutral_provider, neutral_provider.paid_notification(order))

    answer = send(client, neutral_provider, forged)

    assert answer.status_code >= 400
    assert_not_paid(client, order, paid_log)
    [record] = notifications(app)
    assert record.verdict == "bad_signature"
    assert record.order_id is None  # an unverified notification names no order we trust
    assert record.body == forged.body.decode()  # what was received, kept for an operator
    [warning] = notify_warnings(caplog)
    assert "bad_signature" in warning


def test_a_notification_for_an_order_the_gateway_never_made_is_refused_recorded_and_logged(
    app: Any, client: Any, neutral_provider: Any, paid_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    order = order_with(client, neutral_provider)
    stranger = {**order, "merchant_order_no": "never-made-by-this-gateway"}

    answer = send(client, neutral_provider, neutral_provider.paid_notification(stranger))

    assert answer.status_code >= 400
    assert_not_paid(client, order, paid_log)
    [record] = notifications(app)
    assert (record.verdict, record.order_id) == ("unknown_order", None)
    [warning] = notify_warnings(caplog)
    assert "unknown_order" in warning


@pytest.mark.parametrize(
    "changes",
    [{"amount": 1251}, {"amount": 1249}, {"currency": "JPY", "amount": 1250}],
    ids=["amount-plus-one", "amount-minus-one", "other-currency"],
)
def test_a_notification_disagreeing_with_the_order_is_refused_recorded_and_logged(
    app: Any,
    client: Any,
    neutral_provider: Any,
    paid_log: Path,
    caplog: pytest.LogCaptureFixture,
    changes: dict[str, Any],
) -> None:
    order = order_with(client, neutral_provider, 1250)  # 12.50 USD

    answer = send(client, neutral_provider, neutral_provider.paid_notification(order, **changes))

    assert answer.status_code >= 400
    assert_not_paid(client, order, paid_log)
    [record] = notifications(app)
    assert (record.verdict, record.order_id) == ("mismatch", order["id"])
    [warning] = notify_warnings(caplog)
    assert "mismatch" in warning


def test_a_disagreeing_notification_after_payment_is_a_mismatch_not_a_duplicate(
    app: Any, client: Any, neutral_provider: Any, paid_log: Path
) -> None:
    order = order_with(client, neutral_provider)
    assert send(client, neutral_provider, neutral_provider.paid_notification(order)).status_code == 200

    later = send(client, neutral_provider, neutral_provider.paid_notification(order, amount=1))

    assert later.status_code >= 400
    assert [r.verdict for r in notifications(app)] == ["applied", "mismatch"]
    assert hook_calls(paid_log) == [order["id"]]


def test_a_paid_notification_for_an_order_whose_create_was_refused_still_pays_it(
    app: Any, client: Any, neutral_provider: Any, paid_log: Path
) -> None:
    """The provider says money moved: that outranks the gateway's record of a refused create."""
    neutral_provider.fail_next("create_order")
    refused = client.post(
        "/v1/orders", json={"channel": "wallet", "amount": 1250, "currency": "USD", "subject": "s", "body": "b"}
    )
    assert refused.status_code == 502, refused.get_json()
    order = shown(client, {"id": refused.get_json()["order_id"]})
    assert (order["status"], order["provider_order_id"]) == ("failed", None)
    learnt = {**order, "provider_order_id": "pay_learnt_from_the_notification"}

    assert send(client, neutral_provider, neutral_provider.paid_notification(learnt)).status_code == 200

    now = shown(client, order)
    assert now["status"] == "paid"
    assert now["provider_order_id"] == "pay_learnt_from_the_notification"
    assert [r.verdict for r in notifications(app)] == ["applied"]
    assert hook_calls(paid_log) == [order["id"]]
    assert json.loads(notifications(app)[0].body)["reference"] == order["merchant_order_no"]


UNSTORABLE = {
    "event id past its column": {"event_id": "evt_" + "x" * 300},
    "empty event id": {"event_id": ""},
    "provider order id past its column": {"provider_order_id": "pay_" + "x" * 200},
    "reference no order has": {"merchant_order_no": "r" * 65},
    # A lone surrogate (what json.loads makes of "\udc80"): no driver can send it, to compare or to store.
    "surrogate in the provider order id": {"provider_order_id": "pay_\udc80"},
    "surrogate in the account": {"account_id": "acct_\udc80"},
    "surrogate in the currency": {"currency": "CA\udc80"},
    "surrogate in the event id": {"event_id": "evt_\udc80"},
}


@pytest.mark.parametrize("change", list(UNSTORABLE))
def test_a_verified_notification_no_record_can_hold_is_refused_as_malformed_not_a_500(
    app: Any, client: Any, neutral_provider: Any, paid_log: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """A plugin that reads a field past what the record holds (the kit's garbled notifications tell its
    author): the core refuses it, where PostgreSQL would refuse the INSERT and the provider get a 500 on
    every re-send."""
    order = order_with(client, neutral_provider)
    provider = app.extensions["gateway"].provider("example")
    verify = provider.verify_notification
    monkeypatch.setattr(
        provider, "verify_notification", lambda request: dataclasses.replace(verify(request), **UNSTORABLE[change])
    )

    reply = send(client, neutral_provider, neutral_provider.paid_notification(order))

    assert reply.status_code == 400  # Example Pay's refusal: it sends the notification again
    assert [(r.verdict, r.order_id, r.event_id) for r in notifications(app)] == [("malformed", None, None)]
    assert_not_paid(client, order, paid_log)


def test_a_rejection_without_a_reason_is_recorded_not_a_500(
    app: Any, client: Any, neutral_provider: Any, paid_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin that rejects with no reason (against the contract's `str`): the core slices the reason for
    its record and its log line, and a 500 there would come back on every re-send, each leaving a row."""
    order = order_with(client, neutral_provider)
    provider = app.extensions["gateway"].provider("example")

    def wordless(request: Any) -> Any:
        raise NotificationRejected(Verdict.MALFORMED, None)  # type: ignore[arg-type]

    monkeypatch.setattr(provider, "verify_notification", wordless)

    reply = send(client, neutral_provider, neutral_provider.paid_notification(order))

    assert reply.status_code == 400
    assert [(r.verdict, r.reason) for r in notifications(app)] == [("malformed", "")]
    assert_not_paid(client, order, paid_log)


@pytest.mark.parametrize("field", ["failure_code", "failure_message"])
def test_a_refund_notification_whose_failure_is_not_text_cannot_be_recorded(field: str) -> None:
    report = RefundNotification("r1", "ref1", 100, "USD", "failed", **{field: 7})  # type: ignore[arg-type]
    assert unstorable(report) == f"a refund's {field} that is not text"
    assert unstorable(dataclasses.replace(report, **{field: "7"})) is None
