"""GET /pay?channelid=...&amount=...: the reference merchant API a mobile app calls.

The app gets the payParams object itself (not wrapped) and the order id in the
`Gateway-Order-Id` header. Amounts are dollars as text, parsed without floats.
Every test runs on SQLite and PostgreSQL against Example Pay's simulator (examples/) over HTTP: its
channel `wallet` answers SDK params, and its first currency, USD, is the default (a real provider's
SDK channels are tested with that provider, under tests/<provider>/).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import redis
from sqlalchemy import func, select

from gateway.domain.ratelimit import key_prefix
from gateway.plugin.settings import ConfigError, Settings
from gateway.store.models import Order
from tests.conftest import IN_CI

pytestmark = pytest.mark.neutral

MISSING = object()  # "leave this parameter out of the query string"
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")  # a database of the tests' own


@pytest.fixture
def app(app_factory: Callable[..., Any]) -> Any:
    """/pay is off outside the sandbox unless turned on."""
    return app_factory(GATEWAY_PAY_ENDPOINT="1")


def pay_url(**params: Any) -> str:
    query = {"channelid": "wallet", "amount": "28.56"}
    for name, value in params.items():
        if value is MISSING:
            query.pop(name, None)
        else:
            query[name] = value
    return "/pay?" + urlencode(query, quote_via=quote)  # " 1" -> %201, "+1" -> %2B1


def order_count(app: Any) -> int:
    with app.extensions["gateway"].db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def stored_order(app: Any, order_id: str) -> Order | None:
    with app.extensions["gateway"].db.transaction() as session:
        return session.get(Order, order_id)


def assert_error_shape(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict)
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    assert "Gateway-Order-Id" not in response.headers
    return body


# -- success ------------------------------------------------------------------------------------


def test_pay_answers_200_with_the_pay_params_object_itself_and_the_order_id_header(app: Any, client: Any) -> None:
    response = client.get(pay_url(amount="28.56"))

    assert response.status_code == 200, response.get_data(as_text=True)
    pay_params = response.get_json()
    assert pay_params == {"payment_id": pay_params["payment_id"]}  # what Example Pay's app SDK needs, not wrapped
    order_id = response.headers["Gateway-Order-Id"]
    stored = stored_order(app, order_id)
    assert stored is not None
    assert (stored.amount, stored.currency, stored.channel, stored.status) == (2856, "USD", "wallet", "pending")
    assert stored.pay_params == pay_params
    assert order_count(app) == 1
    # The /v1 API shows the same order and the same pay params.
    shown = client.get(f"/v1/orders/{order_id}").get_json()
    assert shown["pay_params"] == pay_params
    assert (shown["amount"], shown["currency"]) == (2856, "USD")


@pytest.mark.parametrize(
    ("amount", "currency", "minor_units"),
    [
        pytest.param("28.56", MISSING, 2856, id="28.56"),
        pytest.param("19.99", MISSING, 1999, id="19.99-not-float-1998"),
        pytest.param("0.29", MISSING, 29, id="0.29-not-float-28"),
        pytest.param("0.1", MISSING, 10, id="0.1"),
        pytest.param("0.01", MISSING, 1, id="one-cent"),
        pytest.param("5", MISSING, 500, id="whole-dollars"),
        pytest.param("5.00", MISSING, 500, id="whole-dollars-with-cents"),
        pytest.param("21474836.47", MISSING, 2**31 - 1, id="largest-int32"),
        pytest.param("19.99", "USD", 1999, id="usd-explicit"),
        pytest.param("1999", "JPY", 1999, id="jpy-has-no-decimals"),
    ],
)
def test_pay_stores_the_exact_amount_in_minor_units(
    app: Any, client: Any, amount: str, currency: Any, minor_units: int
) -> None:
    response = client.get(pay_url(amount=amount, currency=currency))

    assert response.status_code == 200, response.get_data(as_text=True)
    stored = stored_order(app, response.headers["Gateway-Order-Id"])
    assert stored is not None
    expected_currency = "USD" if currency is MISSING else currency
    assert (stored.amount, stored.currency) == (minor_units, expected_currency)


# -- refusals: 422, the parameter at fault, nothing stored ---------------------------------------


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param("1.999", id="more-decimals-than-cents"),
        pytest.param("1e3", id="exponent"),
        pytest.param("NaN", id="nan"),
        pytest.param("inf", id="inf"),
        pytest.param("-1", id="negative"),
        pytest.param("+1", id="plus-sign"),
        pytest.param("0", id="zero"),
        pytest.param("0.00", id="zero-with-cents"),
        pytest.param(" 1", id="leading-space"),
        pytest.param("1 ", id="trailing-space"),
        pytest.param("1.", id="trailing-dot"),
        pytest.param(".5", id="leading-dot"),
        pytest.param("1,000", id="thousands-separator"),
        pytest.param("1,5", id="decimal-comma"),
        pytest.param("0x10", id="hex"),
        pytest.param("\u0661", id="non-ascii-digit"),
        pytest.param("21474836.48", id="over-int32"),
        pytest.param("", id="empty"),
        pytest.param(MISSING, id="missing"),
    ],
)
def test_pay_refuses_an_amount_that_is_not_plain_dollars_and_cents(app: Any, client: Any, amount: Any) -> None:
    response = client.get(pay_url(amount=amount))

    body = assert_error_shape(response, 422, "validation_error")
    assert list(body["errors"]) == ["amount"]
    assert order_count(app) == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"channelid": "cheque"}, "channelid", id="channel-unknown"),
        pytest.param({"channelid": ""}, "channelid", id="channel-empty"),
        pytest.param({"channelid": MISSING}, "channelid", id="channel-missing"),
        pytest.param({"currency": "EUR"}, "currency", id="currency-not-taken-by-the-provider"),
        pytest.param({"currency": "usd"}, "currency", id="currency-lowercase"),
        pytest.param({"currency": "XYZ"}, "currency", id="currency-unknown"),
    ],
)
def test_pay_refuses_an_unknown_channel_or_currency_naming_the_parameter(
    app: Any, client: Any, params: dict[str, Any], field: str
) -> None:
    response = client.get(pay_url(**params))

    body = assert_error_shape(response, 422, "validation_error")
    assert field in body["errors"], body
    assert "channel" not in body["errors"]  # this endpoint's parameter is `channelid`
    assert order_count(app) == 0


def test_pay_passes_a_provider_refusal_on_as_502_provider_error(app: Any, client: Any, neutral_provider: Any) -> None:
    neutral_provider.fail_next("create_order")

    response = client.get(pay_url())

    body = assert_error_shape(response, 502, "provider_error")
    assert body["provider_error"]["code"] == "simulated_refusal"
    stored = stored_order(app, body["order_id"])
    assert stored is not None and stored.status == "failed"


# -- abuse: HEAD, off by default, rate limit per client IP ---------------------------------------


def test_head_never_creates_an_order(app: Any, client: Any) -> None:
    response = client.head(pay_url())

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert order_count(app) == 0


@pytest.mark.parametrize("setting", [MISSING, "0"], ids=["unset", "0"])
def test_outside_the_sandbox_pay_is_off_unless_turned_on(app_factory: Callable[..., Any], setting: Any) -> None:
    app = app_factory() if setting is MISSING else app_factory(GATEWAY_PAY_ENDPOINT=setting)

    response = app.test_client().get(pay_url())

    assert_error_shape(response, 404, "not_found")
    assert order_count(app) == 0
    assert "/pay" not in app.test_client().get("/openapi.json").get_json()["paths"]


def test_start_up_says_that_pay_is_on_and_its_limit(
    app_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    app_factory(GATEWAY_PAY_ENDPOINT="1")
    app_factory(GATEWAY_PAY_ENDPOINT="1", GATEWAY_PAY_RATE_LIMIT="5/hour")

    said = [record.getMessage() for record in caplog.records if record.getMessage().startswith("/pay is on")]
    assert len(said) == 2, caplog.text
    assert "60/minute per client IP" in said[0] and "5/hour per client IP" in said[1]
    assert all(record.levelno == logging.WARNING for record in caplog.records if record.getMessage() in said)


def get_from(client: Any, address: str, **params: Any) -> Any:
    return client.get(pay_url(**params), environ_base={"REMOTE_ADDR": address})


def assert_rate_limited(response: Any) -> None:
    body = assert_error_shape(response, 429, "too_many_requests")
    assert body["errors"] == {}
    assert int(response.headers["Retry-After"]) > 0


def test_the_default_limit_is_60_calls_a_minute_per_client_ip(app: Any, client: Any) -> None:
    # Invalid amounts create nothing but still count: the limit is on calls, not on orders.
    answers = [get_from(client, "198.51.100.7", amount="x").status_code for _ in range(60)]
    assert answers == [422] * 60

    assert_rate_limited(get_from(client, "198.51.100.7"))
    assert get_from(client, "198.51.100.8").status_code == 200  # another payer is not held up
    assert order_count(app) == 1


def test_the_limit_is_configurable_and_counts_per_ip(app_factory: Callable[..., Any]) -> None:
    app = app_factory(GATEWAY_PAY_ENDPOINT="1", GATEWAY_PAY_RATE_LIMIT="2/minute")
    client = app.test_client()

    assert [get_from(client, "203.0.113.1").status_code for _ in range(2)] == [200, 200]
    assert_rate_limited(get_from(client, "203.0.113.1"))
    assert get_from(client, "203.0.113.2").status_code == 200
    assert order_count(app) == 3


def test_behind_a_trusted_proxy_the_limit_is_per_real_client(app_factory: Callable[..., Any]) -> None:
    app = app_factory(GATEWAY_PAY_ENDPOINT="1", GATEWAY_PAY_RATE_LIMIT="1/minute", GATEWAY_TRUSTED_PROXIES="1")
    client = app.test_client()

    def via_proxy(payer: str) -> Any:
        return client.get(pay_url(), headers={"X-Forwarded-For": payer}, environ_base={"REMOTE_ADDR": "10.0.0.2"})

    assert via_proxy("203.0.113.1").status_code == 200
    assert via_proxy("203.0.113.2").status_code == 200  # same proxy, another payer
    assert_rate_limited(via_proxy("203.0.113.1"))


def test_a_malformed_rate_limit_stops_start_up(app_factory: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError) as exc_info:
        app_factory(GATEWAY_PAY_ENDPOINT="1", GATEWAY_PAY_RATE_LIMIT="lots")
    assert exc_info.value.variable == "GATEWAY_PAY_RATE_LIMIT"


@pytest.fixture
def redis_url(gateway_server: Any) -> Iterator[str]:
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.RedisError as exc:
        connection.close()
        if IN_CI:
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc} (CI requires it)")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    yield REDIS_URL
    # This deployment's counters only: the prefix is derived from its public URL.
    prefix = key_prefix(Settings({"GATEWAY_PUBLIC_URL": gateway_server.url}, ""))
    for key in connection.scan_iter(match=f"*{prefix}*"):
        connection.delete(key)
    connection.close()


def test_with_redis_every_worker_counts_against_one_limit(app_factory: Callable[..., Any], redis_url: str) -> None:
    """Two apps with one public URL are two workers (or machines) of one deployment."""
    config = {"GATEWAY_PAY_ENDPOINT": "1", "GATEWAY_PAY_RATE_LIMIT": "3/minute", "GATEWAY_REDIS_URL": redis_url}
    worker_a, worker_b = app_factory(**config).test_client(), app_factory(**config).test_client()

    assert get_from(worker_a, "192.0.2.50", amount="x").status_code == 422
    assert get_from(worker_b, "192.0.2.50", amount="x").status_code == 422
    assert get_from(worker_a, "192.0.2.50", amount="x").status_code == 422
    assert_rate_limited(get_from(worker_b, "192.0.2.50"))
    assert_rate_limited(get_from(worker_a, "192.0.2.50"))


def test_when_redis_does_not_answer_each_process_still_limits_in_memory(app_factory: Callable[..., Any]) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    app = app_factory(
        GATEWAY_PAY_ENDPOINT="1", GATEWAY_PAY_RATE_LIMIT="2/minute", GATEWAY_REDIS_URL=f"redis://127.0.0.1:{closed}/0"
    )
    client = app.test_client()

    assert [get_from(client, "192.0.2.60", amount="x").status_code for _ in range(2)] == [422, 422]
    assert_rate_limited(get_from(client, "192.0.2.60"))
