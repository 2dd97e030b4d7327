"""A refund retried after a lost answer never refunds twice: it needs an Idempotency-Key or a
`reference` unique per order, on SQLite and PostgreSQL, against Example Pay's simulator."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.support.flows import new_key, paid_with
from tests.support.keys import AUTH

pytestmark = pytest.mark.neutral


def post_refund(client: Any, order_id: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return client.post(f"/v1/orders/{order_id}/refunds", json=body, headers=headers or {})


def test_a_refund_without_a_key_or_a_reference_is_refused_and_refunds_nothing(
    client: Any, neutral_provider: Any
) -> None:
    order = paid_with(client, neutral_provider, 1000)

    answers = [post_refund(client, order["id"], {"amount": 100}) for _ in range(2)]

    for answer in answers:
        assert answer.status_code == 428
        body = answer.get_json()
        assert body["error"] == "idempotency_key_required"
        assert "Idempotency-Key" in body["message"] and "reference" in body["message"]
        assert list(body["errors"]) == ["Idempotency-Key"]
    assert client.get(f"/v1/orders/{order['id']}/refunds").get_json() == []
    assert neutral_provider.refunded_amount(order) == 0


def test_the_same_reference_twice_answers_the_first_refund_and_refunds_once(client: Any, neutral_provider: Any) -> None:
    order = paid_with(client, neutral_provider, 1000)
    body = {"amount": 100, "reason": "one cup spilt", "reference": "rma-2041"}

    first = post_refund(client, order["id"], body)
    again = post_refund(client, order["id"], body)

    assert first.status_code == 201, first.get_json()
    assert first.get_json()["reference"] == "rma-2041"
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    assert len(client.get(f"/v1/orders/{order['id']}/refunds").get_json()) == 1
    assert len(neutral_provider.payment(order)["refunds"]) == 1
    assert neutral_provider.refunded_amount(order) == 100


def test_the_same_reference_with_another_amount_is_refused_and_refunds_nothing_more(
    client: Any, neutral_provider: Any
) -> None:
    order = paid_with(client, neutral_provider, 1000)
    first = post_refund(client, order["id"], {"amount": 100, "reference": "rma-7"}).get_json()

    other = post_refund(client, order["id"], {"amount": 200, "reference": "rma-7"})

    assert other.status_code == 422
    assert other.get_json()["error"] == "refund_reference_reused"
    assert "reference" in other.get_json()["errors"]
    assert other.get_json()["refund_id"] == first["id"]
    assert neutral_provider.refunded_amount(order) == 100


def test_a_reference_is_unique_per_order_not_across_orders(client: Any, neutral_provider: Any) -> None:
    orders = [paid_with(client, neutral_provider, 1000) for _ in range(2)]

    answers = [post_refund(client, order["id"], {"amount": 100, "reference": "same"}) for order in orders]

    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].get_json()["id"] != answers[1].get_json()["id"]
    assert [neutral_provider.refunded_amount(order) for order in orders] == [100, 100]


def test_a_key_alone_still_works_and_a_key_with_a_reference_too(client: Any, neutral_provider: Any) -> None:
    order = paid_with(client, neutral_provider, 1000)

    keyed = post_refund(client, order["id"], {"amount": 100}, new_key())
    both = post_refund(client, order["id"], {"amount": 100, "reference": "r-1"}, new_key())

    assert (keyed.status_code, both.status_code) == (201, 201)
    assert neutral_provider.refunded_amount(order) == 200


def test_concurrent_requests_with_one_reference_make_one_refund(
    app_factory: Callable[..., Any], gateway_server: Any, neutral_provider: Any
) -> None:
    app = app_factory()
    order = paid_with(app.test_client(), neutral_provider, 1000)
    barrier = threading.Barrier(8)
    answers: list[requests.Response] = []

    def ask() -> None:
        barrier.wait()
        url = f"{gateway_server.url}/v1/orders/{order['id']}/refunds"
        answers.append(requests.post(url, json={"amount": 300, "reference": "once"}, headers=AUTH, timeout=30))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    statuses = sorted(answer.status_code for answer in answers)
    assert len(statuses) == 8 and set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    refused = [answer.json()["error"] for answer in answers if answer.status_code == 409]
    assert set(refused) <= {"refund_in_progress"}
    assert len({answer.json()["id"] for answer in answers if answer.status_code == 201}) == 1
    assert len(neutral_provider.payment(order)["refunds"]) == 1
    assert neutral_provider.refunded_amount(order) == 300


def test_the_api_document_says_a_refund_needs_a_key_or_a_reference(client: Any) -> None:
    operation = client.get("/openapi.json").get_json()["paths"]["/v1/orders/{order_id}/refunds"]["post"]

    assert "428" in operation["responses"]
    schema = client.get("/openapi.json").get_json()["components"]["schemas"]["RefundCreate"]
    assert "reference" in schema["properties"]
