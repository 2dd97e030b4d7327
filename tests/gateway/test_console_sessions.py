"""Console sessions live on the server: logout ends them for every worker, and they end a fixed
time after the login. Failed logins and failed API keys are limited per client address."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from gateway.plugin.clock import utcnow
from gateway.plugin.settings import ConfigError
from gateway.web.console import sessions
from tests.gateway.test_console import ADMIN_KEY, csrf_of, logged_in, post_action
from tests.support.keys import TEST_API_KEY

COOKIE = "gateway_console"


def cookie_of(client: Any) -> str:
    cookie = client.get_cookie(COOKIE, path="/console")
    assert cookie is not None, "no console cookie"
    return str(cookie.value)


def with_cookie(app: Any, value: str) -> Any:
    client = app.test_client()
    client.set_cookie(COOKIE, value, path="/console")
    return client


@pytest.fixture
def console(app_factory: Callable[..., Any]) -> Callable[..., Any]:
    def build(**extra: str) -> Any:
        return app_factory(GATEWAY_ADMIN_KEYS=f"alice={ADMIN_KEY}", **extra)

    return build


def test_after_logout_the_old_cookie_no_longer_opens_the_console(console: Callable[..., Any]) -> None:
    app = console()
    client = logged_in(app)
    old = cookie_of(client)
    assert with_cookie(app, old).get("/console/").status_code == 200

    post_action(client, "/console/", "/console/logout")

    replayed = with_cookie(app, old).get("/console/")
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/console/login")


def test_logout_on_one_worker_ends_the_session_on_every_worker(console: Callable[..., Any]) -> None:
    first, second = console(), console()  # two processes of one deployment: same keys, same database
    client = logged_in(first)
    cookie = cookie_of(client)
    other = with_cookie(second, cookie)
    assert other.get("/console/").status_code == 200

    post_action(other, "/console/", "/console/logout")

    assert with_cookie(first, cookie).get("/console/").status_code == 302


@pytest.mark.parametrize(("hours", "later", "opens"), [(8, 7.9, True), (8, 8.01, False), (1, 1.01, False)])
def test_a_session_ends_a_fixed_time_after_the_login_however_active(
    console: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, hours: int, later: float, opens: bool
) -> None:
    app = console(GATEWAY_CONSOLE_SESSION_HOURS=str(hours))
    client = logged_in(app)
    started = utcnow()
    for fraction in (0.25, 0.5, 0.75):  # busy all along
        at(monkeypatch, started + timedelta(hours=hours * fraction))
        assert client.get("/console/").status_code == 200

    at(monkeypatch, started + timedelta(hours=later))

    assert (client.get("/console/").status_code == 200) is opens


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(sessions, "utcnow", lambda: moment)


@pytest.mark.parametrize("value", ["0", "169", "abc", "-1"])
def test_an_unusable_session_lifetime_stops_start_up(console: Callable[..., Any], value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        console(GATEWAY_CONSOLE_SESSION_HOURS=value)
    assert refused.value.variable == "GATEWAY_CONSOLE_SESSION_HOURS"


def address() -> str:
    """A client address of this test's own: counters may live in a Redis other runs share."""
    number = uuid.uuid4().int
    return f"10.{number % 250}.{number // 250 % 250}.{number // 62500 % 250 + 1}"


def login(client: Any, key: str) -> Any:
    token = csrf_of(client.get("/console/login").data)
    return client.post("/console/login", data={"admin_key": key, "csrf_token": token})


@pytest.mark.parametrize("redis", [False, True], ids=["memory", "redis"])
def test_failed_logins_are_limited_per_address_with_retry_after(console: Callable[..., Any], redis: bool) -> None:
    extra = {"GATEWAY_REDIS_URL": "redis://127.0.0.1:6379/0"} if redis else {}
    app = console(GATEWAY_AUTH_FAILURE_LIMIT="3 per minute", **extra)
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = address()

    assert [login(guesser, f"wrong-key-{n}-0123456789").status_code for n in range(3)] == [401, 401, 401]
    locked = login(guesser, ADMIN_KEY)  # even the right key: a guesser must not learn which guess was right

    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 60
    assert b"Too many failed logins" in locked.data
    assert guesser.get("/console/").status_code == 302
    someone_else = app.test_client()
    someone_else.environ_base["REMOTE_ADDR"] = address()
    assert login(someone_else, ADMIN_KEY).status_code == 302


def test_failed_logins_count_across_workers_through_redis(console: Callable[..., Any]) -> None:
    extra = {"GATEWAY_AUTH_FAILURE_LIMIT": "3 per minute", "GATEWAY_REDIS_URL": "redis://127.0.0.1:6379/0"}
    first, second = console(**extra).test_client(), console(**extra).test_client()
    first.environ_base["REMOTE_ADDR"] = second.environ_base["REMOTE_ADDR"] = address()

    assert [login(first, "wrong-key-0123456789").status_code for _ in range(2)] == [401, 401]
    assert login(second, "wrong-key-0123456789").status_code == 401

    assert login(first, ADMIN_KEY).status_code == 429


def test_failed_api_keys_are_limited_per_address_in_the_one_error_shape(app_factory: Callable[..., Any]) -> None:
    app = app_factory(GATEWAY_AUTH_FAILURE_LIMIT="3 per minute")
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = address()
    wrong = {"Authorization": "Bearer wrong-key-0123456789abcdef"}

    assert [guesser.get("/v1/providers", headers=wrong).status_code for _ in range(2)] == [401, 401]
    assert guesser.get("/v1/providers", headers={"Authorization": ""}).status_code == 401  # no key counts too
    locked = guesser.get("/v1/providers", headers={"Authorization": f"Bearer {TEST_API_KEY}"})

    assert locked.status_code == 429
    body = locked.get_json()
    assert (body["error"], body["errors"]) == ("too_many_requests", {})
    assert "failed attempts" in body["message"]
    assert 0 < int(locked.headers["Retry-After"]) <= 60
    assert TEST_API_KEY not in locked.get_data(as_text=True)
    someone_else = app.test_client()
    someone_else.environ_base["REMOTE_ADDR"] = address()
    assert someone_else.get("/v1/providers").status_code == 200


def test_good_api_keys_are_never_limited(app_factory: Callable[..., Any]) -> None:
    app = app_factory(GATEWAY_AUTH_FAILURE_LIMIT="3 per minute")
    client = app.test_client()

    assert {client.get("/v1/providers").status_code for _ in range(10)} == {200}


def test_with_redis_unreachable_failed_keys_are_still_limited_in_memory(app_factory: Callable[..., Any]) -> None:
    app = app_factory(GATEWAY_AUTH_FAILURE_LIMIT="2 per minute", GATEWAY_REDIS_URL="redis://127.0.0.1:1/0")
    client = app.test_client()
    wrong = {"Authorization": "Bearer wrong-key-0123456789abcdef"}

    statuses = [client.get("/v1/providers", headers=wrong).status_code for _ in range(3)]

    assert statuses == [401, 401, 429]
