"""What an operator sees of one sandbox flow, on the default server as `gateway run` starts it: the flow in
/metrics (added up across workers), in JSON logs that carry one request id per request and no
secret, and on the console's order page. Also the browser test of the console."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from gateway_iotpay.config import SANDBOX_KEY
from gateway_stripe.config import SANDBOX_SECRET_KEY, SANDBOX_WEBHOOK_SECRET

from gateway.ops.granian_conf import chosen_server
from gateway.testing.live import LiveServer
from tests.support.flows import wait_for
from tests.support.processes import Gunicorn, flask_cli, free_port

API_KEY = "ops-api-key-0123456789abcdef"
ADMIN_KEY = "ops-admin-key-0123456789abcdef"
METRICS_KEY = "ops-metrics-key-0123456789abcdef"
WEBHOOK_SECRET = "ops-webhook-secret-0123456789abcdef"
SECRETS = (API_KEY, ADMIN_KEY, METRICS_KEY, WEBHOOK_SECRET, SANDBOX_KEY, SANDBOX_SECRET_KEY, SANDBOX_WEBHOOK_SECRET)
ORDER = {"channel": "WX_APP", "amount": 2856, "currency": "CAD", "subject": "Coffee", "body": "1kg"}
# The access line's logger: gunicorn's own, or the gateway's under granian (gateway/ops/access_log.py).
ACCESS_LOGGER = {"gunicorn": "gunicorn.access", "granian": "gateway.access"}[chosen_server()]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class Hooks:
    """The merchant's webhook endpoint: answers 200 and keeps what it got."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.received.append(json.loads(body))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture(scope="module")
def hooks() -> Iterator[tuple[Hooks, LiveServer]]:
    endpoint = Hooks()
    server = LiveServer(endpoint)
    yield endpoint, server
    server.stop()


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory: pytest.TempPathFactory, hooks: tuple[Hooks, LiveServer]) -> Iterator[Gunicorn]:
    tmp_path = tmp_path_factory.mktemp("ops")
    port = free_port()
    config = {
        "GATEWAY_SANDBOX": "1",
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_INSTANCE_PATH": str(tmp_path),
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_API_KEYS": API_KEY,
        "GATEWAY_ADMIN_KEYS": f"ops={ADMIN_KEY}",
        "GATEWAY_METRICS_KEYS": METRICS_KEY,
        "GATEWAY_WEBHOOK_URL": f"{hooks[1].url}/hooks",
        "GATEWAY_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    migrated = flask_cli(config, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    server = Gunicorn.deployed(config, port, log_path=tmp_path / "server.log")
    try:
        server.wait_until_healthy()
        yield server
    finally:
        server.stop()


@pytest.fixture
def gateway_url(ops_server: Gunicorn) -> str:
    return ops_server.url


def paid_sandbox_order(base_url: str, request_id: str) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    created = requests.post(
        f"{base_url}/v1/orders", json=ORDER, headers={**auth, "X-Request-Id": request_id}, timeout=30
    )
    assert created.status_code == 201, created.text
    assert created.headers["X-Request-Id"] == request_id
    order = created.json()
    paid = requests.post(f"{base_url}/sandbox/iotpay/pay", data={"payOrderId": order["provider_order_id"]}, timeout=10)
    assert paid.status_code == 202, paid.text

    def is_paid() -> dict[str, Any] | None:
        current = requests.get(f"{base_url}/v1/orders/{order['id']}", headers=auth, timeout=10).json()
        return current if current["status"] == "paid" else None

    found: dict[str, Any] = wait_for(is_paid, timeout=20, what="the order to be paid")
    return found


def log_lines(server: Gunicorn) -> list[dict[str, Any]]:
    lines = [line for line in server.output().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is one JSON object: fails on any other line


def console_session(base_url: str) -> requests.Session:
    session = requests.Session()
    login = session.get(f"{base_url}/console/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token is not None
    answer = session.post(
        f"{base_url}/console/login", data={"admin_key": ADMIN_KEY, "csrf_token": token.group(1)}, timeout=10
    )
    assert answer.status_code == 200 and "Dashboard" in answer.text
    return session


@pytest.mark.slow
def test_a_sandbox_flow_shows_in_metrics_in_json_logs_and_on_the_console(ops_server: Gunicorn) -> None:
    gateway_url = ops_server.url
    order = paid_sandbox_order(gateway_url, "ops-flow-0001")

    # /metrics, added up over both workers
    scraped = requests.get(f"{gateway_url}/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"}, timeout=10)
    assert scraped.status_code == 200
    text = scraped.text
    assert re.search(r'gateway_provider_calls_total\{[^}]*operation="create_order"[^}]*outcome="ok"[^}]*\} [1-9]', text)
    assert re.search(r'gateway_notifications_total\{provider="iotpay",verdict="applied"\} [1-9]', text)
    assert re.search(r'gateway_order_transitions_total\{provider="iotpay",status="paid"\} [1-9]', text)
    assert re.search(r"gateway_webhook_backlog [1-9]", text)  # order.paid waits: no worker runs here
    # the RED metrics, by URL rule (never the order's id), from whichever worker served each request
    assert re.search(r'gateway_http_requests_total\{method="POST",route="/v1/orders",status="201"\} [1-9]', text)
    assert re.search(
        r'gateway_http_request_duration_seconds_count\{method="GET",route="/v1/orders/<order_id>"\} [1-9]', text
    )
    assert order["id"] not in text

    # JSON logs: the create request's lines all carry its id, and name the order
    lines = log_lines(ops_server)
    create_lines = [line for line in lines if line.get("request_id") == "ops-flow-0001"]
    assert {line["logger"] for line in create_lines} >= {"gateway.instrument", ACCESS_LOGGER}
    call = next(line for line in create_lines if line["logger"] == "gateway.instrument")
    assert (call["order_id"], call["provider"]) == (order["id"], "iotpay")
    notify = next(line for line in lines if line["logger"] == "gateway.notify" and line.get("order_id") == order["id"])
    notify_request = [line for line in lines if line.get("request_id") == notify["request_id"]]
    assert any(line["logger"] == ACCESS_LOGGER and "/notify/iotpay" in line["message"] for line in notify_request)

    # the console's order page
    page = console_session(gateway_url).get(f"{gateway_url}/console/orders/{order['id']}", timeout=10)
    assert page.status_code == 200
    assert 'id="order-status">paid<' in page.text
    assert "notify: applied" in page.text and "create_order: ok" in page.text


@pytest.mark.slow
def test_no_configured_secret_appears_in_the_logs_of_a_whole_flow(ops_server: Gunicorn) -> None:
    gateway_url = ops_server.url
    paid_sandbox_order(gateway_url, "ops-flow-0002")
    session = console_session(gateway_url)
    session.get(f"{gateway_url}/console/", timeout=10)
    requests.get(f"{gateway_url}/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"}, timeout=10)
    requests.get(f"{gateway_url}/v1/providers", headers={"Authorization": "Bearer wrong-key-0123456789"}, timeout=10)
    output = ops_server.output()
    assert "ops-flow-0002" in output  # the flow is in there
    for secret in SECRETS:
        assert secret not in output


# -- the console in a real browser ------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1400",
)
# The README shows this screenshot; UPDATE_SCREENSHOTS=1 refreshes it, otherwise it goes to tmp_path.
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "images" / "console-order.png"


def _browser_binaries() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    return None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    binaries = _browser_binaries()
    if binaries is None:
        message = "no chromium + chromedriver (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(message + ": CI must run the browser test")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binaries[0]
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=binaries[1]))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.mark.slow
def test_an_operator_finds_the_paid_order_sees_its_notify_redelivers_its_webhook_and_logs_out(
    gateway_url: str, browser: Any, hooks: tuple[Hooks, LiveServer], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    def arrive_at(title: str) -> None:
        """A click starts a navigation; wait for the new page rather than read the old one."""
        WebDriverWait(browser, 20).until(expected_conditions.title_is(f"{title} · gateway"))

    order = paid_sandbox_order(gateway_url, "ops-browser-0001")

    browser.get(f"{gateway_url}/console/")
    arrive_at("Log in")
    browser.find_element(By.ID, "admin_key").send_keys(ADMIN_KEY)
    browser.find_element(By.ID, "login").click()
    arrive_at("Dashboard")

    search = browser.find_element(By.NAME, "q")
    search.send_keys(order["merchant_order_no"])
    search.submit()
    arrive_at("Orders")
    browser.find_element(By.LINK_TEXT, order["id"]).click()
    arrive_at(f"Order {order['id']}")

    assert browser.find_element(By.ID, "order-status").text == "paid"
    timeline = browser.find_element(By.ID, "timeline").text
    assert "notify: applied" in timeline

    received_before = len(hooks[0].received)
    browser.find_element(By.CSS_SELECTOR, "button.redeliver").click()
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".flash.ok")))
    assert "merchant answered 2xx" in browser.find_element(By.CSS_SELECTOR, ".flash.ok").text
    assert len(hooks[0].received) == received_before + 1
    assert hooks[0].received[-1]["data"]["order"]["id"] == order["id"]
    assert "(console)" in browser.find_element(By.ID, "timeline").text
    screenshot = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / SCREENSHOT.name
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(screenshot))

    browser.find_element(By.ID, "logout").click()
    arrive_at("Log in")
    assert "Logged out" in browser.page_source
    browser.get(f"{gateway_url}/console/")
    arrive_at("Log in")  # the session is gone
