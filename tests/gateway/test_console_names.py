"""The console names each order's merchant and account (list, dashboard and detail), and filters by
a merchant's or an account's id or name: stored merchants with two Example Pay accounts."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from gateway.plugin.clock import utcnow
from gateway.store import console as queries
from gateway.store.models import Order
from gateway.store.order_filters import OrderFilter
from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer
from tests.support.keys import AUTH
from tests.support.merchants import ORDER, add_account, console, merchant, merchants_app

ORDER_LINK = re.compile(r'href="/console/orders/([0-9a-f-]{36})"')
NAMED_ROW = re.compile(
    r'<td class="merchant" title="([^"]*)">([^<]*)</td>\s*<td class="account" title="([^"]*)">([^<]*)</td>'
)


@pytest.fixture
def shop(
    app_factory: Callable[..., Any], neutral_provider: ProviderHarness, gateway_server: LiveServer, tmp_path: Path
) -> dict[str, Any]:
    """Tea House with accounts `usd` and `spare`, Book Shop with `usd` too, and an order on each
    (and one of the environment's merchant)."""
    app = merchants_app(app_factory, neutral_provider, gateway_server)
    tea, tea_key = merchant(app, "Tea House")
    books, books_key = merchant(app, "Book Shop")
    secret = neutral_provider.settings(gateway_server.url)["EXAMPLE_SECRET"]  # the simulator's
    accounts = {
        "tea-usd": add_account(app, tea, "usd", neutral_provider, tmp_path, EXAMPLE_SECRET=secret),
        "tea-spare": add_account(app, tea, "spare", neutral_provider, tmp_path, EXAMPLE_SECRET=secret),
        "books-usd": add_account(app, books, "usd", neutral_provider, tmp_path, EXAMPLE_SECRET=secret),
    }
    client = app.test_client()

    def create(headers: dict[str, str], **extra: Any) -> str:
        response = client.post("/v1/orders", json={**ORDER, **extra}, headers=headers)
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["id"])

    orders = {
        "tea-usd": create(tea_key, account="usd"),
        "tea-spare": create(tea_key, account="spare"),
        "books-usd": create(books_key),
        "environment": create(AUTH),
    }
    return {"app": app, "merchants": {"tea": tea, "books": books}, "accounts": accounts, "orders": orders}


def listed(client: Any, query: str) -> set[str]:
    response = client.get(f"/console/orders?{query}")
    assert response.status_code == 200, response.data
    return set(ORDER_LINK.findall(response.get_data(as_text=True)))


def test_the_order_page_names_the_merchant_and_the_account(shop: dict[str, Any]) -> None:
    page = console(shop["app"]).get(f"/console/orders/{shop['orders']['tea-spare']}").get_data(as_text=True)

    merchant = re.search(r'<dd id="order-merchant">(.*?)</dd>', page)
    account = re.search(r'<dd id="order-account">(.*?)</dd>', page)
    assert merchant and account
    assert merchant.group(1) == f"Tea House <code>{shop['merchants']['tea']}</code>"
    assert account.group(1) == f"spare <code>{shop['accounts']['tea-spare']['id']}</code>"


def test_the_order_list_names_each_orders_merchant_and_account(shop: dict[str, Any]) -> None:
    page = console(shop["app"]).get("/console/orders").get_data(as_text=True)

    rows = NAMED_ROW.findall(page)
    assert sorted(rows) == sorted(
        [
            (shop["merchants"]["tea"], "Tea House", shop["accounts"]["tea-usd"]["id"], "usd"),
            (shop["merchants"]["tea"], "Tea House", shop["accounts"]["tea-spare"]["id"], "spare"),
            (shop["merchants"]["books"], "Book Shop", shop["accounts"]["books-usd"]["id"], "usd"),
            ("default", "default", "default-example", "default-example"),
        ]
    )


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("merchant=Tea+House", {"tea-usd", "tea-spare"}),
        ("merchant={tea}", {"tea-usd", "tea-spare"}),
        ("merchant=default", {"environment"}),
        ("merchant=Tea+House&merchant=Book+Shop", {"tea-usd", "tea-spare", "books-usd"}),
        ("account=spare", {"tea-spare"}),
        ("account={tea-usd}", {"tea-usd"}),
        ("account=usd", {"tea-usd", "books-usd"}),  # an account name is unique within its merchant only
        ("account=usd&merchant=Book+Shop", {"books-usd"}),
        ("account=default-example", {"environment"}),
        ("merchant=Nobody", set()),
    ],
)
def test_the_list_filters_by_a_merchants_or_an_accounts_id_or_name(
    shop: dict[str, Any], query: str, shown: set[str]
) -> None:
    ids = {"tea": shop["merchants"]["tea"], "tea-usd": shop["accounts"]["tea-usd"]["id"]}
    for name, value in ids.items():
        query = query.replace(f"{{{name}}}", value)
    assert listed(console(shop["app"]), query) == {shop["orders"][name] for name in shown}


def test_the_names_of_a_page_cost_one_query_more_in_the_same_transaction(shop: dict[str, Any]) -> None:
    db = shop["app"].extensions["gateway"].db
    statements: list[str] = []

    def remember(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        page = queries.list_orders(db, OrderFilter())
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert [statement.split()[0].upper() for statement in statements].count("SELECT") == 2, statements
    assert page.names.merchant(shop["merchants"]["books"]) == "Book Shop"
    assert page.names.account(shop["accounts"]["tea-spare"]["id"]) == "spare"


def test_the_csv_export_names_each_orders_merchant_and_account(shop: dict[str, Any]) -> None:
    response = console(shop["app"]).get("/console/orders.csv?merchant=Tea+House&merchant=default")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))

    assert sorted(
        (row["id"], row["merchant"], row["merchant_name"], row["account"], row["account_name"]) for row in rows
    ) == sorted(
        [
            (
                shop["orders"]["tea-usd"],
                shop["merchants"]["tea"],
                "Tea House",
                shop["accounts"]["tea-usd"]["id"],
                "usd",
            ),
            (
                shop["orders"]["tea-spare"],
                shop["merchants"]["tea"],
                "Tea House",
                shop["accounts"]["tea-spare"]["id"],
                "spare",
            ),
            (shop["orders"]["environment"], "default", "default", "default-example", "default-example"),
        ]
    )


def test_the_dashboards_stuck_orders_name_their_merchant_and_account(shop: dict[str, Any]) -> None:
    stuck = shop["orders"]["tea-spare"]
    with shop["app"].extensions["gateway"].db.transaction() as session:
        session.execute(update(Order).where(Order.id == stuck).values(expires_at=utcnow() - timedelta(hours=1)))

    response = console(shop["app"]).get("/console/")

    assert response.status_code == 200
    row = (shop["merchants"]["tea"], "Tea House", shop["accounts"]["tea-spare"]["id"], "spare")
    assert NAMED_ROW.findall(response.get_data(as_text=True)) == [row]
