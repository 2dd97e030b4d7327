"""The provider against the Stripe simulator over real HTTP: create, pay and its signed webhook,
query, refunds (bounded, idempotent, pending), Idempotency-Keys, auth and injected faults."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from gateway_stripe.client import StripeClient
from gateway_stripe.config import StripeConfig
from gateway_stripe.provider import StripeProvider
from gateway_stripe.sandbox.http import parse_form
from gateway_stripe.sandbox.store import Refused
from werkzeug.wrappers import Request, Response

from gateway.domain.provider_failures import is_definite_refusal
from gateway.plugin import (
    InboundRequest,
    NotFound,
    OrderDraft,
    OrderRef,
    OrderRequest,
    ProviderError,
    ProviderTimeout,
    RefundFailed,
    RefundRef,
    RefundRequest,
    RefundResult,
)
from gateway.testing.live import LiveServer
from tests.stripe.conftest import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET, StripeSandbox


def make_provider(url: str, secret_key: str = SECRET_KEY, timeout: float = 2.0) -> StripeProvider:
    config = StripeConfig(secret_key, PUBLISHABLE_KEY, WEBHOOK_SECRET, url, timeout)
    return StripeProvider(config, StripeClient(url, secret_key, timeout))


def order_request(order_id: str = "order-1", amount: int = 1000, currency: str = "USD") -> OrderRequest:
    draft = OrderDraft("card", amount, currency, "Coffee", "1kg", "203.0.113.7", {})
    return OrderRequest(draft, order_id, f"mon-{order_id}", "https://shop.example/notify/stripe")


def ref(order: OrderRequest, provider_order_id: str | None) -> OrderRef:
    draft = order.draft
    return OrderRef(order.merchant_order_no, provider_order_id, draft.amount, draft.currency, draft.client_ip)


def refund_request(order: OrderRequest, pi: str, refund_id: str, amount: int) -> RefundRequest:
    return RefundRequest(refund_id, ref(order, pi), amount, order.draft.currency, None)


def wait_for(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
    return result


@dataclass
class WebhookReceiver:
    """A merchant's webhook endpoint: records each delivery and answers the scripted statuses in turn."""

    statuses: list[int]
    received: list[InboundRequest] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.received.append(InboundRequest("POST", request.path, headers, [], request.get_data()))
        status = self.statuses[min(len(self.received), len(self.statuses)) - 1]
        return Response('{"received": true}', status, content_type="application/json")(environ, start_response)


@pytest.fixture
def receiver(stripe: StripeSandbox) -> Iterator[WebhookReceiver]:
    webhook = WebhookReceiver([200])
    server = LiveServer(webhook)
    stripe.simulator.webhook_url = f"{server.url}/notify/stripe"
    yield webhook
    stripe.simulator.close()
    server.stop()


def paid_intent(stripe: StripeSandbox, provider: StripeProvider, order: OrderRequest) -> str:
    pi = provider.create_order(order).provider_order_id
    stripe.pay(pi)
    return pi


# -- create, pay, webhook, query -------------------------------------------------------------------


def test_create_pay_webhook_and_query_round_trip(stripe: StripeSandbox, receiver: WebhookReceiver) -> None:
    provider = make_provider(stripe.url)
    order = order_request(amount=500, currency="JPY")
    created = provider.create_order(order)
    pi = created.provider_order_id
    assert created.pay_params["client_secret"].startswith(f"{pi}_secret_")
    seen = stripe.intent(pi)
    assert (seen["amount"], seen["currency"], seen["status"]) == (500, "jpy", "requires_payment_method")
    assert seen["metadata"] == {"merchant_order_no": "mon-order-1", "gateway_order_id": "order-1"}
    assert not provider.query_order(ref(order, pi)).paid

    stripe.pay(pi)
    delivered = wait_for(lambda: receiver.received)[0]
    notification = provider.verify_notification(delivered)  # signed as Stripe signs: it verifies
    assert (notification.paid, notification.amount, notification.currency) == (True, 500, "JPY")
    assert notification.merchant_order_no == "mon-order-1" and notification.event_id.startswith("evt_")
    assert json.loads(delivered.body)["type"] == "payment_intent.succeeded"
    queried = provider.query_order(ref(order, pi))
    assert (queried.paid, queried.amount, queried.provider_order_id) == (True, 500, pi)


def test_webhooks_are_retried_until_a_2xx_and_each_attempt_is_signed_afresh(
    stripe: StripeSandbox, receiver: WebhookReceiver
) -> None:
    receiver.statuses = [500, 400, 204]
    provider = make_provider(stripe.url)
    pi = paid_intent(stripe, provider, order_request())
    wait_for(lambda: len(receiver.received) == 3)
    events = wait_for(lambda: [e for e in stripe.intent(pi)["events"] if e["delivered"]])
    assert [attempt["http_status"] for attempt in events[0]["attempts"]] == [500, 400, 204]
    assert len({request.body for request in receiver.received}) == 1  # the same event each time
    for request in receiver.received:
        assert provider.verify_notification(request).paid


def test_a_failed_or_cancelled_payment_sends_its_own_event(stripe: StripeSandbox, receiver: WebhookReceiver) -> None:
    provider = make_provider(stripe.url)
    failed = provider.create_order(order_request("o-failed")).provider_order_id
    cancelled = provider.create_order(order_request("o-cancelled")).provider_order_id
    stripe.pay(failed, outcome="failed")
    stripe.pay(cancelled, outcome="canceled")
    wait_for(lambda: len(receiver.received) == 2)
    reports = {provider.verify_notification(request).provider_order_id: provider.verify_notification(request)
               for request in receiver.received}  # fmt: skip
    assert (reports[failed].paid, reports[failed].cancelled) == (False, False)
    assert (reports[cancelled].paid, reports[cancelled].cancelled) == (False, True)


def test_the_same_event_can_be_resent(stripe: StripeSandbox, receiver: WebhookReceiver) -> None:
    pi = paid_intent(stripe, make_provider(stripe.url), order_request())
    wait_for(lambda: receiver.received)
    event_id = stripe.intent(pi)["events"][0]["id"]
    assert requests.post(f"{stripe.url}/test/events/{event_id}/resend", timeout=5).status_code == 202
    wait_for(lambda: len(receiver.received) == 2)
    assert json.loads(receiver.received[0].body) == json.loads(receiver.received[1].body)


# -- refunds -------------------------------------------------------------------------------------


def test_refunds_are_bounded_by_what_was_received(stripe: StripeSandbox, receiver: WebhookReceiver) -> None:
    provider = make_provider(stripe.url)
    order = order_request(amount=1000)
    pi = paid_intent(stripe, provider, order)

    first = provider.refund(refund_request(order, pi, "rf-1", 400))
    second = provider.refund(refund_request(order, pi, "rf-2", 600))
    assert first.provider_refund_id != second.provider_refund_id
    with pytest.raises(ProviderError) as refused:
        provider.refund(refund_request(order, pi, "rf-3", 1))
    assert (refused.value.code, is_definite_refusal(refused.value)) == ("charge_already_refunded", True)
    assert [refund["amount"] for refund in stripe.intent(pi)["refunds"]] == [600, 400]


def test_a_refund_larger_than_what_is_left_is_refused_with_stripes_code(
    stripe: StripeSandbox, receiver: WebhookReceiver
) -> None:
    provider = make_provider(stripe.url)
    order = order_request(amount=1000)
    pi = paid_intent(stripe, provider, order)
    provider.refund(refund_request(order, pi, "rf-1", 700))
    with pytest.raises(ProviderError) as refused:
        provider.refund(refund_request(order, pi, "rf-2", 301))
    assert (refused.value.code, is_definite_refusal(refused.value)) == ("amount_too_large", True)


def test_an_unpaid_payment_cannot_be_refunded(stripe: StripeSandbox) -> None:
    provider = make_provider(stripe.url)
    order = order_request()
    pi = provider.create_order(order).provider_order_id
    with pytest.raises(ProviderError) as refused:
        provider.refund(refund_request(order, pi, "rf-1", 100))
    assert is_definite_refusal(refused.value) and "does not have a successful charge" in refused.value.message


def test_a_retried_refund_never_refunds_twice(stripe: StripeSandbox, receiver: WebhookReceiver) -> None:
    provider = make_provider(stripe.url)
    order = order_request(amount=1000)
    pi = paid_intent(stripe, provider, order)
    first = provider.refund(refund_request(order, pi, "rf-1", 1000))
    again = provider.refund(refund_request(order, pi, "rf-1", 1000))
    assert again.provider_refund_id == first.provider_refund_id
    assert len(stripe.intent(pi)["refunds"]) == 1


def test_a_refund_that_timed_out_is_found_on_retry(stripe: StripeSandbox, receiver: WebhookReceiver) -> None:
    provider = make_provider(stripe.url, timeout=0.3)
    order = order_request(amount=1000)
    pi = paid_intent(stripe, provider, order)
    stripe.fault("refund", "delay", seconds=0.8)
    with pytest.raises(ProviderTimeout):
        provider.refund(refund_request(order, pi, "rf-1", 1000))
    wait_for(lambda: stripe.intent(pi)["refunds"])  # Stripe went on and refunded
    result = provider.refund(refund_request(order, pi, "rf-1", 1000))
    assert [refund["id"] for refund in stripe.intent(pi)["refunds"]] == [result.provider_refund_id]


def test_a_pending_refund_is_pending_until_stripe_settles_it(stripe: StripeSandbox, receiver: WebhookReceiver) -> None:
    provider = make_provider(stripe.url)
    order = order_request(amount=1000)
    pi = paid_intent(stripe, provider, order)
    stripe.fault("refund", "pending")
    answers = [provider.refund(refund_request(order, pi, "rf-1", 1000)) for _ in range(2)]  # the retry finds it
    (refund,) = stripe.intent(pi)["refunds"]
    assert answers == [RefundResult(provider_refund_id=refund["id"], pending=True)] * 2
    query = RefundRef("rf-1", refund["id"], ref(order, pi), 1000, order.draft.currency)
    assert provider.query_refund(query) == RefundResult(provider_refund_id=refund["id"], pending=True)
    stripe.settle_refund(refund["id"], "succeeded")
    # A replay of the first answer under the Idempotency-Key would still say "pending": the
    # provider reads the refund's current state instead.
    assert provider.refund(refund_request(order, pi, "rf-1", 1000)) == RefundResult(refund["id"])
    assert provider.query_refund(query) == RefundResult(refund["id"])
    # Without Stripe's id the refund is found by ours; a refund Stripe has no record of is NotFound.
    assert provider.query_refund(dataclasses.replace(query, provider_refund_id=None)) == RefundResult(refund["id"])
    with pytest.raises(NotFound):
        provider.query_refund(dataclasses.replace(query, refund_id="rf-never-sent", provider_refund_id=None))
    with pytest.raises(NotFound):
        provider.query_refund(dataclasses.replace(query, provider_refund_id="re_unknown"))


def test_a_pending_refund_that_fails_is_a_definite_failure(stripe: StripeSandbox, receiver: WebhookReceiver) -> None:
    provider = make_provider(stripe.url)
    order = order_request(amount=1000)
    pi = paid_intent(stripe, provider, order)
    stripe.fault("refund", "pending")
    assert provider.refund(refund_request(order, pi, "rf-1", 1000)).pending
    stripe.settle_refund(stripe.intent(pi)["refunds"][0]["id"], "failed")
    with pytest.raises(RefundFailed) as failed:
        provider.refund(refund_request(order, pi, "rf-1", 1000))
    assert (failed.value.code, is_definite_refusal(failed.value)) == ("refund_failed", True)
    assert "declined" in failed.value.message


# -- the API's own rules -------------------------------------------------------------------------


def stripe_post(stripe: StripeSandbox, path: str, data: list[tuple[str, str]], **headers: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {SECRET_KEY}", **headers}
    return requests.post(f"{stripe.url}{path}", data=data, headers=headers, timeout=5)


INTENT_FORM = [("amount", "1000"), ("currency", "usd"), ("payment_method_types[]", "card")]


def test_an_idempotency_key_replays_its_first_answer_and_refuses_other_params(stripe: StripeSandbox) -> None:
    first = stripe_post(stripe, "/v1/payment_intents", INTENT_FORM, **{"Idempotency-Key": "k1"})
    again = stripe_post(stripe, "/v1/payment_intents", INTENT_FORM, **{"Idempotency-Key": "k1"})
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    other = stripe_post(stripe, "/v1/payment_intents", [*INTENT_FORM[:1], ("currency", "cad"), *INTENT_FORM[2:]],
                        **{"Idempotency-Key": "k1"})  # fmt: skip
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"
    fresh = stripe_post(stripe, "/v1/payment_intents", INTENT_FORM, **{"Idempotency-Key": "k2"})
    assert fresh.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    ("form", "status", "code"),
    [
        ([("amount", "0"), *INTENT_FORM[1:]], 400, "amount_too_small"),
        ([("amount", "1.5"), *INTENT_FORM[1:]], 400, "parameter_invalid"),
        (INTENT_FORM[1:], 400, "parameter_missing"),
        ([*INTENT_FORM, ("colour", "red")], 400, "parameter_unknown"),
        ([("amount", "1000"), ("currency", "xxx"), INTENT_FORM[2]], 400, None),
        ([("amount", "5125"), ("currency", "kwd"), INTENT_FORM[2]], 400, "invalid_charge_amount"),
        ([*INTENT_FORM, ("amount", "2")], 400, "parameter_invalid"),
    ],
    ids=["zero", "fraction", "missing", "unknown", "currency", "three-decimal", "repeated"],
)
def test_requests_stripe_would_refuse_are_refused(
    stripe: StripeSandbox, form: list[tuple[str, str]], status: int, code: str | None
) -> None:
    response = stripe_post(stripe, "/v1/payment_intents", form)
    assert response.status_code == status, response.text
    assert response.json()["error"].get("code") == code


def test_an_api_version_the_simulator_does_not_speak_is_refused(stripe: StripeSandbox) -> None:
    refused = stripe_post(stripe, "/v1/payment_intents", INTENT_FORM, **{"Stripe-Version": "2099-01-01"})
    assert refused.status_code == 400, refused.text
    expected = {"type": "invalid_request_error", "message": "Invalid Stripe API version: 2099-01-01"}
    assert refused.json()["error"] == expected
    spoken = stripe_post(stripe, "/v1/payment_intents", INTENT_FORM, **{"Stripe-Version": "2024-06-20"})
    assert spoken.status_code == 200, spoken.text


def test_a_forgotten_idempotency_key_makes_a_new_request(stripe: StripeSandbox) -> None:
    first = stripe_post(stripe, "/v1/payment_intents", INTENT_FORM, **{"Idempotency-Key": "k2"})
    assert requests.delete(f"{stripe.url}/test/idempotency_keys", timeout=5).json() == {"forgotten": 1}
    again = stripe_post(stripe, "/v1/payment_intents", INTENT_FORM, **{"Idempotency-Key": "k2"})
    assert again.json()["id"] != first.json()["id"] and "Idempotent-Replayed" not in again.headers


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/v1/refunds", {"payment_intent": "pi_x", "limt": "100"}),
        ("GET", "/v1/payment_intents/pi_x", {"expnd": "latest_charge"}),
        ("GET", "/v1/refunds/re_x", {"colour": "red"}),
        ("POST", "/v1/refunds", {"payment_intent": "pi_x", "amount": "1", "colour": "red"}),
        ("POST", "/v1/payment_intents", {**dict(INTENT_FORM), "colour": "red"}),
    ],
    ids=["list-refunds", "retrieve-intent", "retrieve-refund", "create-refund", "create-intent"],
)
def test_an_unknown_parameter_is_refused_on_every_endpoint_as_stripe_does(
    stripe: StripeSandbox, method: str, path: str, params: dict[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    sent = {"params": params} if method == "GET" else {"data": params}
    response = requests.request(method, f"{stripe.url}{path}", headers=headers, timeout=5, **sent)
    unknown = next(name for name in params if name in ("limt", "expnd", "colour"))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "code": "parameter_unknown",
        "param": unknown,
        "message": f"Received unknown parameter: {unknown}",
    }


def test_the_refund_list_pages_by_limit_and_starting_after(stripe: StripeSandbox, receiver: WebhookReceiver) -> None:
    order = order_request()
    pi = make_provider(stripe.url).create_order(order).provider_order_id
    stripe.pay(pi)
    for number in range(3):
        make_provider(stripe.url).refund(refund_request(order, pi, f"refund-{number}", 1))
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    first = requests.get(f"{stripe.url}/v1/refunds", {"payment_intent": pi, "limit": "2"}, headers=headers, timeout=5)
    assert (len(first.json()["data"]), first.json()["has_more"]) == (2, True)
    after = {"payment_intent": pi, "limit": "2", "starting_after": first.json()["data"][-1]["id"]}
    second = requests.get(f"{stripe.url}/v1/refunds", after, headers=headers, timeout=5).json()
    assert (len(second["data"]), second["has_more"]) == (1, False)
    assert second["data"][0]["metadata"]["refund_id"] == "refund-0"  # newest first: the oldest comes last


def test_a_wrong_secret_key_is_refused_without_echoing_it(stripe: StripeSandbox) -> None:
    wrong = "sk_test_51GwWrongKey000000000000000000000000"
    with pytest.raises(ProviderError) as refused:
        make_provider(stripe.url, secret_key=wrong).create_order(order_request())
    assert (refused.value.code, is_definite_refusal(refused.value)) == ("invalid_request_error", True)
    response = requests.get(
        f"{stripe.url}/v1/payment_intents/pi_x", headers={"Authorization": f"Bearer {wrong}"}, timeout=5
    )
    assert response.status_code == 401 and wrong not in response.text and SECRET_KEY not in response.text


@pytest.mark.parametrize(
    ("fault", "code", "definite"),
    [
        ({"mode": "http_500"}, "api_error", False),
        ({"mode": "html"}, "http_502", False),
        ({"mode": "error", "status": 402, "code": "card_declined"}, "card_declined", True),
        ({"mode": "error", "status": 429, "code": "rate_limit"}, "rate_limit", False),
    ],
)
def test_injected_faults_are_understood(
    stripe: StripeSandbox, fault: dict[str, Any], code: str, definite: bool
) -> None:
    stripe.fault("create_order", **fault)
    with pytest.raises(ProviderError) as refused:
        make_provider(stripe.url).create_order(order_request())
    assert (refused.value.code, is_definite_refusal(refused.value)) == (code, definite)
    # The key was not spent on the fault: the same order can be created now.
    assert make_provider(stripe.url).create_order(order_request()).provider_order_id.startswith("pi_")


def test_a_slow_create_times_out_but_still_happens(stripe: StripeSandbox) -> None:
    stripe.fault("create_order", "delay", seconds=0.8)
    with pytest.raises(ProviderTimeout):
        make_provider(stripe.url, timeout=0.3).create_order(order_request())
    # Meanwhile a retry under the same Idempotency-Key is told the first is still in flight.
    with pytest.raises(ProviderError) as in_flight:
        make_provider(stripe.url).create_order(order_request())
    assert (in_flight.value.code, is_definite_refusal(in_flight.value)) == ("idempotency_key_in_use", False)
    time.sleep(0.8)
    replayed = make_provider(stripe.url).create_order(order_request())
    assert replayed.provider_order_id.startswith("pi_")


def test_faults_are_listed_and_cleared(stripe: StripeSandbox) -> None:
    stripe.fault("query", "http_500", count=2)
    assert requests.get(f"{stripe.url}/test/faults", timeout=5).json()["faults"][0]["count"] == 2
    requests.delete(f"{stripe.url}/test/faults", timeout=5)
    assert requests.get(f"{stripe.url}/test/faults", timeout=5).json()["faults"] == []
    bad = requests.post(f"{stripe.url}/test/faults", json={"operation": "nope", "mode": "delay"}, timeout=5)
    assert bad.status_code == 400


def test_unknown_urls_answer_in_stripes_error_shape(stripe: StripeSandbox) -> None:
    response = requests.get(f"{stripe.url}/v1/charges", headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=5)
    assert response.status_code == 404 and "Unrecognized request URL" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("pairs", "parsed"),
    [
        ([("a", "1"), ("m[k]", "v"), ("m[j]", "w")], {"a": "1", "m": {"k": "v", "j": "w"}}),
        ([("l[]", "x"), ("l[]", "y")], {"l": ["x", "y"]}),
        ([("l[0]", "x"), ("l[1]", "y")], {"l": ["x", "y"]}),
        # payment_method_options[wechat_pay][client]: Stripe nests deeper than one level
        ([("o[w][c]", "web"), ("o[w][d]", "x"), ("o[v]", "1")], {"o": {"w": {"c": "web", "d": "x"}, "v": "1"}}),
    ],
)
def test_bracket_notation_is_parsed(pairs: list[tuple[str, str]], parsed: dict[str, Any]) -> None:
    assert parse_form(pairs) == parsed


@pytest.mark.parametrize(
    "pairs",
    [
        [("a", "1"), ("a", "2")],
        [("m[k]", "1"), ("m[k]", "2")],
        [("a", "1"), ("a[k]", "2")],
        [("a[b]", "1"), ("a[b][c]", "2")],
        [("a[b][c]", "1"), ("a[b]", "2")],
        [("l[]", "1"), ("l[k]", "2")],
    ],
)
def test_ambiguous_forms_are_refused(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(Refused):
        parse_form(pairs)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(1200, "usd", "12.00 USD"), (500, "jpy", "500 JPY"), (12340, "kwd", "12.340 KWD"), (50000, "isk", "500.00 ISK")],
)
def test_the_checkout_page_shows_the_amount_in_major_units(
    stripe: StripeSandbox, amount: int, currency: str, shown: str
) -> None:
    form = {
        "amount": str(amount),
        "currency": currency,
        "payment_method_types[0]": "alipay",
        "payment_method_data[type]": "alipay",
        "confirm": "true",
        "return_url": "https://shop.example/return",
    }
    created = requests.post(
        f"{stripe.url}/v1/payment_intents", data=form, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=5
    )
    assert created.status_code == 200, created.text
    page = requests.get(created.json()["next_action"]["alipay_handle_redirect"]["url"], timeout=5).text
    assert f'<p id="amount">{shown}</p>' in page
