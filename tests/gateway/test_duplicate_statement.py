"""A notify's read on PostgreSQL also records a duplicate (statements.FIND_ORDER_RECORDING_DUPLICATE).

The statement writes a "duplicate" record only on terms that imply the pipeline's own judgement;
the pipeline still judges the row in Python and records whatever the statement did not. Whatever
the stored order and the notification say, a notification that is not a payment to apply is on
record exactly once, with the verdict and reason the pipeline answers with, and the common
duplicate (a provider re-sending the notify of a paid order) costs one statement.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from gateway.domain import notify
from gateway.plugin.provider import InboundRequest, Notification, Verdict
from gateway.store.db import Database
from gateway.store.models import NOTIFICATIONS, ORDERS, OrderStatus, default_account_id

PROVIDER = SimpleNamespace(name="example")  # all that the read and the record use of a provider


@pytest.fixture(scope="module")
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    url: str = request.getfixturevalue("postgres_url")
    database = Database(url)
    yield database
    database.dispose()


def store(db: Database, **columns: Any) -> str:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()), "provider": "example", "channel": "CARD", "amount": 2856, "currency": "CAD",
        "status": "paid", "merchant_order_no": f"M{uuid.uuid4().hex[:20]}", "provider_order_id": "PO-1",
        "provider_account": "acct-1", "account_id": None, "subject": "Coffee", "body": "1kg",
        "client_ip": "127.0.0.1", "metadata": {}, "created_at": now, "updated_at": now,
        "expires_at": now + timedelta(hours=2), "paid_after_expiry": False, "refunded_amount": 0,
    }  # fmt: skip
    values.update(columns)
    with db.engine.begin() as connection:
        connection.execute(insert(ORDERS), values)
    return str(values["merchant_order_no"])


def accept_event(db: Database, event_id: str, verdict: str = "applied") -> None:
    """An earlier delivery of the event, recorded with `verdict` (accepted, or not)."""
    with db.engine.begin() as connection:
        connection.execute(
            insert(NOTIFICATIONS),
            {"provider": "example", "received_at": datetime.now(UTC), "method": "POST", "query_string": "",
             "body": "", "request_size": 0, "verdict": verdict, "event_id": event_id},
        )  # fmt: skip


def request_about(number: str) -> InboundRequest:
    """A notify whose body names the order: its records are found by it."""
    body = f'{{"order": "{number}"}}'.encode()
    return InboundRequest("POST", "/notify/example", {"content-type": "application/json"}, [], body)


def records_of(db: Database, number: str) -> list[tuple[str, str | None, bool, str | None]]:
    """This notification's records: verdict, reason, whether it names an order, its event id."""
    query = select(
        NOTIFICATIONS.c.verdict, NOTIFICATIONS.c.reason, NOTIFICATIONS.c.order_id.is_not(None), NOTIFICATIONS.c.event_id
    ).where(NOTIFICATIONS.c.body == f'{{"order": "{number}"}}')
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query.order_by(NOTIFICATIONS.c.id))]


def judge(db: Database, notification: Notification, account_id: str) -> tuple[Verdict, str | None, list[str]]:
    """The pipeline's read and judgement, and the statements it sent (their first words)."""
    sent: list[str] = []
    gateway: Any = SimpleNamespace(db=db)
    raw = db.raw

    def counted(statement: Any, keys: Any = None) -> Any:
        compiled = raw(statement, keys)
        sent.append(compiled.sql.split()[0])
        return compiled

    db.raw = counted  # type: ignore[method-assign]
    try:
        request = request_about(notification.merchant_order_no)
        verdict, reason, _order, _row = notify._judge_without_lock(gateway, PROVIDER, request, notification, account_id)
    finally:
        del db.raw
    return verdict, reason, sent


def test_a_duplicate_is_recorded_by_the_read_itself(db: Database) -> None:
    number = store(db)
    report = Notification(number, 2856, "CAD", True, account_id="acct-1", provider_order_id="PO-1")
    verdict, reason, sent = judge(db, report, default_account_id("example"))
    assert (verdict, reason) == (Verdict.DUPLICATE, "already paid")
    assert sent == ["WITH"]  # one statement: the read, which also wrote the record
    assert records_of(db, number) == [("duplicate", "already paid", True, None)]


def test_an_event_accepted_before_is_recorded_by_the_read_itself(db: Database) -> None:
    number, event_id = store(db, status="pending"), f"evt-{uuid.uuid4().hex}"
    accept_event(db, event_id)
    report = Notification(number, 2856, "CAD", True, account_id="acct-1", event_id=event_id)
    verdict, reason, sent = judge(db, report, default_account_id("example"))
    assert (verdict, reason, sent) == (Verdict.DUPLICATE, f"event {event_id} already processed", ["WITH"])
    assert records_of(db, number) == [("duplicate", f"event {event_id} already processed", True, event_id)]


# A genuine re-send of a paid order's notify, and what may differ from it: the order's columns, the
# report's fields, the account the notify was verified for, its event. Examples change up to three of
# them, so that every term of the statement is met alone and together.
GENUINE: dict[str, Any] = {
    "order": True, "status": "paid", "stored_account": "acct-1", "stored_provider_order_id": "PO-1",
    "gateway_account": None, "paid": True, "amount": 2856, "currency": "CAD", "account_id": "acct-1",
    "provider_order_id": "PO-1", "verified_for": "default-example", "event": None,
}  # fmt: skip
VARIANTS: dict[str, st.SearchStrategy[Any]] = {
    "order": st.just(False),
    "status": st.sampled_from([status.value for status in OrderStatus]),
    "stored_account": st.sampled_from([None, "", "acct-2"]),
    "stored_provider_order_id": st.sampled_from([None, "", "PO-2"]),
    "gateway_account": st.sampled_from(["default-example", "acct-key-2"]),
    "paid": st.just(False),
    "amount": st.sampled_from([2857, 0, -2856, 2**63, 2856.0]),  # (a plugin's bug: no float is an amount)
    "currency": st.sampled_from(["USD", "cad", "CAD ", " CAD"]),
    "account_id": st.sampled_from([None, "", "acct-2", 1]),
    "provider_order_id": st.sampled_from([None, "", "PO-2"]),
    "verified_for": st.just("acct-key-2"),
    "event": st.sampled_from(["new", "accepted", "refused"]),
}
CHANGES = st.lists(
    st.sampled_from(sorted(VARIANTS)).flatmap(lambda name: VARIANTS[name].map(lambda value: (name, value))),
    max_size=3,
).map(dict)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=CHANGES)
def test_whatever_the_order_and_report_say_the_record_is_the_judgement_once(
    db: Database, caplog: pytest.LogCaptureFixture, changes: dict[str, Any]
) -> None:
    case = {**GENUINE, **changes}
    number = f"M{uuid.uuid4().hex[:20]}"
    if case["order"]:
        store(
            db, merchant_order_no=number, status=case["status"], provider_account=case["stored_account"],
            provider_order_id=case["stored_provider_order_id"], account_id=case["gateway_account"],
        )  # fmt: skip
    event_id = None if case["event"] is None else f"evt-{uuid.uuid4().hex}"
    if event_id is not None and case["event"] in ("accepted", "refused"):
        accept_event(db, event_id, "applied" if case["event"] == "accepted" else "unconfirmed")
    report = Notification(
        number, case["amount"], case["currency"], case["paid"], account_id=case["account_id"],
        provider_order_id=case["provider_order_id"], event_id=event_id,
    )  # fmt: skip
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="gateway.notify"):
        verdict, reason, sent = judge(db, report, case["verified_for"])
    assert caplog.records == []  # the statement never recorded what the pipeline did not judge
    # An oracle independent of the statement: only an event accepted before makes "already processed".
    if event_id is not None and reason == f"event {event_id} already processed":
        assert case["event"] == "accepted"
    recorded = records_of(db, number)
    if verdict in (Verdict.APPLIED, Verdict.UNKNOWN_ORDER):  # the payment's statement, or _about_no_order
        assert recorded == []
    else:
        assert recorded == [(verdict.value, reason, case["order"], event_id)]
    if not changes or changes == {"event": "new"}:
        assert (verdict, sent) == (Verdict.DUPLICATE, ["WITH"])  # the everyday duplicate: one round trip


def test_should_the_statement_ever_record_what_the_pipeline_does_not_judge_its_record_is_replaced(
    db: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard for a judgement the statement's terms no longer imply (a check added to `verdict_on`
    and not to the statement): the statement's record goes, the judgement's is written, and it is logged."""
    number = store(db)
    monkeypatch.setattr(notify, "verdict_on", lambda order, report: (Verdict.MISMATCH, "a new check"))
    report = Notification(number, 2856, "CAD", True, account_id="acct-1", provider_order_id="PO-1")
    with caplog.at_level(logging.ERROR, logger="gateway.notify"):
        verdict, reason, sent = judge(db, report, default_account_id("example"))
    assert (verdict, reason, sent) == (Verdict.MISMATCH, "a new check", ["WITH", "DELETE", "INSERT"])
    assert records_of(db, number) == [("mismatch", "a new check", True, None)]
    assert [record.getMessage() for record in caplog.records] == [
        f"example notify for {number}: the read recorded a duplicate (already paid), the pipeline judged"
        f" mismatch (a new check); record {caplog.records[0].args[-1]} replaced"  # type: ignore[index]
    ]
