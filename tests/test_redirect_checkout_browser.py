"""A redirect checkout in a real browser (headless Chromium): the shop in examples/redirect-checkout.

The payer opens the shop, is redirected to the wallet's (simulated) page, pays, and comes back to the
shop's return page. IOTPay's server notify is held back at first: the browser is home, carrying a
signed result, yet the order stays pending and the page keeps waiting. Once the notify goes out, the
order is paid and the page says so.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gateway import create_app
from gateway.store import migrate
from gateway.testing.live import LiveServer
from tests.support.browser import start_chromium

ROOT = Path(__file__).resolve().parent.parent


def load_shop_module() -> Any:
    spec = importlib.util.spec_from_file_location("redirect_checkout_shop", ROOT / "examples/redirect-checkout/shop.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sandbox_gateway(tmp_path: Path) -> Iterator[str]:
    server = LiveServer()
    app = create_app(
        {
            "GATEWAY_SANDBOX": "1",
            "GATEWAY_PUBLIC_URL": server.url,
            "GATEWAY_INSTANCE_PATH": str(tmp_path / "instance"),
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
        }
    )
    migrate.upgrade(app.extensions["gateway"].db.url)
    server.app = app
    yield server.url
    server.stop()
    app.extensions["gateway"].db.dispose()


@pytest.fixture
def shop(sandbox_gateway: str) -> Iterator[str]:
    server = LiveServer()
    server.app = load_shop_module().create_shop(sandbox_gateway, public_url=server.url)
    yield server.url
    server.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = start_chromium(tmp_path / "chromium-profile")
    yield driver
    driver.quit()


@pytest.mark.slow
def test_a_payer_redirected_to_pay_comes_back_to_a_page_that_waits_for_the_notify(
    sandbox_gateway: str, shop: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    held = requests.post(
        f"{sandbox_gateway}/sandbox/iotpay/faults", json={"operation": "notify", "mode": "hold"}, timeout=10
    )
    assert held.status_code == 201, held.text

    browser.get(f"{shop}/buy")  # the shop creates the order and redirects to next_action.url
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "pay")))
    assert browser.current_url.startswith(f"{sandbox_gateway}/sandbox/iotpay/checkout/")
    assert "28.56 CAD" in browser.find_element(By.ID, "amount").text

    browser.find_element(By.ID, "pay").click()  # pays, then IOTPay sends the browser back (backType=1)
    WebDriverWait(browser, 20).until(expected_conditions.url_contains(f"{shop}/return/cart-1"))
    assert "backType=1" in browser.current_url
    status = browser.find_element(By.ID, "status")
    assert status.text == "Checking your payment..."

    def gateway_status() -> str:  # the shop's backend asks the gateway: GET /v1/orders/{id}
        status: str = requests.get(f"{shop}/status/cart-1", timeout=10).json()["status"]
        return status

    assert gateway_status() == "pending"  # home, with a signed result in the address bar, and still not paid

    released = requests.delete(f"{sandbox_gateway}/sandbox/iotpay/faults", timeout=10)
    assert released.status_code == 200
    WebDriverWait(browser, 30).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Paid"))
    assert gateway_status() == "paid"
