"""Junk on /notify is throttled per source address and across all sources, by the core, for any
provider: here Example Pay's. A genuine notification from a throttled address still lands, because it
is verified before the throttle counts it (tests/iotpay/test_notify_junk.py does the same with IOTPay's
form-encoded notifies, and adds storage bounds and a flood under load)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import NotificationRecord
from gateway.testing import HttpRequest
from tests.support.flows import order_with

pytestmark = pytest.mark.neutral

JSON = {"Content-Type": "application/json"}


def verdicts(app: Any) -> list[str]:
    with app.extensions["gateway"].db.transaction() as session:
        records = session.scalars(select(NotificationRecord).order_by(NotificationRecord.id))
        return [record.verdict for record in records]


def junk(client: Any, provider: str, n: int, address: str) -> int:
    body = b'{"id": "evt_junk_%d", "type": "payment.succeeded"}' % n
    answer = client.post(f"/notify/{provider}", data=body, headers=JSON, environ_base={"REMOTE_ADDR": address})
    return int(answer.status_code)


def send(client: Any, provider: str, notification: HttpRequest, address: str) -> Any:
    return client.post(
        f"/notify/{provider}",
        data=notification.body,
        headers=dict(notification.headers),
        environ_base={"REMOTE_ADDR": address},
    )


def test_a_source_sending_junk_is_throttled_but_its_genuine_notification_lands(
    app_factory: Callable[..., Any], neutral_provider: Any
) -> None:
    app = app_factory(GATEWAY_NOTIFY_REJECTION_LIMIT="3/minute")
    client = app.test_client()
    name = neutral_provider.provider_name
    order = order_with(client, neutral_provider)
    proxy = "198.51.100.23"  # junk and the genuine notification share one address (a NAT, a proxy)

    answers = [junk(client, name, n, proxy) for n in range(6)]
    genuine = send(client, name, neutral_provider.paid_notification(order), proxy)
    other_source = junk(client, name, 99, "198.51.100.24")

    assert answers == [400, 400, 400, 429, 429, 429]
    assert genuine.status_code == 200  # verified before it could be throttled
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "paid"
    assert other_source == 400  # another address has its own allowance
    assert verdicts(app) == ["bad_signature"] * 3 + ["applied", "bad_signature"]


def test_all_sources_together_store_at_most_the_budget(app_factory: Callable[..., Any], neutral_provider: Any) -> None:
    app = app_factory(GATEWAY_NOTIFY_REJECTION_LIMIT="100/minute", GATEWAY_NOTIFY_REJECTION_BUDGET="4/minute")
    client = app.test_client()

    answers = [junk(client, neutral_provider.provider_name, n, f"203.0.113.{n}") for n in range(10)]

    assert answers == [400] * 4 + [429] * 6
    assert verdicts(app) == ["bad_signature"] * 4
