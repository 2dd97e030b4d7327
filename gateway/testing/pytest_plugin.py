"""The kit's pytest plugin (entry point `pytest11`): the conformance marker and the fixtures.

pytest imports this module at the start of every session wherever the gateway is installed, so
it imports nothing heavy at module level: the Flask, SQLAlchemy and Alembic stack behind
`gateway.testing.live` is only paid for when a fixture that needs it runs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gateway.testing.harness import ProviderHarness

if TYPE_CHECKING:
    from gateway.testing.live import LiveGateway

MARKER = "gateway_conformance"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: the gateway provider conformance suite (gateway.testing)")


@pytest.fixture
def gateway_harness(harness: ProviderHarness) -> Iterator[ProviderHarness]:
    """The `harness` fixture's harness, started for the test and stopped after it."""
    if not isinstance(harness, ProviderHarness):
        pytest.fail(f"the `harness` fixture must return a gateway.testing.ProviderHarness, not {harness!r}")
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture(scope="session")
def gateway_migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Alembic runs once per session; each gateway gets a copy of the file."""
    from gateway.testing.live import migrated_database  # imported here: see the module docstring

    return migrated_database(tmp_path_factory.mktemp("gateway-template") / "gateway.sqlite3")


@pytest.fixture
def gateway_factory(
    gateway_harness: ProviderHarness,
    gateway_migrated_database: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., LiveGateway]]:
    """`build(settings={}, without=())`: a new gateway for the harness, with `settings` over
    `harness.settings(url)` and none of the settings named in `without` (neither there nor in the environment)."""
    from gateway.testing.live import LiveGateway

    for name in [name for name in os.environ if name.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)  # a developer's GATEWAY_API_KEYS or GATEWAY_SANDBOX must not change results
    built: list[LiveGateway] = []

    def build(settings: Mapping[str, str] | None = None, without: Sequence[str] = ()) -> LiveGateway:
        for name in without:
            monkeypatch.delenv(name, raising=False)
        directory = tmp_path_factory.mktemp("gateway")
        database = directory / "gateway.sqlite3"
        shutil.copyfile(gateway_migrated_database, database)
        built.append(LiveGateway(gateway_harness, directory, database, settings or {}, without))
        return built[-1]

    yield build
    for gateway in built:
        gateway.close()


@pytest.fixture
def gateway_under_test(gateway_factory: Callable[..., LiveGateway]) -> LiveGateway:
    """The gateway built from `harness.settings(url)` alone."""
    return gateway_factory()
