"""The merchant id an IOTPay order was made under, when an account's settings change (IOTPay simulator).

A rotation replaces an account's secret; the account stays the same merchant at IOTPay, because
every order made under it keeps that merchant id: its notify names it, and its query and refunds
must be asked of it. Settings naming another merchant id would leave those orders unconfirmable
(the confirming query asks the new merchant, which has no such order), so such a rotation is refused.
The environment's IOTPAY_MCH_ID cannot be refused that way: an order made under the previous one is
then never asked about (nor expired, nor refunded) through the new one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import requests

from gateway.domain.reconcile import reconcile
from gateway.plugin.clock import utcnow
from tests.routing.conftest import ACCOUNTS, Shop
from tests.support.flows import create_order, wait_for

NEW_KEY = "ca1-rotated-key-0123456789abcdef"


def rotate(shop: Shop, name: str, mch_id: str, key: str) -> Any:
    path = shop.tmp_path / f"{name}-rotated.json"
    values = {
        "IOTPAY_MCH_ID": mch_id,
        "IOTPAY_SECRET_KEY": key,
        "IOTPAY_API_URL": f"{shop.simulator.url}/v1",
        "IOTPAY_JOB_NO": "cashier01",
    }
    path.write_text(json.dumps(values))
    return shop.run("accounts", "rotate", shop.id(name), "--settings", str(path))


def status(shop: Shop, order: dict[str, Any]) -> str:
    return str(shop.client().get(f"/v1/orders/{order['id']}").get_json()["status"])


def test_rotating_an_account_to_another_merchant_id_is_refused_and_its_orders_still_settle(shop: Shop) -> None:
    shop.add_account("ca-1")
    order = shop.create().get_json()
    other_mch_id, other_key = ACCOUNTS["ca-2"]  # a merchant the simulator knows: the rotation itself would work

    moved = rotate(shop, "ca-1", other_mch_id, other_key)

    assert moved.exit_code == 1, moved.output
    assert "merchant" in moved.output and other_key not in moved.output
    listed = shop.cli("accounts", "list", "--merchant", shop.merchant)
    assert [account["version"] for account in listed] == [1]  # nothing changed
    paid = requests.post(f"{shop.simulator.url}/pay", data={"payOrderId": order["provider_order_id"]}, timeout=5)
    assert paid.status_code == 202, paid.text
    wait_for(lambda: status(shop, order) == "paid", what="the order made before the rotation to be paid")


def test_rotating_an_accounts_key_under_the_same_merchant_id_is_taken(shop: Shop) -> None:
    mch_id, _ = ACCOUNTS["ca-1"]
    shop.add_account("ca-1")

    rotated = rotate(shop, "ca-1", mch_id, NEW_KEY)

    assert rotated.exit_code == 0, rotated.output
    assert NEW_KEY not in rotated.output
    assert json.loads(rotated.stdout)["version"] == 2


def test_an_order_made_under_the_environments_previous_merchant_id_is_never_expired_by_the_new_one(
    app_factory: Callable[..., Any], simulator: Any
) -> None:
    before = app_factory()  # IOTPAY_MCH_ID: the conftest's merchant
    order = create_order(before.test_client(), channel="WX_APP")
    paid = create_order(before.test_client(), channel="WX_APP")
    requests.post(f"{simulator.url}/pay", data={"payOrderId": paid["provider_order_id"]}, timeout=5)
    wait_for(lambda: before.test_client().get(f"/v1/orders/{paid['id']}").get_json()["status"] == "paid")
    hold = requests.post(f"{simulator.url}/faults", json={"operation": "notify", "mode": "hold"}, timeout=5)
    assert hold.status_code < 300
    taken = requests.post(f"{simulator.url}/pay", data={"payOrderId": order["provider_order_id"]}, timeout=5)
    assert taken.status_code == 202  # the payer paid; IOTPay's notify has not arrived yet
    other_mch_id, other_key = ACCOUNTS["ca-1"]  # an operator moves the environment to another merchant

    after = app_factory(IOTPAY_MCH_ID=other_mch_id, IOTPAY_SECRET_KEY=other_key)
    client = after.test_client()
    refreshed = client.get(f"/v1/orders/{order['id']}?refresh=true")
    refund = client.post(f"/v1/orders/{paid['id']}/refunds", json={"amount": 100, "reference": "r1"})
    outcome = reconcile(after.extensions["gateway"], timedelta(0), now=utcnow() + timedelta(days=1))

    assert (refreshed.status_code, refreshed.get_json()["error"]) == (409, "provider_account_changed")
    assert (refund.status_code, refund.get_json()["error"]) == (409, "provider_account_changed")
    assert outcome["orders_expired"] == 0 and outcome["orders_query_failed"] == 1
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "pending"  # paid at IOTPay: never expired
    assert client.get(f"/v1/orders/{paid['id']}/refunds").get_json() == []
