"""The console's order list in a real browser (headless Chromium): a dashboard tile opens its saved view,
the filter form and the search narrow the list to a URL one can share, the pages go back in time, and
the CSV link exports exactly the view on screen."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from gateway import create_app
from gateway.plugin.clock import utcnow
from gateway.store import migrate
from gateway.testing.live import LiveServer
from tests.gateway.test_console_orders import add_order
from tests.support.browser import start_chromium

ADMIN_KEY = "browser-admin-key-0123456789"
# docs/operations/observability.md shows this screenshot; UPDATE_SCREENSHOTS=1 refreshes it.
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "images" / "console-orders.png"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    server = LiveServer()
    app = create_app(
        {
            "GATEWAY_SANDBOX": "1",
            "GATEWAY_ADMIN_KEYS": f"alice={ADMIN_KEY}",
            "GATEWAY_PUBLIC_URL": server.url,
            "GATEWAY_INSTANCE_PATH": str(tmp_path / "instance"),
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
        }
    )
    migrate.upgrade(app.extensions["gateway"].db.url)
    server.app = app
    yield server.url, app
    server.stop()
    app.extensions["gateway"].db.dispose()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = start_chromium(tmp_path / "chromium-profile", "--window-size=1280,1100")
    yield driver
    driver.quit()


def seed(app: Any) -> dict[str, str]:
    """Seventy orders a minute apart, and a few that the filters and views are about."""
    start = utcnow() - timedelta(days=2)
    for n in range(70):
        add_order(app, f"shop-{n:04d}", created_at=start + timedelta(minutes=n), amount=1000 + n)
    return {
        "late": add_order(app, "shop-late-1", paid_after_expiry=True, amount=2856, currency="CAD"),
        "pending": add_order(
            app,
            "cart-7781",
            status="pending",
            provider="stripe",
            channel="alipay",
            amount=1200,
            currency="USD",
            merchant_reference="INV-2026-0042",
            created_at=datetime(2026, 11, 30, 9, 30, tzinfo=UTC),
        ),
        "pending_other": add_order(app, "cart-7790", status="pending", created_at=datetime(2026, 11, 1, tzinfo=UTC)),
        "yen": add_order(app, "cart-9001", amount=500, currency="JPY"),
    }


@pytest.mark.slow
def test_an_operator_finds_problem_orders_filters_pages_and_exports_them(
    console: tuple[str, Any], browser: Any, tmp_path: Path
) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select
    from selenium.webdriver.support.wait import WebDriverWait

    url, app = console
    ids = seed(app)

    def arrive_at(title: str) -> None:
        WebDriverWait(browser, 20).until(expected_conditions.title_is(f"{title} · gateway"))

    def listed() -> list[str]:
        return [link.text for link in browser.find_elements(By.CSS_SELECTOR, "table tbody tr td:first-child a")]

    def click(element_id: str, title: str = "Orders") -> None:
        old = browser.find_element(By.TAG_NAME, "html")
        for attempt in range(3):
            try:
                browser.find_element(By.ID, element_id).click()
                break
            except WebDriverException as error:
                # Chromium can hand out a node of a document it is still replacing ("Node with given id does
                # not belong to the document"): nothing was clicked, so find it again in the page as it is now.
                if attempt == 2 or "does not belong to the document" not in str(error):
                    raise
                old = browser.find_element(By.TAG_NAME, "html")
        WebDriverWait(browser, 20).until(expected_conditions.staleness_of(old))
        arrive_at(title)

    browser.get(f"{url}/console/")
    arrive_at("Log in")
    browser.find_element(By.ID, "admin_key").send_keys(ADMIN_KEY)
    click("login", "Dashboard")

    # A tile opens its saved view.
    assert browser.find_element(By.ID, "view-count-paid_after_expiry").text == "1"
    click("tile-paid_after_expiry")
    assert parse_qs(urlsplit(browser.current_url).query) == {"view": ["paid_after_expiry"]}
    assert listed() == [ids["late"]]
    assert "28.56 CAD" in browser.find_element(By.CSS_SELECTOR, "table tbody").text

    # All orders: newest first, 50 a page, then the older ones.
    browser.get(f"{url}/console/orders")
    arrive_at("Orders")
    first = listed()
    assert len(first) == 50
    click("next-page")
    second = listed()
    assert len(second) == 74 - 50 and not set(first) & set(second)

    # The form: status and provider, part of a reference, a created-between, all in the URL.
    browser.get(f"{url}/console/orders")
    arrive_at("Orders")
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("pending")
    browser.find_element(By.ID, "filter-q").send_keys("inv-2026")
    browser.find_element(By.ID, "filter-created_from").send_keys("2026-11-30")
    browser.find_element(By.ID, "filter-created_to").send_keys("2026-11-30")
    click("apply")
    query = parse_qs(urlsplit(browser.current_url).query)
    assert query["status"] == ["pending"] and query["q"] == ["inv-2026"]
    assert query["created_from"] == ["2026-11-30"] and query["created_to"] == ["2026-11-30"]
    assert listed() == [ids["pending"]]
    row = browser.find_element(By.CSS_SELECTOR, "table tbody tr").text
    assert "12.00 USD" in row and "stripe" in row

    shared = browser.current_url  # the URL is the view: open it afresh
    browser.get(f"{url}/console/")
    arrive_at("Dashboard")
    browser.get(shared)
    arrive_at("Orders")
    assert listed() == [ids["pending"]]

    # Search from the header: part of a merchant order no.
    search = browser.find_element(By.NAME, "q")
    search.clear()
    search.send_keys("cart-77")
    old = browser.find_element(By.TAG_NAME, "html")
    search.submit()
    WebDriverWait(browser, 20).until(expected_conditions.staleness_of(old))
    assert sorted(listed()) == sorted([ids["pending"], ids["pending_other"]])

    # The CSV link exports that view, with this session's cookie.
    browser.get(shared)
    arrive_at("Orders")
    link = browser.find_element(By.ID, "export-csv").get_attribute("href")
    cookies = {cookie["name"]: cookie["value"] for cookie in browser.get_cookies()}
    exported = requests.get(link, cookies=cookies, timeout=10)
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["id"], r["amount_minor"], r["amount"], r["currency"]) for r in rows] == [
        (ids["pending"], "1200", "12.00", "USD")
    ]

    browser.get(f"{url}/console/orders?view=pending_long&minutes=60")
    arrive_at("Orders")
    screenshot = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / SCREENSHOT.name
    assert browser.save_screenshot(str(screenshot))
