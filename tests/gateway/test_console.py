"""The operator console: who gets in, what it shows, and its safe actions (each audited)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gateway.plugin.clock import utcnow
from gateway.plugin.settings import ConfigError
from gateway.store.models import ConsoleAction, OutboxEvent, Refund, RefundStatus
from gateway.testing.live import LiveServer
from gateway.web.console.access import fingerprint
from tests.support.flows import order_with, paid_with

pytestmark = pytest.mark.neutral

ADMIN_KEY = "console-admin-key-0123456789"
WEBHOOK_SECRET = "whsec-console-test-0123456789"


class Receiver:
    """A merchant's webhook endpoint that answers `status` and remembers what it got."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.received.append(environ["wsgi.input"].read(length))
        start_response(f"{self.status} X", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, LiveServer]]:
    endpoint = Receiver()
    server = LiveServer(endpoint)
    yield endpoint, server
    server.stop()


@pytest.fixture
def console_app(app_factory: Callable[..., Any], receiver: tuple[Receiver, LiveServer]) -> Any:
    return app_factory(
        GATEWAY_ADMIN_KEYS=f"alice={ADMIN_KEY}",
        GATEWAY_WEBHOOK_URL=f"{receiver[1].url}/hooks",
        GATEWAY_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )


def csrf_of(page: bytes) -> str:
    found = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert found, "the form carries no CSRF token"
    return found.group(1).decode()


def logged_in(app: Any) -> Any:
    client = app.test_client()
    token = csrf_of(client.get("/console/login").data)
    response = client.post("/console/login", data={"admin_key": ADMIN_KEY, "csrf_token": token})
    assert response.status_code == 302, response.data
    return client


def post_action(client: Any, page_url: str, action_url: str, **fields: str) -> Any:
    token = csrf_of(client.get(page_url).data)
    return client.post(action_url, data={"csrf_token": token, **fields}, follow_redirects=True)


def audit(app: Any) -> list[ConsoleAction]:
    with app.extensions["gateway"].db.transaction() as session:
        return list(session.scalars(select(ConsoleAction).order_by(ConsoleAction.id)))


# -- getting in ------------------------------------------------------------------------------------


def test_every_page_sends_a_stranger_to_the_login(console_app: Any) -> None:
    client = console_app.test_client()
    for path in ("/console/", "/console/orders?q=x", "/console/orders/00000000-0000-0000-0000-000000000000"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/console/login")


def test_a_wrong_key_or_an_api_key_does_not_open_the_console(app_factory: Callable[..., Any]) -> None:
    app = app_factory(GATEWAY_ADMIN_KEYS=ADMIN_KEY, GATEWAY_API_KEYS="api-key-0123456789abcdef")
    client = app.test_client()
    for wrong in ("nope", "api-key-0123456789abcdef", ADMIN_KEY + "x"):
        token = csrf_of(client.get("/console/login").data)
        response = client.post("/console/login", data={"admin_key": wrong, "csrf_token": token})
        assert response.status_code == 401
        assert client.get("/console/").status_code == 302


def test_login_sets_an_httponly_samesite_cookie_secure_behind_https(app_factory: Callable[..., Any]) -> None:
    for public_url, secure in (("http://127.0.0.1:1", False), ("https://pay.example.com", True)):
        app = app_factory(GATEWAY_ADMIN_KEYS=ADMIN_KEY, GATEWAY_PUBLIC_URL=public_url)
        client = app.test_client()
        token = csrf_of(client.get("/console/login").data)
        response = client.post("/console/login", data={"admin_key": ADMIN_KEY, "csrf_token": token})
        cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("gateway_console="))
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
        assert ("Secure" in cookie) is secure
        assert ADMIN_KEY not in cookie


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(console_app: Any, neutral_provider: Any) -> None:
    client = logged_in(console_app)
    order = order_with(console_app.test_client(), neutral_provider)
    for token in (None, "forged"):
        data = {} if token is None else {"csrf_token": token}
        response = client.post(f"/console/orders/{order['id']}/refresh", data=data)
        assert response.status_code == 400
    assert client.post("/console/login", data={"admin_key": ADMIN_KEY}).status_code == 400  # login CSRF too
    assert audit(console_app) == []


def test_logout_ends_the_session(console_app: Any) -> None:
    client = logged_in(console_app)
    assert client.get("/console/").status_code == 200
    response = post_action(client, "/console/", "/console/logout")
    assert b"Logged out" in response.data
    assert client.get("/console/").status_code == 302


def test_removing_an_admin_key_ends_its_sessions(app_factory: Callable[..., Any]) -> None:
    client = logged_in(app_factory(GATEWAY_ADMIN_KEYS=ADMIN_KEY))
    cookie = client.get_cookie("gateway_console", path="/console")
    other = app_factory(GATEWAY_ADMIN_KEYS="another-admin-key-0123456789").test_client()
    other.set_cookie("gateway_console", cookie.value, path="/console")
    assert other.get("/console/").status_code == 302


def test_login_never_redirects_off_the_console(console_app: Any) -> None:
    client = console_app.test_client()
    token = csrf_of(client.get("/console/login").data)
    for target in ("https://evil.example/", "//evil.example/console/", "/v1/orders"):
        response = client.post(f"/console/login?next={target}", data={"admin_key": ADMIN_KEY, "csrf_token": token})
        assert response.headers["Location"] == "/console/"
        token = csrf_of(client.get("/console/").data)


@pytest.mark.parametrize("keys", ["short", "bad label!=console-admin-key-0123456789"])
def test_weak_or_malformed_admin_keys_stop_start_up(app_factory: Callable[..., Any], keys: str) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_ADMIN_KEYS"):
        app_factory(GATEWAY_ADMIN_KEYS=keys)


def test_without_admin_keys_the_console_says_it_is_off(client: Any) -> None:
    response = client.get("/console/login")
    assert b"The console is off" in response.data


# -- what it shows ---------------------------------------------------------------------------------


def test_dashboard_counts_orders_by_status_and_lists_stuck_orders(console_app: Any, neutral_provider: Any) -> None:
    api = console_app.test_client()
    paid_with(api, neutral_provider)
    stuck = order_with(api, neutral_provider)
    with console_app.extensions["gateway"].db.transaction() as session:
        from gateway.store.models import Order

        session.get(Order, stuck["id"]).expires_at = utcnow() - timedelta(minutes=5)
    page = logged_in(console_app).get("/console/").data.decode()
    assert re.search(r'id="count-paid">1<', page)
    assert re.search(r'id="count-pending">1<', page)
    assert stuck["id"] in page
    assert re.search(r'id="webhook-backlog">1<', page)  # the order.paid event, not delivered yet


def test_search_finds_an_order_by_each_of_its_ids(console_app: Any, neutral_provider: Any) -> None:
    order = order_with(console_app.test_client(), neutral_provider, merchant_reference="cart-77")
    client = logged_in(console_app)
    for text in (order["id"], order["merchant_order_no"], order["provider_order_id"], "cart-77"):
        page = client.get("/console/orders", query_string={"q": text}).data.decode()
        assert f"/console/orders/{order['id']}" in page, text
    assert "No order matches" in client.get("/console/orders?q=nothing-like-it").data.decode()


def test_the_order_page_shows_the_whole_timeline(console_app: Any, neutral_provider: Any) -> None:
    order = paid_with(console_app.test_client(), neutral_provider)
    page = logged_in(console_app).get(f"/console/orders/{order['id']}").data.decode()
    assert "notify: applied" in page
    assert "create_order: ok" in page
    assert "webhook event order.paid" in page
    assert 'id="order-status">paid<' in page


# -- actions -----------------------------------------------------------------------------------------


def test_redeliver_posts_the_webhook_now_and_audits_who_did_it(
    console_app: Any, neutral_provider: Any, receiver: tuple[Receiver, LiveServer]
) -> None:
    order = paid_with(console_app.test_client(), neutral_provider)
    with console_app.extensions["gateway"].db.transaction() as session:
        event = session.scalars(select(OutboxEvent).where(OutboxEvent.order_id == order["id"])).one()
    client = logged_in(console_app)
    page_url = f"/console/orders/{order['id']}"
    response = post_action(client, page_url, f"{page_url}/webhooks/{event.id}/redeliver")
    assert b"merchant answered 2xx" in response.data
    assert len(receiver[0].received) == 1 and event.id.encode() in receiver[0].received[0]
    assert b"answer: 2xx (console)" in response.data  # the delivery is on the timeline
    receiver[0].status = 500
    response = post_action(client, page_url, f"{page_url}/webhooks/{event.id}/redeliver")
    assert b"did not accept it: HTTP 500" in response.data
    actions = audit(console_app)
    assert [(a.admin, a.action, a.event_id) for a in actions] == [
        (f"alice ({fingerprint(ADMIN_KEY)})", "redeliver_webhook", event.id)
    ] * 2
    assert all(ADMIN_KEY not in a.admin for a in actions)


def test_ask_the_provider_now_queries_it_and_shows_the_call(console_app: Any, neutral_provider: Any) -> None:
    order = order_with(console_app.test_client(), neutral_provider)
    client = logged_in(console_app)
    page_url = f"/console/orders/{order['id']}"
    response = post_action(client, page_url, f"{page_url}/refresh")
    assert b"order is pending" in response.data
    assert b"query_order: ok" in response.data
    assert [a.action for a in audit(console_app)] == ["refresh"]


def test_settling_a_refund_by_hand_is_refused_while_a_provider_call_may_be_running(
    console_app: Any, neutral_provider: Any
) -> None:
    order = paid_with(console_app.test_client(), neutral_provider)
    db = console_app.extensions["gateway"].db
    refund_id = "5b0c2b9e-1f0a-4f5e-9a53-8d6f0f6f4c11"
    with db.transaction() as session:
        session.add(
            Refund(
                id=refund_id,
                order_id=order["id"],
                amount=100,
                currency="USD",
                status=RefundStatus.UNKNOWN.value,
                attempts=1,
                claimed_until=utcnow() + timedelta(minutes=10),
            )
        )
    client = logged_in(console_app)
    page_url = f"/console/orders/{order['id']}"
    settle_url = f"{page_url}/refunds/{refund_id}/settle"
    response = post_action(client, page_url, settle_url, outcome="failed", note="portal says failed")
    assert b"may still be running" in response.data
    with db.transaction() as session:
        assert session.get(Refund, refund_id).status == RefundStatus.UNKNOWN.value
        session.get(Refund, refund_id).claimed_until = None
    response = post_action(client, page_url, settle_url, outcome="failed", note="portal says failed")
    assert f"refund {refund_id} failed".encode() in response.data
    with db.transaction() as session:
        assert session.get(Refund, refund_id).status == RefundStatus.FAILED.value
    refused, settled = audit(console_app)  # the refused attempt is audited too: who tried, and why it was refused
    assert (refused.action, refused.refund_id, refused.note) == ("settle_refund", refund_id, "portal says failed")
    assert refused.result.startswith("refused: A provider call for this refund may still be running"), refused.result
    assert (settled.action, settled.refund_id, settled.note) == ("settle_refund", refund_id, "portal says failed")
    assert settled.result.startswith(f"refund {refund_id} failed"), settled.result


# -- text no record can hold -----------------------------------------------------------------------


def test_a_nul_byte_or_an_overlong_id_is_refused_or_not_found_never_a_500(
    console_app: Any, neutral_provider: Any
) -> None:
    """PostgreSQL refuses NUL in text, and longer text than a column holds: in a filter or in an
    action's path it must be answered like any other bad filter or unknown record."""
    order = paid_with(console_app.test_client(), neutral_provider)
    client = logged_in(console_app)
    page_url = f"/console/orders/{order['id']}"

    for name in ("q", "status", "merchant", "account", "provider"):
        for path in ("/console/orders", "/console/orders.csv"):
            response = client.get(f"{path}?{name}=a%00b")
            assert response.status_code == 400, (path, name, response.status_code)
            assert name.encode() in response.data and b"NUL" in response.data
    for bad in ("a%00b", "x" * 300):
        for action_url in (
            f"/console/orders/{bad}/refresh",
            f"/console/orders/{bad}/webhooks/{bad}/redeliver",
            f"{page_url}/webhooks/{bad}/redeliver",
            f"{page_url}/refunds/{bad}/settle",
        ):
            response = post_action(client, page_url, action_url, outcome="failed", note="checked")
            assert response.status_code in (200, 404), (action_url, response.status_code)
            assert b"No such" in response.data, action_url
    assert audit(console_app) == []  # nothing was done to any record
    assert client.get(page_url).status_code == 200
