"""Shared fixtures: real databases (SQLite and PostgreSQL), a real IOTPay simulator over HTTP,
and the gateway served over HTTP so the simulator's notifies reach it for real."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from gateway_iotpay.sandbox.app import create_simulator
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from gateway import create_app
from gateway.store import migrate
from gateway.store.models import Base
from gateway.testing.live import LiveServer
from tests.support.keys import TEST_API_KEY, KeyedClient

MCH_ID = "10000701"
MCH_KEY = "9a7c3e1f5b2d4c6e8f0a1b3c5d7e9f01"
POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own GATEWAY_*, IOTPAY_*, STRIPE_*, EXAMPLE_* variables must not change what tests see."""
    for name in list(os.environ):
        if name.startswith(("GATEWAY_", "IOTPAY_", "STRIPE_", "EXAMPLE_")) and name != "GATEWAY_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


# -- servers -----------------------------------------------------------------------------------


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Any]:
    sim = create_simulator(
        {MCH_ID: MCH_KEY}, str(tmp_path / "simulator.sqlite3"), notify_retry_delays=(0.05, 0.1, 0.2, 0.4)
    )
    server = LiveServer(sim)
    sim.url = server.url  # type: ignore[attr-defined]
    yield sim
    server.stop()
    sim.close()


@pytest.fixture
def simulator_faults(simulator: Any) -> Callable[..., None]:
    """Make the simulator's next call(s) of an operation misbehave, as the real IOTPay might."""

    def inject(operation: str, mode: str, **extra: Any) -> None:
        response = requests.post(
            f"{simulator.url}/faults", json={"operation": operation, "mode": mode, **extra}, timeout=5
        )
        assert response.status_code < 300, response.text

    return inject


# -- databases ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session's own, so parallel runs on one server never meet."""
    server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"gateway_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with server.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    except OperationalError as exc:
        server.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.orig}"
        if IN_CI:
            pytest.fail(message + " (CI requires it)")
        pytest.skip(message)
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with server.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    server.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage/notify test runs on both databases, each migrated by Alembic."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Alembic runs once per session; each test gets a copy of the migrated file."""
    template = tmp_path_factory.mktemp("template") / "gateway.sqlite3"
    migrate.upgrade(f"sqlite:///{template}")
    return template


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite_template: Path) -> str:
    database = tmp_path / "gateway.sqlite3"
    shutil.copyfile(migrated_sqlite_template, database)
    return f"sqlite:///{database}"


# -- the gateway -------------------------------------------------------------------------------


def gateway_config(
    database_url: str, simulator_url: str, public_url: str, instance: Path, **extra: Any
) -> dict[str, Any]:
    return {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_PUBLIC_URL": public_url,
        "GATEWAY_INSTANCE_PATH": str(instance),
        "IOTPAY_MCH_ID": MCH_ID,
        "IOTPAY_SECRET_KEY": MCH_KEY,
        "IOTPAY_API_URL": f"{simulator_url}/v1",
        "IOTPAY_JOB_NO": "cashier01",
        "IOTPAY_WX_APP_ID": "wx1234567890abcdef",
        "IOTPAY_TIMEOUT": "2",
        # Outside the sandbox the gateway refuses to start without API keys; the test clients send this one.
        "GATEWAY_API_KEYS": TEST_API_KEY,
        **extra,
    }


@pytest.fixture
def gateway_server() -> Iterator[LiveServer]:
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture
def app_factory(
    database_url: str, simulator: Any, gateway_server: LiveServer, tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    """Build the gateway app (served at `gateway_server.url`) with extra config."""
    built: list[Any] = []

    def build(**extra: Any) -> Any:
        app = create_app(
            gateway_config(database_url, simulator.url, gateway_server.url, tmp_path / "instance", **extra)
        )
        gateway_server.app = app
        built.append(app)
        if TEST_API_KEY in app.extensions["gateway"].settings.api_keys:
            app.test_client_class = KeyedClient  # app.test_client() sends the key, as a real backend would
        return app

    yield build
    for app in built:
        app.extensions["gateway"].db.dispose()


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """create_app with a throw-away SQLite database and instance folder, plus `config` (no provider
    unless `config` configures one)."""
    built: list[Any] = []

    def build(**config: Any) -> Any:
        base = {
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
            "GATEWAY_INSTANCE_PATH": str(tmp_path),
            "GATEWAY_API_KEYS": TEST_API_KEY,  # GATEWAY_API_KEYS="" to see the gateway without one
        }
        app = create_app({**base, **config})
        built.append(app)
        if TEST_API_KEY in app.extensions["gateway"].settings.api_keys:
            app.test_client_class = KeyedClient
        return app

    yield build
    for app in built:
        app.extensions["gateway"].db.dispose()


@pytest.fixture
def app(app_factory: Callable[..., Any]) -> Any:
    return app_factory()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()
