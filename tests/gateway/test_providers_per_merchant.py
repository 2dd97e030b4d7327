"""`GET /v1/providers` answers each merchant with what its own orders can use: the environment's
providers for the environment's merchant (as before merchants existed), a stored merchant's own
accounts for its keys. Never a setting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from gateway.store.models import ProviderAccount
from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer
from tests.support.keys import AUTH
from tests.support.merchants import ACCOUNT_SECRET, CREDENTIALS_KEY, add_account, cli, merchant, merchants_app

# What the environment's merchant was answered before merchants existed: these fields, no account.
TODAYS_FIELDS = {
    "name", "display_name", "channels", "channel_details", "currencies", "operations", "notifications", "sandbox",
}  # fmt: skip


@pytest.fixture
def app(app_factory: Callable[..., Any], neutral_provider: ProviderHarness, gateway_server: LiveServer) -> Any:
    return merchants_app(app_factory, neutral_provider, gateway_server)


def test_a_stored_merchant_sees_its_own_accounts_with_their_channels_and_currencies(
    app: Any, neutral_provider: Any, tmp_path: Path
) -> None:
    tea, tea_key = merchant(app, "Tea House")
    main = add_account(app, tea, "main", neutral_provider, tmp_path)
    spare = add_account(app, tea, "spare", neutral_provider, tmp_path)
    cli(app, "accounts", "disable", spare["id"])
    other, _ = merchant(app, "Book Shop")
    add_account(app, other, "books", neutral_provider, tmp_path)

    response = app.test_client().get("/v1/providers", headers=tea_key)

    assert response.status_code == 200
    listed = response.get_json()
    assert [(item["account"], item["account_name"], item["enabled"]) for item in listed] == [
        (main["id"], "main", True),
        (spare["id"], "spare", False),
    ]
    environment = app.test_client().get("/v1/providers", headers=AUTH).get_json()[0]
    for item in listed:
        assert item["name"] == "example" and item["channels"] == ["wallet"]
        assert {key: item[key] for key in TODAYS_FIELDS} == environment  # the manifest, as the environment's
    assert ACCOUNT_SECRET not in response.get_data(as_text=True)
    assert CREDENTIALS_KEY not in response.get_data(as_text=True)


def test_a_stored_merchant_without_accounts_sees_none_not_the_environments(app: Any) -> None:
    _, key = merchant(app, "Empty Shop")
    assert app.test_client().get("/v1/providers", headers=key).get_json() == []


def test_the_environments_merchant_is_answered_as_before_merchants_existed(
    app: Any, neutral_provider: Any, tmp_path: Path
) -> None:
    tea, _ = merchant(app, "Tea House")
    add_account(app, tea, "main", neutral_provider, tmp_path)

    listed = app.test_client().get("/v1/providers", headers=AUTH).get_json()

    assert [item["name"] for item in listed] == ["example"]
    assert set(listed[0]) == TODAYS_FIELDS


def test_an_account_that_cannot_be_served_is_left_out_not_a_500(
    app: Any, neutral_provider: Any, tmp_path: Path
) -> None:
    tea, key = merchant(app, "Tea House")
    main = add_account(app, tea, "main", neutral_provider, tmp_path)
    gone = add_account(app, tea, "gone", neutral_provider, tmp_path)
    with app.extensions["gateway"].db.transaction() as session:
        session.execute(update(ProviderAccount).where(ProviderAccount.id == gone["id"]).values(provider="retired"))

    response = app.test_client().get("/v1/providers", headers=key)

    assert response.status_code == 200
    assert [item["account"] for item in response.get_json()] == [main["id"]]


def test_without_the_credentials_key_the_accounts_are_left_out_not_an_error(
    app_factory: Callable[..., Any], neutral_provider: ProviderHarness, gateway_server: LiveServer, tmp_path: Path
) -> None:
    app = merchants_app(app_factory, neutral_provider, gateway_server)
    tea, key = merchant(app, "Tea House")
    add_account(app, tea, "main", neutral_provider, tmp_path)

    unkeyed = merchants_app(app_factory, neutral_provider, gateway_server, GATEWAY_CREDENTIALS_KEYS="")
    response = unkeyed.test_client().get("/v1/providers", headers=key)

    assert response.status_code == 200 and response.get_json() == []
