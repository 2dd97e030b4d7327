"""An order, or a routing dry run, that lands on an account the gateway cannot serve (its plugin gone, its
credentials key dropped) is a JSON error naming the account, never a 500: routing rules already skip such
an account, and /v1/providers leaves it out; a named or only account must not crash either."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from gateway.store.models import ProviderAccount
from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer
from tests.support.merchants import ORDER, add_account, merchant, merchants_app


@pytest.fixture
def app(app_factory: Callable[..., Any], neutral_provider: ProviderHarness, gateway_server: LiveServer) -> Any:
    return merchants_app(app_factory, neutral_provider, gateway_server)


def _retire(app: Any, account_id: str) -> None:
    """The account's plugin is no longer installed (as test_providers_per_merchant does it)."""
    with app.extensions["gateway"].db.transaction() as session:
        session.execute(update(ProviderAccount).where(ProviderAccount.id == account_id).values(provider="retired"))


@pytest.mark.parametrize("path", ["/v1/routing/evaluate", "/v1/orders"])
def test_naming_an_account_that_cannot_be_served_is_an_error_not_a_500(
    app: Any, neutral_provider: Any, tmp_path: Path, path: str
) -> None:
    tea, key = merchant(app, "Tea House")
    gone = add_account(app, tea, "gone", neutral_provider, tmp_path)
    _retire(app, gone["id"])

    response = app.test_client().post(path, json={**ORDER, "account": "gone"}, headers=key)

    assert response.status_code == 422, response.get_data(as_text=True)
    assert "cannot be used" in response.get_json()["errors"]["account"][0]


@pytest.mark.parametrize("path", ["/v1/routing/evaluate", "/v1/orders"])
def test_an_only_account_that_cannot_be_served_is_an_error_not_a_500(
    app: Any, neutral_provider: Any, tmp_path: Path, path: str
) -> None:
    tea, key = merchant(app, "Tea House")
    gone = add_account(app, tea, "gone", neutral_provider, tmp_path)
    with app.extensions["gateway"].db.transaction() as session:  # still at example, its settings unreadable
        session.execute(update(ProviderAccount).where(ProviderAccount.id == gone["id"]).values(settings="x" * 40))

    response = app.test_client().post(path, json=ORDER, headers=key)

    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.get_json()["error"] != "internal_error"
