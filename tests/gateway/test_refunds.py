"""Refunds against Example Pay's simulator (examples/, a provider that belongs to no one) over real
HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from gateway.domain import refunds
from gateway.store.models import OutboxEvent, Refund
from tests.support.flows import new_key, order_with, paid_with, wait_for
from tests.support.keys import AUTH

pytestmark = pytest.mark.neutral


def refund(client: Any, order_id: str, amount: Any, **extra: Any) -> Any:
    return client.post(f"/v1/orders/{order_id}/refunds", json={"amount": amount, **extra}, headers=new_key())


def outbox(app: Any, event_type: str) -> list[OutboxEvent]:
    with app.extensions["gateway"].db.transaction() as session:
        return list(session.scalars(select(OutboxEvent).where(OutboxEvent.type == event_type)))


def test_full_refund_succeeds_and_marks_the_order_refunded(app: Any, client: Any, neutral_provider: Any) -> None:
    order = paid_with(client, neutral_provider, 1000)

    response = refund(client, order["id"], 1000, reason="customer asked")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["amount"], body["currency"], body["reason"]) == (
        "succeeded",
        1000,
        "USD",
        "customer asked",
    )
    assert body["provider_refund_id"]
    assert client.get(f"/v1/refunds/{body['id']}").get_json() == body
    assert client.get(f"/v1/orders/{order['id']}/refunds").get_json() == [body]
    after = client.get(f"/v1/orders/{order['id']}").get_json()
    assert (after["status"], after["refunded_amount"]) == ("refunded", 1000)
    [at_provider] = neutral_provider.payment(order)["refunds"]
    assert at_provider["id"] == body["provider_refund_id"]
    assert neutral_provider.refunded_amount(order) == 1000
    [event] = outbox(app, "refund.succeeded")
    assert event.data["refund"]["id"] == body["id"]
    assert event.data["order"]["status"] == "refunded"


def test_partial_refunds_add_up_to_the_paid_amount_and_no_further(client: Any, neutral_provider: Any) -> None:
    order = paid_with(client, neutral_provider, 1000)

    assert refund(client, order["id"], 300).status_code == 201
    assert client.get(f"/v1/orders/{order['id']}").get_json()["status"] == "partially_refunded"
    assert refund(client, order["id"], 700).status_code == 201
    too_much = refund(client, order["id"], 1)

    assert too_much.status_code == 422
    assert too_much.get_json()["error"] == "refund_exceeds_remaining"
    assert "amount" in too_much.get_json()["errors"]
    after = client.get(f"/v1/orders/{order['id']}").get_json()
    assert (after["status"], after["refunded_amount"]) == ("refunded", 1000)
    assert neutral_provider.refunded_amount(order) == 1000


@pytest.mark.parametrize("amount", [0, -5, 10.5, "100", True, None, 2**31])
def test_invalid_refund_amounts_are_refused_and_change_nothing(client: Any, neutral_provider: Any, amount: Any) -> None:
    order = paid_with(client, neutral_provider, 1000)
    response = refund(client, order["id"], amount)
    assert response.status_code == 422
    assert "amount" in response.get_json()["errors"]
    assert client.get(f"/v1/orders/{order['id']}/refunds").get_json() == []


def test_refund_of_an_unpaid_order_is_refused(client: Any, neutral_provider: Any) -> None:
    order = order_with(client, neutral_provider, 1000)
    response = refund(client, order["id"], 100)
    assert (response.status_code, response.get_json()["error"]) == (409, "order_not_paid")
    assert client.get(f"/v1/orders/{order['id']}/refunds").get_json() == []


def test_refund_of_an_unknown_order_is_404(client: Any) -> None:
    response = refund(client, "no-such-order", 100)
    assert (response.status_code, response.get_json()["error"]) == (404, "order_not_found")
    assert client.get("/v1/refunds/no-such-refund").status_code == 404


def test_concurrent_refunds_never_exceed_what_was_paid(
    app_factory: Callable[..., Any], gateway_server: Any, neutral_provider: Any
) -> None:
    client = app_factory().test_client()
    order = paid_with(client, neutral_provider, 1000)
    barrier = threading.Barrier(10)
    statuses: list[int] = []

    def ask() -> None:
        barrier.wait()
        response = requests.post(
            f"{gateway_server.url}/v1/orders/{order['id']}/refunds",
            json={"amount": 300},
            headers={**new_key(), **AUTH},
            timeout=30,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=ask) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(statuses) == [201] * 3 + [422] * 7
    assert neutral_provider.refunded_amount(order) == 900
    assert client.get(f"/v1/orders/{order['id']}").get_json()["refunded_amount"] == 900


def test_a_definite_refusal_fails_the_refund_and_frees_its_amount(app: Any, client: Any, neutral_provider: Any) -> None:
    order = paid_with(client, neutral_provider, 1000)
    neutral_provider.fail_next("refund")

    refused = refund(client, order["id"], 1000)

    assert refused.status_code == 502
    body = refused.get_json()
    assert body["error"] == "provider_error"
    assert body["provider_error"]["code"] == "simulated_refusal"  # the provider's own code, kept
    failed = client.get(f"/v1/refunds/{body['refund_id']}").get_json()
    assert failed["status"] == "failed"
    assert failed["provider_error"]["code"] == "simulated_refusal"
    assert len(outbox(app, "refund.failed")) == 1
    assert refund(client, order["id"], 1000).status_code == 201


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        ("delay", 504, "provider_timeout"),  # refunded there; the answer came too late
        ("http_500", 502, "provider_outcome_unknown"),
        ("html", 502, "provider_outcome_unknown"),  # a proxy's error page
        ("garbage", 502, "provider_outcome_unknown"),
    ],
)
def test_a_refund_with_an_unknown_outcome_stays_unknown_until_reconciled(
    app_factory: Callable[..., Any], neutral_provider: Any, fault: str, status: int, error: str
) -> None:
    app = app_factory(**neutral_provider.timeout_settings(0.5))
    client = app.test_client()
    order = paid_with(client, neutral_provider, 1000)
    if fault == "delay":
        neutral_provider.delay_next("refund", 1.5)
    else:
        neutral_provider.garble_next("refund", fault)

    unclear = refund(client, order["id"], 400)

    assert (unclear.status_code, unclear.get_json()["error"]) == (status, error)
    refund_id = unclear.get_json()["refund_id"]
    assert client.get(f"/v1/refunds/{refund_id}").get_json()["status"] == "unknown"
    still = client.get(f"/v1/orders/{order['id']}").get_json()
    assert (still["status"], still["refunded_amount"]) == ("paid", 0)
    # The unknown refund holds its amount: nothing can push the total past what was paid meanwhile.
    assert refund(client, order["id"], 601).get_json()["error"] == "refund_exceeds_remaining"

    result = app.test_cli_runner().invoke(args=["gateway", "reconcile", "--older-than", "0"])

    assert result.exit_code == 0, result.output
    assert client.get(f"/v1/refunds/{refund_id}").get_json()["status"] == "succeeded"
    assert client.get(f"/v1/orders/{order['id']}").get_json()["refunded_amount"] == 400
    # The retry reused the refund's id: one refund at the provider, whether the first call refunded or not.
    assert len(neutral_provider.payment(order)["refunds"]) == 1
    assert neutral_provider.refunded_amount(order) == 400


def test_an_unknown_refund_can_be_settled_by_hand(
    app_factory: Callable[..., Any],
    neutral_provider: Any,
) -> None:
    """A provider without a refund query: after checking its merchant portal, a person settles the refund."""
    app = app_factory()
    client = app.test_client()
    order = paid_with(client, neutral_provider, 1000)
    neutral_provider.garble_next("refund", "http_500")
    refund_id = refund(client, order["id"], 400).get_json()["refund_id"]
    runner = app.test_cli_runner()

    settled = runner.invoke(
        args=["gateway", "settle-refund", refund_id, "--outcome", "failed", "--note", "not in the provider's portal"]
    )
    again = runner.invoke(args=["gateway", "settle-refund", refund_id, "--outcome", "succeeded", "--note", "x"])

    assert settled.exit_code == 0, settled.output
    assert client.get(f"/v1/refunds/{refund_id}").get_json()["status"] == "failed"
    assert again.exit_code != 0 and "already settled" in again.output
    assert len(outbox(app, "refund.failed")) == 1
    assert refund(client, order["id"], 1000).status_code == 201  # its amount is free again


# -- the provider's answer wins over the record ------------------------------------------------


def stored_refunds(app: Any) -> list[Refund]:
    with app.extensions["gateway"].db.transaction() as session:
        return list(session.scalars(select(Refund)))


def refund_in_background(client: Any, order_id: str, amount: int) -> tuple[threading.Thread, list[Any]]:
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(refund(client, order_id, amount)))
    thread.start()
    return thread, answers


def test_settling_by_hand_is_refused_while_the_provider_call_is_in_flight(
    app_factory: Callable[..., Any],
    neutral_provider: Any,
) -> None:
    app = app_factory(EXAMPLE_TIMEOUT="10")
    client = app.test_client()
    order = paid_with(client, neutral_provider, 1000)
    neutral_provider.delay_next("refund", 2)
    thread, answers = refund_in_background(app.test_client(), order["id"], 600)
    [in_flight] = wait_for(lambda: stored_refunds(app), what="the refund row")

    refused = app.test_cli_runner().invoke(
        args=["gateway", "settle-refund", in_flight.id, "--outcome", "failed", "--note", "not in the portal yet"]
    )

    assert refused.exit_code != 0
    assert "may still be running" in refused.output
    thread.join(30)
    assert answers[0].status_code == 201
    settled = client.get(f"/v1/refunds/{in_flight.id}").get_json()
    assert (settled["status"], settled["discrepancy"]) == ("succeeded", None)
    assert not outbox(app, "refund.failed") and not outbox(app, "refund.discrepancy")


def test_a_late_success_overturns_a_refund_recorded_failed_and_the_discrepancy_stays_visible(
    app_factory: Callable[..., Any],
    neutral_provider: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The reviewed incident: a call outlived its lease, a person settled the refund failed, the provider refunded."""
    monkeypatch.setattr(refunds, "CALL_LEASE", timedelta(0))  # the lease runs out while the call still runs
    app = app_factory(EXAMPLE_TIMEOUT="10")
    client = app.test_client()
    order = paid_with(client, neutral_provider, 1000)
    neutral_provider.delay_next("refund", 2)
    thread, answers = refund_in_background(app.test_client(), order["id"], 600)
    [late] = wait_for(lambda: stored_refunds(app), what="the refund row")

    by_hand = app.test_cli_runner().invoke(
        args=["gateway", "settle-refund", late.id, "--outcome", "failed", "--note", "not in the portal"]
    )
    assert by_hand.exit_code == 0, by_hand.output
    assert refund(client, order["id"], 400).status_code == 201  # what was left once the 600 looked free
    thread.join(30)

    assert answers[0].status_code == 201  # the provider's answer: refunded
    shown = client.get(f"/v1/refunds/{late.id}").get_json()
    assert shown["status"] == "succeeded"
    assert shown["discrepancy"]["recorded"] == "failed"
    assert shown["discrepancy"]["reported"] == "succeeded"
    assert shown["discrepancy"]["recorded_provider_error"] == {"code": "MANUAL", "message": "not in the portal"}
    after = client.get(f"/v1/orders/{order['id']}").get_json()
    assert (after["status"], after["refunded_amount"]) == ("refunded", 1000)  # what really left the account
    assert neutral_provider.refunded_amount(order) == 1000
    assert refund(client, order["id"], 1).get_json()["error"] == "refund_exceeds_remaining"
    [event] = outbox(app, "refund.discrepancy")
    assert event.data["refund"]["id"] == late.id and event.data["refund"]["discrepancy"]["recorded"] == "failed"
    assert [e.data["refund"]["id"] for e in outbox(app, "refund.succeeded")].count(late.id) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and late.id in r.getMessage()]
    assert errors and "recorded failed" in errors[0]


def test_a_provider_failure_overturns_a_refund_recorded_succeeded(app: Any, client: Any, neutral_provider: Any) -> None:
    order = paid_with(client, neutral_provider, 1000)
    first = refund(client, order["id"], 300).get_json()
    assert refund(client, order["id"], 200).status_code == 201

    refunds.settle_refund(app.extensions["gateway"], first["id"], succeeded=False, code="REVERSED", message="bounced")

    shown = client.get(f"/v1/refunds/{first['id']}").get_json()
    assert shown["status"] == "failed"
    assert (shown["discrepancy"]["recorded"], shown["discrepancy"]["reported"]) == ("succeeded", "failed")
    after = client.get(f"/v1/orders/{order['id']}").get_json()
    assert (after["status"], after["refunded_amount"]) == ("partially_refunded", 200)
    too_much = refund(client, order["id"], 801).get_json()  # the 300 counts as refundable again: 800 left
    assert too_much["error"] == "refund_exceeds_remaining"
    assert "at most 800" in too_much["errors"]["amount"][0]
    assert len(outbox(app, "refund.discrepancy")) == 1


def test_the_same_answer_twice_is_no_discrepancy(app: Any, client: Any, neutral_provider: Any) -> None:
    order = paid_with(client, neutral_provider, 1000)
    done = refund(client, order["id"], 300).get_json()

    refunds.settle_refund(app.extensions["gateway"], done["id"], succeeded=True)

    assert client.get(f"/v1/refunds/{done['id']}").get_json()["discrepancy"] is None
    assert client.get(f"/v1/orders/{order['id']}").get_json()["refunded_amount"] == 300
    assert not outbox(app, "refund.discrepancy")
