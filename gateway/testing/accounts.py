"""The kit's checks that two accounts of one provider, side by side, never mix (`AccountChecks`), and that a
notification naming another account is never read as this one's."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from cryptography.fernet import Fernet

from gateway.domain.merchants import create_merchant
from gateway.plugin.provider import QUERY, NotificationRejected, Verdict
from gateway.testing.harness import HttpRequest
from gateway.testing.live import LiveGateway


class AccountChecks:
    """Mixed into `ProviderConformance`. Uses `harness.second_account()`; skipped when it is None."""

    def test_two_accounts_of_the_provider_side_by_side_never_mix(
        self, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        first = gateway_factory({"GATEWAY_CREDENTIALS_KEYS": Fernet.generate_key().decode()})
        harness = first.harness
        second = harness.second_account()
        if second is None:
            pytest.skip("harness.second_account() is None: two accounts side by side are not checked")
        gateway = first.gateway
        merchant, token = create_merchant(gateway, "kit-second-account")
        account = gateway.accounts.create(merchant.id, harness.provider_name, "second", second.settings(first.url))
        own_path = f"/notify/{harness.provider_name}/{account.id}"
        other = first.app.test_client()
        other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

        def create(client: Any) -> dict[str, Any]:
            response = client.post("/v1/orders", json=first.order_fields())
            assert response.status_code == 201, f"POST /v1/orders answered {response.status_code}: {response.text}"
            created: dict[str, Any] = response.get_json()
            return created

        def status(order: dict[str, Any]) -> str:
            shown: dict[str, Any] = other.get(f"/v1/orders/{order['id']}").get_json()
            return str(shown["status"])

        mine, theirs = create(first.client), create(other)  # the environment's account, then the stored one
        assert theirs["account"] == account.id, "the order was not created with the merchant's only account"
        if first.provider.info.confirm_notifications:
            # Each simulator has its payment (a confirming query agrees): what refuses below is the account.
            second.pay_without_notifying(theirs)
            harness.pay_without_notifying(mine)

        # A notification signed by one account never verifies at the other's notify URL, nor settles its orders.
        for request, path in (
            (harness.paid_notification(theirs), own_path),  # the first account's secret, the second's URL
            (second.paid_notification(theirs), first.notify_path),  # the right secret at the other URL
            (second.paid_notification(mine), own_path),  # the second's secret, about the first's order
        ):
            reply = first.notify(request, path)
            assert reply not in (
                first.ack(verdict) for verdict in (Verdict.APPLIED, Verdict.DUPLICATE, Verdict.IGNORED)
            ), f"a notification signed for one account was accepted at {path}: {reply}"
        assert status(theirs) == "pending", "another account's notification settled the order"
        assert first.order(mine["id"])["status"] == "pending", "another account's notification settled the order"

        # Each account's own notification, at its own URL, is applied.
        assert first.notify(second.paid_notification(theirs), own_path) == first.ack(Verdict.APPLIED)
        assert status(theirs) == "paid"
        assert first.notify(harness.paid_notification(mine)) == first.ack(Verdict.APPLIED)

        if QUERY in first.provider.operations:
            # A query asks with the order's own account: only that account's credentials can see it.
            lost = create(other)
            second.pay_without_notifying(lost)
            refreshed = other.get(f"/v1/orders/{lost['id']}?refresh=true")
            assert refreshed.status_code == 200, f"refresh answered {refreshed.status_code}: {refreshed.text}"
            assert refreshed.get_json()["status"] == "paid", "the query did not use the order's own account"

    def test_a_notification_naming_another_account_is_never_read_as_this_ones(
        self, gateway_under_test: LiveGateway
    ) -> None:
        # Signed with this account's secret and naming another account: two accounts that share a secret, or a
        # provider that signs for several. The core refuses a notification whose account is not the order's, so a
        # plugin that reports its own account, not the one named, takes the other account's payment as this one's.
        gateway, harness = gateway_under_test, gateway_under_test.harness
        account = gateway.provider.account_id
        if not account:
            pytest.skip("provider.account_id is None: its notifications name no account the core compares")
        order = gateway.new_order()
        genuine = harness.paid_notification(order)
        if getattr(gateway.provider.verify_notification(gateway.inbound(genuine)), "account_id", None) != account:
            pytest.skip("the genuine notification is not read as naming this account: nothing to compare")
        other = account[:-1] + ("1" if account[-1:] != "1" else "2")
        renamed = _naming(genuine, account, other)
        if renamed is None:
            pytest.skip(f"the genuine notification holds no field that is the account id {account!r}")
        try:
            signed = harness.signed_notification(renamed)
        except NotImplementedError:
            pytest.skip("harness.signed_notification is not implemented")
        try:
            read = gateway.provider.verify_notification(gateway.inbound(signed))
        except NotificationRejected:
            return
        assert getattr(read, "account_id", None) != account, (
            f"a notification naming account {other!r}, signed again, was read as {read!r}: report the account the "
            f"notification names (the core refuses one that is not the order's), never this account's {account!r}"
        )


def _naming(request: HttpRequest, account: str, other: str) -> HttpRequest | None:
    """`request` with each field (of its query string, form body or JSON body, nested ones too) that is `account`
    made `other`, not signed again; None where no field is."""
    query = tuple((name, other if value == account else value) for name, value in request.query)
    body = request.body
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, (dict, list)):
        renamed = _renamed(parsed, account, other)
        if renamed != parsed:
            body = json.dumps(renamed).encode()
    elif body:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        if any(value == account for _, value in pairs):
            body = urlencode([(name, other if value == account else value) for name, value in pairs]).encode()
    if query == tuple(request.query) and body == request.body:
        return None
    return dataclasses.replace(request, query=query, body=body)


def _renamed(value: Any, account: str, other: str) -> Any:
    if isinstance(value, dict):
        return {name: _renamed(item, account, other) for name, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, account, other) for item in value]
    return other if value == account else value
