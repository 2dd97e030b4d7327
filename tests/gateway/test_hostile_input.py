"""Input that once turned into a 500 (or worse, a stored row): each gets a clear 4xx and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.store.models import NotificationRecord, Order

ORDER = {"channel": "UPI_APP", "amount": 100, "currency": "CAD", "subject": "s", "body": "b"}


def count(app: Any, model: Any) -> int:
    with app.extensions["gateway"].db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"amount": ' + b"9" * 5000 + b"}", b'{"subject": "\\ud800"', b"\xff\xfe"],
    ids=["nested-100k-deep", "5000-digit-integer", "truncated", "not-utf8"],
)
def test_unparseable_bodies_are_malformed_json(app: Any, client: Any, body: bytes) -> None:
    response = client.post("/v1/orders", data=body, content_type="application/json")
    assert (response.status_code, response.get_json()["error"]) == (400, "malformed_json")
    assert count(app, Order) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subject": "tea\x00"}, "subject"),
        ({"body": "\ud800 lone surrogate"}, "body"),
        ({"merchant_reference": "ref\x00"}, "merchant_reference"),
        ({"metadata": {"note": "\udfff"}}, "metadata.note"),
        ({"provider_options": {"app_id\x00": "x"}}, "provider_options.app_id\x00"),
    ],
    ids=["nul-in-subject", "surrogate-in-body", "nul-in-reference", "surrogate-in-metadata", "nul-in-a-key"],
)
def test_text_no_database_can_store_is_refused_naming_the_field(
    app: Any, client: Any, changes: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/orders", json={**ORDER, **changes})
    assert (response.status_code, response.get_json()["error"]) == (422, "validation_error")
    assert field in response.get_json()["errors"]
    assert count(app, Order) == 0


@pytest.mark.parametrize("order_id", ["a\x00b", "not-a-uuid", "1" * 300, "../../etc/passwd"])
def test_odd_ids_are_simply_not_found(client: Any, order_id: str) -> None:
    for path in (f"/v1/orders/{order_id}", f"/v1/orders/{order_id}/refunds", f"/v1/refunds/{order_id}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"] in ("order_not_found", "refund_not_found", "not_found")


def test_a_notify_with_an_absurd_content_type_is_still_recorded(neutral_app: Any, neutral_client: Any) -> None:
    response = neutral_client.post(
        "/notify/example", data=b"x=1", content_type="application/x-www-form-urlencoded; " + "a" * 400
    )
    assert response.status_code == 400
    assert count(neutral_app, NotificationRecord) == 1


def test_head_on_notify_is_not_a_notification(neutral_app: Any, neutral_client: Any) -> None:
    response = neutral_client.head("/notify/example")
    assert response.status_code == 405
    assert count(neutral_app, NotificationRecord) == 0


def test_pay_endpoint_can_be_turned_off(app_factory: Any) -> None:
    client = app_factory(GATEWAY_SANDBOX="0", GATEWAY_PAY_ENDPOINT="0").test_client()
    response = client.get("/pay", query_string={"channelid": "WX_APP", "amount": "1.00"})
    assert (response.status_code, response.get_json()["error"]) == (404, "not_found")
