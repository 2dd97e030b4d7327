"""An order, or a routing dry run, that lands on an account the gateway cannot serve (its plugin gone, its
credentials key dropped) is a JSON error naming the account, never a 500: routing rules already skip such
an account, and /v1/providers leaves it out; a named or only account must not crash either, nor do the
orders already made at such an account."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update

from gateway.domain.reconcile import reconcile
from gateway.plugin.clock import utcnow
from gateway.store.models import ProviderAccount
from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer
from tests.support.flows import wait_for
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


def test_the_orders_of_an_account_that_can_no_longer_be_served_get_errors_not_500s(
    app_factory: Callable[..., Any], app: Any, neutral_provider: Any, gateway_server: LiveServer, tmp_path: Path
) -> None:
    """Its credentials key dropped too soon: its orders are still read; asking about them, refunding them and
    their provider's notifies are refused with an error that says so, and reconciliation leaves them."""
    tea, key = merchant(app, "Tea House")
    secret = neutral_provider.settings("unused")["EXAMPLE_SECRET"]  # the simulator signs with its own
    account = add_account(app, tea, "one", neutral_provider, tmp_path, EXAMPLE_SECRET=secret)
    client = app.test_client()
    order = client.post("/v1/orders", json=ORDER, headers=key).get_json()
    paid = client.post("/v1/orders", json=ORDER, headers=key).get_json()
    neutral_provider.pay(paid)
    wait_for(lambda: client.get(f"/v1/orders/{paid['id']}", headers=key).get_json()["status"] == "paid")
    neutral_provider.pay_without_notifying(order)
    # Restarted with a new credentials key, the old one dropped too soon: nothing decrypts the account's settings.
    app = merchants_app(
        app_factory, neutral_provider, gateway_server, GATEWAY_CREDENTIALS_KEYS=Fernet.generate_key().decode()
    )
    client = app.test_client()

    refreshed = client.get(f"/v1/orders/{order['id']}?refresh=true", headers=key)
    refund = client.post(f"/v1/orders/{paid['id']}/refunds", json={"amount": 1, "reference": "r1"}, headers=key)
    notified = client.post(f"/notify/example/{account['id']}", data=b"{}", content_type="application/json")
    outcome = reconcile(app.extensions["gateway"], timedelta(0), now=utcnow() + timedelta(days=1))

    assert (refreshed.status_code, refreshed.get_json()["error"]) == (409, "provider_disabled")
    assert (refund.status_code, refund.get_json()["error"]) == (409, "provider_disabled")
    assert (notified.status_code, notified.get_json()["error"]) == (503, "account_unavailable")
    assert outcome["orders_query_failed"] == 1 and outcome["orders_errors"] == 0
    assert client.get(f"/v1/orders/{order['id']}", headers=key).get_json()["status"] == "pending"
