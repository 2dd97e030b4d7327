"""The console's order list: filters, search, saved views, keyset pages, the CSV export and the bulk
webhook retry, through Flask's test client on both databases. Each filter's case lists an order it
must show and one it must hide, so a filter that were ignored fails its case."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.domain import webhooks
from gateway.plugin.clock import as_utc, utcnow
from gateway.store import console as queries
from gateway.store.models import ConsoleAction, Order, OutboxEvent, Refund
from gateway.testing.live import LiveServer
from tests.gateway.test_console import ADMIN_KEY, WEBHOOK_SECRET, Receiver, csrf_of, logged_in
from tests.support.flows import paid_with

ORDER_LINK = re.compile(r'href="/console/orders/([0-9a-f-]{36})"')


@pytest.fixture
def hooks() -> Iterator[tuple[Receiver, LiveServer]]:
    endpoint = Receiver()
    server = LiveServer(endpoint)
    yield endpoint, server
    server.stop()


@pytest.fixture
def console(neutral_factory: Callable[..., Any], hooks: tuple[Receiver, LiveServer]) -> Any:
    return neutral_factory(
        GATEWAY_ADMIN_KEYS=f"alice={ADMIN_KEY}",
        GATEWAY_WEBHOOK_URL=f"{hooks[1].url}/hooks",
        GATEWAY_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )


def add_order(app: Any, label: str, **fields: Any) -> str:
    """An order row as the gateway stores it; `label` becomes its merchant order no."""
    order_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": order_id,
        "provider": "example",
        "channel": "wallet",
        "amount": 2856,
        "currency": "USD",
        "status": "paid",
        "merchant_order_no": label,
        "provider_order_id": f"P{label}",
        "next_action": {"type": "display_qr_code", "qr_code": "example://pay/x"},
        "subject": "Tea",
        "body": "Green",
        "client_ip": "203.0.113.7",
        "created_at": utcnow() - timedelta(hours=1),
        "paid_after_expiry": False,
        "refunded_amount": 0,
        **fields,
    }
    with app.extensions["gateway"].db.transaction() as session:
        session.add(Order(**values))
    return order_id


def listed(client: Any, query: str) -> list[str]:
    response = client.get(f"/console/orders?{query}")
    assert response.status_code == 200, response.data
    return ORDER_LINK.findall(response.data.decode())


def add_event(app: Any, order_id: str, **fields: Any) -> str:
    event_id = f"evt_{uuid.uuid4().hex}"
    with app.extensions["gateway"].db.transaction() as session:
        session.add(OutboxEvent(id=event_id, type="order.paid", data={}, order_id=order_id, **fields))
    return event_id


def add_refund(app: Any, order_id: str, status: str, discrepancy: dict[str, Any] | None = None) -> None:
    with app.extensions["gateway"].db.transaction() as session:
        refund = Refund(id=str(uuid.uuid4()), order_id=order_id, amount=100, currency="USD", status=status)
        if discrepancy is not None:
            refund.discrepancy = discrepancy
        session.add(refund)


# -- filters: (query, what the order it must show has, what the order it must hide has) ----------------

DAY = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
FILTERS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("status=pending", {"status": "pending"}, {"status": "paid"}),
    ("status=paid&status=refunded", {"status": "refunded"}, {"status": "expired"}),
    ("provider=stripe", {"provider": "stripe"}, {"provider": "example"}),
    ("channel=card", {"channel": "card"}, {"channel": "wallet"}),
    ("created_from=2026-01-02&created_to=2026-01-02", {"created_at": DAY}, {"created_at": DAY + timedelta(days=1)}),
    ("created_from=2026-01-02", {"created_at": DAY}, {"created_at": DAY - timedelta(days=1)}),
    ("created_to=2026-01-02T11:00", {"created_at": DAY - timedelta(hours=2)}, {"created_at": DAY}),
    ("q=ART-7", {"merchant_order_no": "cart-77"}, {"merchant_order_no": "cart-8"}),  # part of it, any case
    ("q=ch_3Nx", {"provider_order_id": "pi_ch_3NxYz"}, {"provider_order_id": "pi_other"}),
    ("q=invoice-2", {"merchant_reference": "invoice-2026-11"}, {"merchant_reference": "invoice-1"}),
    ("q=%25", {"merchant_reference": "100%"}, {"merchant_reference": "plain"}),  # % is a character, not a wildcard
    ("q=a_b", {"merchant_reference": "xa_bx"}, {"merchant_reference": "xaxbx"}),  # _ too
    ("status=pending&provider=stripe", {"status": "pending", "provider": "stripe"}, {"status": "pending"}),
]


@pytest.mark.parametrize(("query", "shown", "hidden"), FILTERS, ids=[case[0] for case in FILTERS])
def test_each_filter_shows_the_orders_that_match_and_hides_the_others(
    console: Any, query: str, shown: dict[str, Any], hidden: dict[str, Any]
) -> None:
    wanted = add_order(console, "wanted-1", **shown)
    unwanted = add_order(console, "other-1", **hidden)
    found = listed(logged_in(console), query)
    assert wanted in found
    assert unwanted not in found


def test_q_finds_an_order_by_its_exact_gateway_id(console: Any) -> None:
    order_id = add_order(console, "mon-1")
    other = add_order(console, "mon-2")
    assert listed(logged_in(console), f"q={order_id.upper()}") == [order_id]
    assert other not in listed(logged_in(console), f"q={order_id}")


SAVED_VIEWS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "view=pending_long&minutes=30",
        {"status": "pending", "created_at": utcnow() - timedelta(minutes=31)},
        {"status": "pending", "created_at": utcnow() - timedelta(minutes=5)},
    ),
    ("view=unknown", {"status": "pending", "next_action": None}, {"status": "pending"}),
    ("view=paid_after_expiry", {"paid_after_expiry": True}, {"paid_after_expiry": False}),
]


@pytest.mark.parametrize(("query", "shown", "hidden"), SAVED_VIEWS, ids=[case[0] for case in SAVED_VIEWS])
def test_saved_views_on_the_order_itself(
    console: Any, query: str, shown: dict[str, Any], hidden: dict[str, Any]
) -> None:
    wanted = add_order(console, "wanted-1", **shown)
    unwanted = add_order(console, "other-1", **hidden)
    found = listed(logged_in(console), query)
    assert wanted in found and unwanted not in found


def test_the_refunds_view_lists_orders_with_a_refund_unsettled_or_discrepant(console: Any) -> None:
    pending, unknown, discrepant, settled = (add_order(console, f"mon-{n}") for n in range(4))
    add_refund(console, pending, "pending")
    add_refund(console, unknown, "unknown")
    add_refund(console, discrepant, "succeeded", {"recorded": "succeeded", "provider": "failed"})
    add_refund(console, settled, "succeeded")
    assert sorted(listed(logged_in(console), "view=refunds_open")) == sorted([pending, unknown, discrepant])


def test_the_failing_webhooks_view_lists_orders_whose_last_attempt_failed(console: Any) -> None:
    failing, delivered, not_tried = (add_order(console, f"mon-{n}") for n in range(3))
    add_event(console, failing, attempts=2, last_error="HTTP 500")
    add_event(console, delivered, attempts=1, delivered_at=utcnow())
    add_event(console, not_tried)
    assert listed(logged_in(console), "view=webhooks_failing") == [failing]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("created_from=yesterday", "created_from"),
        ("created_from=2026-01-03&created_to=2026-01-02", "created_to"),
        ("view=everything", "view"),
        ("view=pending_long&minutes=0", "minutes"),
        ("after=not-a-cursor", "after"),
        (f"q={'x' * 129}", "q"),
    ],
)
def test_a_malformed_filter_is_reported_and_nothing_listed(console: Any, query: str, field: str) -> None:
    add_order(console, "mon-1")
    response = logged_in(console).get(f"/console/orders?{query}")
    assert response.status_code == 400
    page = response.data.decode()
    assert f"<code>{field}</code>" in page
    assert not ORDER_LINK.search(page)


# -- pages ----------------------------------------------------------------------------------------------


def next_page(page: str) -> str | None:
    found = re.search(r'href="(/console/orders\?[^"]*)" id="next-page"', page)
    return found.group(1).replace("&amp;", "&") if found else None


def test_pages_are_newest_first_and_stable_while_orders_arrive(console: Any) -> None:
    start = utcnow() - timedelta(days=1)
    made = [add_order(console, f"mon-{n}", created_at=start + timedelta(seconds=n)) for n in range(120)]
    twins = [add_order(console, f"twin-{n}", created_at=start + timedelta(seconds=200)) for n in range(3)]
    newest_first = sorted(twins, reverse=True) + made[::-1]  # equal times: the id decides
    client = logged_in(console)
    page = client.get("/console/orders").data.decode()
    seen = ORDER_LINK.findall(page)
    add_order(console, "arrived-later")  # newer than all: must not shift the next pages
    while (link := next_page(page)) is not None:
        page = client.get(link).data.decode()
        seen += ORDER_LINK.findall(page)
    assert seen == newest_first
    assert len(ORDER_LINK.findall(client.get("/console/orders").data.decode())) == queries.PAGE_SIZE


def test_the_next_page_keeps_the_filters(console: Any) -> None:
    for n in range(queries.PAGE_SIZE + 5):
        add_order(console, f"mon-{n}", status="pending")
        add_order(console, f"paid-{n}")
    client = logged_in(console)
    page = client.get("/console/orders?status=pending").data.decode()
    link = next_page(page)
    assert link is not None and "status=pending" in link
    second = client.get(link).data.decode()
    assert len(ORDER_LINK.findall(second)) == 5
    assert "paid-" not in second


# -- amounts --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "shown"), [(400, "USD", "4.00 USD"), (500, "JPY", "500 JPY"), (12345, "KWD", "12.345 KWD")]
)
def test_amounts_read_as_money_on_the_list_and_the_order_page(
    console: Any, amount: int, currency: str, shown: str
) -> None:
    order_id = add_order(console, "mon-1", amount=amount, currency=currency)
    client = logged_in(console)
    assert f'<td class="num">{shown}</td>' in client.get("/console/orders").data.decode()
    assert f'<dd id="order-amount">{shown}</dd>' in client.get(f"/console/orders/{order_id}").data.decode()


# -- CSV ------------------------------------------------------------------------------------------------


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.data.decode())))


def test_the_csv_export_is_the_same_view_with_minor_and_major_units(console: Any) -> None:
    wanted = add_order(console, "mon-1", status="pending", amount=2856, merchant_reference="cart-7")
    add_order(console, "mon-2", status="paid")
    client = logged_in(console)
    page = client.get("/console/orders?status=pending").data.decode()
    link = re.search(r'href="(/console/orders.csv\?[^"]*)" id="export-csv"', page)
    assert link is not None
    rows = csv_rows(client.get(link.group(1).replace("&amp;", "&")))
    assert [row["id"] for row in rows] == [wanted]
    assert (rows[0]["amount_minor"], rows[0]["amount"], rows[0]["currency"]) == ("2856", "28.56", "USD")
    assert rows[0]["merchant_reference"] == "cart-7"


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(console: Any, start: str) -> None:
    add_order(console, f"{start}1+1", merchant_reference=f'{start}HYPERLINK("https://evil.example")')
    (row,) = csv_rows(logged_in(console).get("/console/orders.csv"))
    assert row["merchant_order_no"] == f"'{start}1+1"
    assert row["merchant_reference"] == f'\'{start}HYPERLINK("https://evil.example")'


def test_the_csv_export_stops_at_its_row_cap(console: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "CSV_MAX_ROWS", 5)
    monkeypatch.setattr(queries, "CSV_BATCH", 2)
    start = utcnow() - timedelta(days=1)
    made = [add_order(console, f"mon-{n}", created_at=start + timedelta(seconds=n)) for n in range(8)]
    rows = csv_rows(logged_in(console).get("/console/orders.csv"))
    assert [row["id"] for row in rows] == made[::-1][:5]


def test_a_malformed_csv_filter_is_a_400_not_an_export_of_everything(console: Any) -> None:
    add_order(console, "mon-1")
    response = logged_in(console).get("/console/orders.csv?created_to=soon")
    assert response.status_code == 400
    assert b"created_to" in response.data


# -- bulk webhook retry ---------------------------------------------------------------------------------


def failing_events(app: Any) -> list[OutboxEvent]:
    with app.extensions["gateway"].db.transaction() as session:
        return list(session.scalars(select(OutboxEvent).where(OutboxEvent.last_error.is_not(None))))


def test_failing_webhooks_are_retried_in_bulk_with_an_audit_entry_each(
    console: Any, neutral_provider: Any, hooks: tuple[Receiver, LiveServer]
) -> None:
    receiver, _ = hooks
    api = console.test_client()
    orders = [paid_with(api, neutral_provider) for _ in range(2)]
    db, config = console.extensions["gateway"].db, webhooks.load_config(console.extensions["gateway"].settings)
    receiver.status = 500
    assert webhooks.deliver_due(db, config).failed == 2
    events = failing_events(console)
    assert all(as_utc(event.next_attempt_at) > utcnow() for event in events)  # backing off
    client = logged_in(console)
    view = "/console/orders?view=webhooks_failing"
    assert sorted(listed(client, "view=webhooks_failing")) == sorted(order["id"] for order in orders)

    refused = client.post("/console/webhooks/retry", data={"view": "webhooks_failing", "csrf_token": "forged"})
    assert refused.status_code == 400
    token = csrf_of(client.get(view).data)
    response = client.post(
        "/console/webhooks/retry", data={"view": "webhooks_failing", "csrf_token": token}, follow_redirects=True
    )
    assert "2 failing webhooks queued" in response.data.decode()
    with db.transaction() as session:
        entries = list(session.scalars(select(ConsoleAction).order_by(ConsoleAction.id)))
    assert sorted((entry.action, entry.event_id) for entry in entries) == sorted(
        ("retry_webhook", event.id) for event in events
    )
    assert all(entry.admin.startswith("alice (") for entry in entries)
    receiver.status = 200
    assert webhooks.deliver_due(db, config).delivered == 2  # due now, not in the backoff's minutes
    assert listed(client, "view=webhooks_failing") == []


def test_the_bulk_retry_acts_only_on_the_orders_in_the_view(console: Any) -> None:
    stripe_order = add_order(console, "mon-1", provider="stripe")
    example_order = add_order(console, "mon-2")
    later = utcnow() + timedelta(hours=1)
    for order_id in (stripe_order, example_order):
        add_event(console, order_id, attempts=3, last_error="HTTP 500", next_attempt_at=later)
    client = logged_in(console)
    token = csrf_of(client.get("/console/orders?view=webhooks_failing").data)
    form = {"view": "webhooks_failing", "provider": "stripe", "csrf_token": token}
    response = client.post("/console/webhooks/retry", data=form, follow_redirects=True)
    assert "1 failing webhook queued: the webhook worker sends it" in response.data.decode()
    with console.extensions["gateway"].db.transaction() as session:
        due = {
            event.order_id: as_utc(event.next_attempt_at) <= utcnow() for event in session.scalars(select(OutboxEvent))
        }
    assert due == {stripe_order: True, example_order: False}


def test_an_event_a_worker_holds_is_left_to_it(console: Any) -> None:
    order_id = add_order(console, "mon-1")
    event_id = add_event(console, order_id, attempts=1, last_error="HTTP 500")
    with console.extensions["gateway"].db.transaction() as session:
        session.execute(
            update(OutboxEvent).where(OutboxEvent.id == event_id).values(claimed_until=utcnow() + timedelta(minutes=1))
        )
    client = logged_in(console)
    token = csrf_of(client.get("/console/orders?view=webhooks_failing").data)
    response = client.post(
        "/console/webhooks/retry", data={"view": "webhooks_failing", "csrf_token": token}, follow_redirects=True
    )
    assert "No failing webhook in this view" in response.data.decode()


# -- the dashboard --------------------------------------------------------------------------------------


def test_each_dashboard_tile_links_to_its_view(console: Any) -> None:
    add_order(console, "mon-1", paid_after_expiry=True)
    page = logged_in(console).get("/console/").data.decode()
    for name in queries.SAVED_VIEWS:
        assert f'href="/console/orders?view={name}" id="tile-{name}"' in page
    for status in ("pending", "paid", "refunded"):
        assert f'href="/console/orders?status={status}" id="tile-{status}"' in page
    assert re.search(r'id="view-count-paid_after_expiry">1<', page)


def test_a_stranger_gets_neither_the_list_nor_the_csv(console: Any) -> None:
    add_order(console, "mon-1")
    client = console.test_client()
    for path in ("/console/orders?status=paid", "/console/orders.csv"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/console/login")
