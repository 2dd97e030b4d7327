"""A database that is missing or refuses connections: 503 `database_unavailable` with Retry-After for
API callers, and words saying which on /healthz and /readyz. /readyz also answers not-ready while
the schema is behind the code's migrations or no provider is enabled."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from gateway import create_app
from gateway.store import migrate
from gateway.store.database_state import head_revision
from gateway.testing import ProviderHarness
from tests.conftest import POSTGRES_URL
from tests.gateway.conftest import neutral_settings
from tests.gateway.test_config import closed_port
from tests.support.keys import TEST_API_KEY, KeyedClient

PASSWORD = "db-pa55word-never-shown"
ORDER = {"channel": "wallet", "amount": 100, "currency": "USD", "subject": "T", "body": "B"}  # Example Pay's


@pytest.fixture
def build(tmp_path: Path, neutral_provider: ProviderHarness) -> Iterator[Callable[..., Any]]:
    built: list[Any] = []

    def make(database_url: str, **extra: str) -> Any:
        config = {
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_INSTANCE_PATH": str(tmp_path),
            **neutral_settings(neutral_provider, "http://127.0.0.1"),
            "GATEWAY_API_KEYS": TEST_API_KEY,
            **extra,
        }
        app = create_app(config)
        app.test_client_class = KeyedClient  # a checkout backend's calls, with its key
        built.append(app)
        return app

    yield make
    for app in built:
        app.extensions["gateway"].db.dispose()


def refusing_postgres() -> str:
    return f"postgresql://gateway:{PASSWORD}@127.0.0.1:{closed_port()}/gateway"


def missing_postgres_database() -> str:
    return make_url(POSTGRES_URL).set(database="gateway_no_such_database").render_as_string(hide_password=False)


CASES = [
    pytest.param(refusing_postgres, "refuses connections", id="postgres-refuses-connections"),
    pytest.param(
        missing_postgres_database,
        "missing: the database named in GATEWAY_DATABASE_URL does not exist",
        id="postgres-database-missing",
    ),
]


@pytest.mark.parametrize(("url", "words"), CASES)
def test_api_calls_get_503_database_unavailable_with_retry_after(
    build: Callable[..., Any], url: Callable[[], str], words: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = build(url()).test_client()

    for response in (
        client.post("/v1/orders", json=ORDER),
        client.get("/v1/orders/00000000-0000-0000-0000-000000000001"),
        client.post("/notify/example", data=b'{"event": "evt_x"}', content_type="application/json"),
    ):
        assert response.status_code == 503, response.get_data(as_text=True)
        body = response.get_json()
        assert body["error"] == "database_unavailable" and body["errors"] == {}
        assert response.headers["Retry-After"].isdigit()
        assert PASSWORD not in response.get_data(as_text=True)
    assert f"the database {words}" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize(("url", "words"), CASES)
def test_healthz_and_readyz_say_what_is_wrong_with_the_database(
    build: Callable[..., Any], url: Callable[[], str], words: str
) -> None:
    client = build(url()).test_client()

    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json() == {"status": "unavailable", "database": pytest.approx(health.get_json()["database"])}
    assert health.get_json()["database"].startswith(words)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["status"] == "not_ready"
    assert ready.get_json()["reasons"][0].startswith(f"database: {words}")


def test_a_sqlite_database_without_tables_is_unavailable_and_not_ready(
    build: Callable[..., Any], tmp_path: Path
) -> None:
    client = build(f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}").test_client()

    created = client.post("/v1/orders", json=ORDER)
    assert created.status_code == 503 and created.get_json()["error"] == "database_unavailable"
    assert client.get("/healthz").status_code == 200  # alive: restarting would not help
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["reasons"] == [
        f"database: schema at nothing, the code expects {head_revision()}: run `gateway db upgrade`"
    ]


def test_readyz_is_not_ready_while_migrations_are_behind_then_ready(build: Callable[..., Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.sqlite3'}"
    migrate.upgrade(url, "0005")
    client = build(url).test_client()

    behind = client.get("/readyz")
    assert behind.status_code == 503
    assert behind.get_json()["reasons"] == [
        f"database: schema at 0005, the code expects {head_revision()}: run `gateway db upgrade`"
    ]
    migrate.upgrade(url)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {
        "status": "ready",
        "database": f"schema at {head_revision()} (the newest)",
        "providers": ["example"],
    }


def test_readyz_is_not_ready_without_a_provider_and_healthz_stays_alive(sqlite_url: str, tmp_path: Path) -> None:
    app = create_app(
        {"GATEWAY_DATABASE_URL": sqlite_url, "GATEWAY_INSTANCE_PATH": str(tmp_path), "GATEWAY_API_KEYS": TEST_API_KEY}
    )
    try:
        client = app.test_client()
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["reasons"] == ["providers: none enabled"]
        assert client.get("/healthz").status_code == 200
    finally:
        app.extensions["gateway"].db.dispose()
