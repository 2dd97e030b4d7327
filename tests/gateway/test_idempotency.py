"""Idempotency-Key on POST /v1/orders, over real HTTP against Example Pay's simulator (examples/, a
provider that belongs to no one), on SQLite and PostgreSQL.

"The provider was called once" is checked from the outside: the gateway stores every order before
it calls the provider, so one `orders` row means one create_order, and the simulator knows that
order by the id the response gave. Concurrency is arranged without guessing at timing: a gate in
front of the simulator holds the first request's provider call until the test has sent the second.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.wrappers import Request, Response

from gateway.domain import orders
from gateway.domain.idempotency import body_hash, purge_expired, scope_of
from gateway.plugin.clock import utcnow
from gateway.store.models import IdempotencyKey, Order
from gateway.testing.live import LiveServer
from gateway.web.idempotent import REPLAYED_HEADER
from tests.support.keys import TEST_API_KEY

pytestmark = pytest.mark.neutral

ORDER: dict[str, Any] = {
    "channel": "wallet",  # Example Pay's
    "amount": 2856,
    "currency": "USD",
    "subject": "Coffee beans",
    "body": "1kg medium roast",
    "metadata": {"cart": "42", "note": "gift"},
}
KEY = "3f1c9a52-7d4e-4b8e-9a61-0c2d5e8f7a10"


# -- helpers -----------------------------------------------------------------------------------


def post_order(
    base_url: str,
    body: Any = ORDER,
    key: str | None = KEY,
    api_key: str | None = TEST_API_KEY,
    raw: str | None = None,
) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    data = raw if raw is not None else json.dumps(body)
    return requests.post(f"{base_url}/v1/orders", data=data, headers=headers, timeout=15)


def order_count(app: Any) -> int:
    with app.extensions["gateway"].db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def key_rows(app: Any) -> list[IdempotencyKey]:
    with app.extensions["gateway"].db.transaction() as session:
        return list(session.scalars(select(IdempotencyKey).order_by(IdempotencyKey.id)))


def add_key_row(app: Any, **values: Any) -> None:
    with app.extensions["gateway"].db.transaction() as session:
        session.add(IdempotencyKey(**values))


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    return body


def assert_known_to_the_provider(provider: Any, order: dict[str, Any]) -> None:
    assert provider.payment(order)["reference"] == order["merchant_order_no"]


class Background:
    """A request sent from another thread, so that a second one can be sent while it runs."""

    def __init__(self, send: Callable[[], requests.Response]) -> None:
        self._send = send
        self._response: requests.Response | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._response = self._send()
        except BaseException as exc:  # re-raised in the test's thread by result()
            self._error = exc

    def result(self, timeout: float = 15) -> requests.Response:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the background request did not finish"
        if self._error is not None:
            raise self._error
        assert self._response is not None
        return self._response


class ProviderGate:
    """Stands between the gateway and the simulator and holds every call until the test releases it,
    so that a second request is sure to arrive while the first one is still running."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.server = LiveServer(self)
        self.api_url = self.server.url  # EXAMPLE_API_URL: the calls go to {api_url}/v1/<operation>

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        self.arrived.set()
        self.released.wait(10)
        forwarded = {name: value for name, value in request.headers.items() if name not in ("Host", "Content-Length")}
        answer = requests.post(self.upstream + request.path, data=request.get_data(), headers=forwarded, timeout=10)
        response = Response(answer.content, answer.status_code, content_type=answer.headers.get("Content-Type"))
        return response(environ, start_response)

    def wait_for_a_call(self) -> None:
        assert self.arrived.wait(10), "the gateway never called the provider"


@pytest.fixture
def gate(neutral_provider: Any) -> Iterator[ProviderGate]:
    gate = ProviderGate(neutral_provider.url)
    yield gate
    gate.released.set()
    gate.server.stop()


# -- replays -----------------------------------------------------------------------------------


def test_same_key_and_body_replays_the_first_response_without_a_second_provider_call(
    app: Any, gateway_server: LiveServer, neutral_provider: Any
) -> None:
    first = post_order(gateway_server.url)
    again = post_order(gateway_server.url)

    assert first.status_code == 201, first.text
    assert REPLAYED_HEADER not in first.headers
    assert again.status_code == 201
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.headers["Content-Type"] == first.headers["Content-Type"] == "application/json"
    assert again.content == first.content
    assert_known_to_the_provider(neutral_provider, first.json())
    assert order_count(app) == 1
    [row] = key_rows(app)
    assert (row.status, row.response_status, row.resource_id) == ("done", 201, first.json()["id"])


def test_the_same_json_with_other_key_order_and_spacing_is_the_same_body(app: Any, gateway_server: LiveServer) -> None:
    first = post_order(gateway_server.url)
    reordered = dict(reversed(ORDER.items()))
    reordered["metadata"] = dict(reversed(ORDER["metadata"].items()))

    again = post_order(gateway_server.url, raw=json.dumps(reordered, indent=4))

    assert again.status_code == 201, again.text
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert order_count(app) == 1


def test_the_same_key_with_another_body_is_refused_and_creates_nothing(app: Any, gateway_server: LiveServer) -> None:
    first = post_order(gateway_server.url)

    other = post_order(gateway_server.url, {**ORDER, "amount": 2857})

    assert first.status_code == 201, first.text
    assert_error(other, 422, "idempotency_key_reused")
    assert order_count(app) == 1
    assert post_order(gateway_server.url).json()["id"] == first.json()["id"]  # the key still holds the first


def test_a_provider_refusal_is_stored_and_replayed_without_asking_the_provider_again(
    app: Any, gateway_server: LiveServer, neutral_provider: Any
) -> None:
    neutral_provider.fail_next("create_order")  # only the next call fails
    first = post_order(gateway_server.url)

    again = post_order(gateway_server.url)

    body = assert_error(first, 502, "provider_error")
    assert body["provider_error"]["code"] == "simulated_refusal"
    # Had the gateway asked the simulator again, that call would have succeeded with a 201.
    assert again.status_code == 502
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.json() == body
    assert order_count(app) == 1


# -- refusals that leave the key free --------------------------------------------------------------


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        pytest.param({"amount": "28.56"}, "amount", id="schema-rejects-the-body"),
        pytest.param({"channel": "NO_SUCH_CHANNEL"}, "channel", id="provider-rejects-the-order"),
    ],
)
def test_a_request_refused_as_invalid_frees_its_key_for_a_corrected_retry(
    app: Any, gateway_server: LiveServer, neutral_provider: Any, broken: dict[str, Any], field: str
) -> None:
    refused = post_order(gateway_server.url, {**ORDER, **broken})

    assert field in assert_error(refused, 422, "validation_error")["errors"]
    assert key_rows(app) == []
    fixed = post_order(gateway_server.url)
    assert fixed.status_code == 201, fixed.text
    assert REPLAYED_HEADER not in fixed.headers
    assert_known_to_the_provider(neutral_provider, fixed.json())
    assert order_count(app) == 1


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("k" * 256, id="256-characters"),
        pytest.param("caf\u00e9", id="not-ascii"),
        pytest.param("bell\x07", id="control-character"),
    ],
)
def test_an_invalid_key_is_refused_before_anything_happens(app: Any, key: str) -> None:
    response = app.test_client().post("/v1/orders", json=ORDER, headers={"Idempotency-Key": key})

    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid_idempotency_key"
    assert "Idempotency-Key" in response.get_json()["errors"]
    assert order_count(app) == 0
    assert key_rows(app) == []


def test_a_key_of_255_printable_characters_is_accepted(app: Any, gateway_server: LiveServer) -> None:
    key = ("~ !" * 85)[:255]

    assert post_order(gateway_server.url, key=key).status_code == 201
    assert post_order(gateway_server.url, key=key).headers[REPLAYED_HEADER] == "true"


def test_without_the_header_every_request_creates_an_order(app: Any, gateway_server: LiveServer) -> None:
    ids = {post_order(gateway_server.url, key=None).json()["id"] for _ in range(2)}

    assert len(ids) == 2
    assert key_rows(app) == []


# -- concurrency, clients, instances ---------------------------------------------------------------


def test_the_same_key_while_the_first_request_runs_is_409(
    app_factory: Callable[..., Any], gateway_server: LiveServer, gate: ProviderGate
) -> None:
    app = app_factory(EXAMPLE_API_URL=gate.api_url)
    first = Background(lambda: post_order(gateway_server.url))
    gate.wait_for_a_call()
    assert [row.status for row in key_rows(app)] == ["in_progress"]

    second = post_order(gateway_server.url)

    assert_error(second, 409, "idempotency_key_in_progress")
    gate.released.set()
    assert first.result().status_code == 201
    third = post_order(gateway_server.url)
    assert third.headers[REPLAYED_HEADER] == "true"
    assert third.json()["id"] == first.result().json()["id"]
    assert order_count(app) == 1


def test_keys_of_two_api_clients_never_meet(app_factory: Callable[..., Any], gateway_server: LiveServer) -> None:
    key_a, key_b = "key-a-3e9c1f7a5b2d", "key-b-8d4f0a6c2e1b"
    app = app_factory(GATEWAY_API_KEYS=f"{key_a},{key_b}")

    of_a = post_order(gateway_server.url, api_key=key_a)
    of_b = post_order(gateway_server.url, api_key=key_b)

    assert of_a.status_code == of_b.status_code == 201
    assert REPLAYED_HEADER not in of_b.headers
    assert of_a.json()["id"] != of_b.json()["id"]
    assert order_count(app) == 2
    assert post_order(gateway_server.url, api_key=key_a).json()["id"] == of_a.json()["id"]
    assert all(key_a not in row.scope and key_b not in row.scope for row in key_rows(app))


@pytest.fixture
def machine_a(app_factory: Callable[..., Any], gate: ProviderGate) -> Iterator[LiveServer]:
    """One gateway "machine" with its own app and server; the test builds another on the same database."""
    server = LiveServer(app_factory(EXAMPLE_API_URL=gate.api_url))
    yield server
    server.stop()


def test_two_instances_on_one_database_share_keys(
    machine_a: LiveServer, app_factory: Callable[..., Any], gateway_server: LiveServer, gate: ProviderGate
) -> None:
    machine_b = app_factory(EXAMPLE_API_URL=gate.api_url)  # served at gateway_server.url
    assert machine_b is not machine_a.app
    first = Background(lambda: post_order(machine_a.url))
    gate.wait_for_a_call()

    assert_error(post_order(gateway_server.url), 409, "idempotency_key_in_progress")
    gate.released.set()
    assert first.result().status_code == 201
    replayed = post_order(gateway_server.url)
    assert replayed.headers[REPLAYED_HEADER] == "true"
    assert replayed.content == first.result().content
    assert order_count(machine_b) == 1


# -- requests whose process died -------------------------------------------------------------------


def abandoned_row(**values: Any) -> dict[str, Any]:
    """A key left in_progress by a process that died, its lease run out a minute ago."""
    now = utcnow()
    return {
        "scope": scope_of("POST", "/v1/orders", TEST_API_KEY),
        "key": KEY,
        "request_hash": body_hash(json.dumps(ORDER).encode()),
        "status": "in_progress",
        "locked_until": now - timedelta(minutes=1),
        "created_at": now - timedelta(minutes=20),
        **values,
    }


def test_a_key_abandoned_before_anything_was_created_is_taken_over_and_run(
    app: Any, gateway_server: LiveServer, neutral_provider: Any
) -> None:
    add_key_row(app, **abandoned_row())

    response = post_order(gateway_server.url)

    assert response.status_code == 201, response.text
    assert REPLAYED_HEADER not in response.headers
    assert_known_to_the_provider(neutral_provider, response.json())
    [row] = key_rows(app)
    assert (row.status, row.resource_id) == ("done", response.json()["id"])


def test_a_key_abandoned_after_creating_its_order_answers_with_that_order(app: Any, gateway_server: LiveServer) -> None:
    created = post_order(gateway_server.url, key="an-earlier-key").json()
    add_key_row(app, **abandoned_row(resource_id=created["id"]))

    resumed = post_order(gateway_server.url)

    assert resumed.status_code == 201, resumed.text
    assert resumed.json()["id"] == created["id"]
    assert resumed.json()["provider_order_id"] == created["provider_order_id"]
    assert order_count(app) == 1
    assert post_order(gateway_server.url).headers[REPLAYED_HEADER] == "true"


def test_a_key_whose_lease_still_runs_is_not_taken_over(app: Any, gateway_server: LiveServer) -> None:
    add_key_row(app, **abandoned_row(locked_until=utcnow() + timedelta(minutes=1)))

    assert_error(post_order(gateway_server.url), 409, "idempotency_key_in_progress")
    assert order_count(app) == 0


def test_a_retry_after_a_crash_resumes_the_order_and_reports_its_unknown_outcome(
    app: Any, gateway_server: LiveServer, neutral_provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_: Any) -> Order:
        raise RuntimeError("the database went away after the provider answered")

    with monkeypatch.context() as patched:
        patched.setattr(orders, "_record_creation", crash)
        failed = post_order(gateway_server.url)

    assert_error(failed, 500, "internal_error")
    [row] = key_rows(app)
    assert row.status == "in_progress" and row.resource_id is not None
    retried = post_order(gateway_server.url)
    # The provider answered, but the answer died with the process: the order is not payable from
    # here, and saying 201 would hand the app an order without pay_params.
    body = assert_error(retried, 504, "provider_outcome_unknown")
    assert body["order_id"] == row.resource_id
    assert order_count(app) == 1


# -- housekeeping and documentation ----------------------------------------------------------------


def test_purge_expired_deletes_only_keys_past_their_retention(app: Any) -> None:
    now = utcnow()
    day_old = now - timedelta(hours=25)
    rows = {
        "old-done": {"status": "done", "created_at": day_old, "locked_until": None},
        "old-abandoned": {"status": "in_progress", "created_at": day_old, "locked_until": day_old},
        "old-but-leased": {"status": "in_progress", "created_at": day_old, "locked_until": now + timedelta(minutes=5)},
        "recent-done": {"status": "done", "created_at": now - timedelta(hours=23), "locked_until": None},
        "recent-running": {"status": "in_progress", "created_at": now, "locked_until": now + timedelta(minutes=5)},
    }
    for key, values in rows.items():
        add_key_row(app, scope="POST /v1/orders anonymous", key=key, request_hash="0" * 64, **values)

    deleted = purge_expired(app.extensions["gateway"].db, older_than=timedelta(hours=24))

    assert deleted == 2
    assert [row.key for row in key_rows(app)] == ["old-but-leased", "recent-done", "recent-running"]


def test_the_openapi_document_describes_the_header(app: Any) -> None:
    operation = app.test_client().get("/openapi.json").get_json()["paths"]["/v1/orders"]["post"]

    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert "requestBody" in operation  # the view's own documentation is kept
    assert {"201", "422", "502", "504"} <= set(operation["responses"])
