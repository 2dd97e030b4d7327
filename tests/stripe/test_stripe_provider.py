"""The Stripe provider's wire behaviour, over real HTTP against a recording stand-in for Stripe.

What goes out (form fields in bracket notation, headers, amounts in minor units as they are)
and how every kind of answer is understood. The simulator-based tests cover the same provider
against a stateful double of Stripe, and tests/stripe/test_stripe_gateway.py the whole gateway.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from gateway_stripe.client import API_VERSION, StripeClient, form_pairs
from gateway_stripe.config import StripeConfig
from gateway_stripe.provider import StripeProvider
from werkzeug.wrappers import Request, Response

from gateway.domain.provider_failures import is_definite_refusal
from gateway.plugin import (
    FixedClock,
    InboundRequest,
    InvalidOrder,
    NextAction,
    NextActionType,
    NotificationRejected,
    Operation,
    OrderDraft,
    OrderRef,
    OrderRequest,
    ProviderError,
    ProviderTimeout,
    ProviderUnreachable,
    RefundNotification,
    RefundRequest,
    Verdict,
)
from gateway.testing.live import LiveServer
from tests.stripe.conftest import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET
from tests.stripe.harness import stripe_v1

NOW = 1_780_000_000  # the provider's clock in notification tests


def intent(**changes: Any) -> dict[str, Any]:
    """A PaymentIntent as Stripe's API reference shows one (fields we do not read included)."""
    return {
        "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "object": "payment_intent",
        "amount": 2856,
        "amount_capturable": 0,
        "amount_received": 0,
        "capture_method": "automatic",
        "client_secret": "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "created": 1680800504,
        "currency": "usd",
        "livemode": False,
        "metadata": {"merchant_order_no": "20261125225309a14ebec474a1", "gateway_order_id": "o-1"},
        "payment_method_types": ["card"],
        "status": "requires_payment_method",
        **changes,
    }


def refund_object(**changes: Any) -> dict[str, Any]:
    return {
        "id": "re_3MtwBwLkdIwHu7ix0eIYZ4Yd",
        "object": "refund",
        "amount": 1000,
        "currency": "usd",
        "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "status": "succeeded",
        "metadata": {"refund_id": "rf-1"},
        **changes,
    }


class FakeStripe:
    """Records what reaches it; answers what the test queued for each "METHOD /path" (or the default)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: dict[str, list[tuple[int, Any]]] = {}
        self.delay = 0.0

    def answer(self, route: str, status: int, body: Any) -> None:
        self.answers.setdefault(route, []).append((status, body))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": list(parse_qsl(request.query_string.decode())),
                "headers": dict(request.headers),
                "form": list(parse_qsl(request.get_data(as_text=True), keep_blank_values=True)),
            }
        )
        time.sleep(self.delay)
        queue = self.answers.get(f"{request.method} {request.path}") or [(200, intent())]
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        text = body if isinstance(body, str) else json.dumps(body)
        return Response(text, status, content_type="application/json")(environ, start_response)


@pytest.fixture
def fake() -> Iterator[tuple[FakeStripe, str]]:
    stripe = FakeStripe()
    server = LiveServer(stripe)
    yield stripe, server.url
    server.stop()


def make_provider(api_url: str, timeout: float = 2.0) -> StripeProvider:
    config = StripeConfig(SECRET_KEY, PUBLISHABLE_KEY, WEBHOOK_SECRET, api_url, timeout)
    return StripeProvider(
        config, StripeClient(api_url, SECRET_KEY, timeout), clock=FixedClock(datetime.fromtimestamp(NOW, UTC))
    )


def order_request(amount: int = 2856, currency: str = "USD", channel: str = "card", **draft: Any) -> OrderRequest:
    fields = {"subject": "Coffee beans", "body": "1kg", "client_ip": "203.0.113.7", "options": {}, **draft}
    return OrderRequest(
        draft=OrderDraft(channel=channel, amount=amount, currency=currency, **fields),
        order_id="5b0f3a1e-0c5d-4a9e-9f6e-2d7c1b8a4e21",
        merchant_order_no="20261125225309a14ebec474a1",
        notify_url="https://shop.example/notify/stripe",
    )


# -- create --------------------------------------------------------------------------------------


def test_create_sends_the_payment_intent_form_with_bracket_notation(fake: tuple[FakeStripe, str]) -> None:
    stripe, url = fake
    redirect = {"type": "alipay_handle_redirect", "alipay_handle_redirect": {"url": "https://hooks.stripe.example/r"}}
    answer = intent(amount=500, currency="jpy") | {"status": "requires_action", "next_action": redirect}
    stripe.answer("POST /v1/payment_intents", 200, answer)
    created = make_provider(url).create_order(
        order_request(
            amount=500, currency="JPY", channel="alipay", subject="Tea & +10%", return_url="https://shop.example/r?o=1"
        )
    )
    assert created.next_action == NextAction(NextActionType.REDIRECT_TO_URL, url="https://hooks.stripe.example/r")

    sent = stripe.requests[-1]
    assert (sent["method"], sent["path"]) == ("POST", "/v1/payment_intents")
    assert sent["form"] == [
        ("amount", "500"),  # ¥500: JPY is zero-decimal at Stripe, so the minor units are yen
        ("currency", "jpy"),
        ("payment_method_types[]", "alipay"),
        ("description", "Tea & +10%"),
        ("metadata[merchant_order_no]", "20261125225309a14ebec474a1"),
        ("metadata[gateway_order_id]", "5b0f3a1e-0c5d-4a9e-9f6e-2d7c1b8a4e21"),
        # Confirmed at creation, so Stripe answers the redirect at once (Stripe.js is not needed).
        ("confirm", "true"),
        ("payment_method_data[type]", "alipay"),
        ("return_url", "https://shop.example/r?o=1"),
    ]
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent["headers"]["Idempotency-Key"] == "5b0f3a1e-0c5d-4a9e-9f6e-2d7c1b8a4e21"
    assert sent["headers"]["Stripe-Version"] == API_VERSION


@pytest.mark.parametrize(("amount", "currency"), [(2856, "USD"), (500, "JPY"), (12000, "KRW"), (5120, "KWD")])
def test_amounts_go_out_in_minor_units_exactly_as_stored(
    fake: tuple[FakeStripe, str], amount: int, currency: str
) -> None:
    stripe, url = fake
    stripe.answer("POST /v1/payment_intents", 200, intent(amount=amount, currency=currency.lower()))
    make_provider(url).create_order(order_request(amount=amount, currency=currency))
    form = dict(stripe.requests[-1]["form"])
    assert (form["amount"], form["currency"]) == (str(amount), currency.lower())


def test_pay_params_are_what_the_mobile_sdk_needs(fake: tuple[FakeStripe, str]) -> None:
    _, url = fake
    created = make_provider(url).create_order(order_request())
    assert created.provider_order_id == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    assert dict(created.pay_params) == {
        "client_secret": "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "publishable_key": PUBLISHABLE_KEY,
        "payment_intent_id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    }


def test_form_pairs_follow_stripes_bracket_notation() -> None:
    params = {"a": 1, "b": True, "c": None, "m": {"k": "v", "n": {"deep": "x"}}, "l": ["card", "alipay"]}
    assert form_pairs(params) == [
        ("a", "1"), ("b", "true"), ("m[k]", "v"), ("m[n][deep]", "x"), ("l[]", "card"), ("l[]", "alipay"),
    ]  # fmt: skip
    with pytest.raises(TypeError):
        form_pairs({"amount": 1.5})


def stripe_error(kind: str, message: str, code: str | None = None) -> dict[str, Any]:
    """Stripe's error body: {"error": {"type", "code", "message"}} (code only for some errors)."""
    return {"error": {"type": kind, "message": message, **({"code": code} if code else {})}}


INVALID = "invalid_request_error"


@pytest.mark.parametrize(
    ("status", "body", "code", "definite"),
    [
        (400, stripe_error(INVALID, "Bad.", "parameter_invalid_integer"), "parameter_invalid_integer", True),
        (400, stripe_error(INVALID, "No code."), INVALID, True),
        (401, stripe_error(INVALID, "Invalid API Key provided."), INVALID, True),
        (402, stripe_error("card_error", "Declined.", "card_declined"), "card_declined", True),
        (404, stripe_error(INVALID, "No such.", "resource_missing"), "resource_missing", True),
        (409, stripe_error(INVALID, "In use.", "idempotency_key_in_use"), "idempotency_key_in_use", False),
        (424, stripe_error("api_error", "Dependency."), "api_error", False),
        (429, stripe_error(INVALID, "Slow down.", "rate_limit"), "rate_limit", False),
        (500, stripe_error("api_error", "Unknown error."), "api_error", False),
        (502, "<html><body>Bad Gateway</body></html>", "http_502", False),
        (403, "<html>Forbidden by a proxy</html>", "http_403", False),
        (200, "<html>a captive portal</html>", "invalid_response", False),
        (200, [1, 2], "invalid_response", False),
        (200, intent(client_secret=None), "invalid_response", False),
        (200, intent(metadata={"merchant_order_no": "someone-else"}), "invalid_response", False),
        (200, intent(amount=285600), "invalid_response", False),
        (200, {**intent(), "amount": "2856"}, "invalid_response", False),
    ],
    ids=["400", "400-no-code", "401", "402", "404", "409", "424", "429", "500", "502-html", "403-html",
         "200-html", "200-list", "no-client-secret", "other-order", "other-amount", "amount-as-text"],
)  # fmt: skip
def test_answers_are_understood_as_definite_only_when_stripe_certainly_did_nothing(
    fake: tuple[FakeStripe, str], status: int, body: Any, code: str, definite: bool
) -> None:
    stripe, url = fake
    stripe.answer("POST /v1/payment_intents", status, body)
    with pytest.raises(ProviderError) as refused:
        make_provider(url).create_order(order_request())
    assert (refused.value.code, is_definite_refusal(refused.value)) == (code, definite)


def test_stripes_own_message_is_kept_but_never_an_echoed_secret_key(fake: tuple[FakeStripe, str]) -> None:
    stripe, url = fake
    message = f"Invalid API Key provided: {SECRET_KEY}"
    stripe.answer("POST /v1/payment_intents", 401, {"error": {"type": "invalid_request_error", "message": message}})
    with pytest.raises(ProviderError) as refused:
        make_provider(url).create_order(order_request())
    assert refused.value.message == "Invalid API Key provided: [secret key]"
    assert SECRET_KEY not in str(refused.value)


def test_a_late_answer_is_a_time_out_and_a_closed_port_is_unreachable(fake: tuple[FakeStripe, str]) -> None:
    stripe, url = fake
    stripe.delay = 0.5
    with pytest.raises(ProviderTimeout):
        make_provider(url, timeout=0.2).create_order(order_request())
    with pytest.raises(ProviderUnreachable):
        make_provider("http://127.0.0.1:9", timeout=0.5).create_order(order_request())


def test_orders_stripe_would_refuse_are_refused_before_anything_is_stored() -> None:
    provider = make_provider("http://unused.invalid")
    draft = order_request().draft
    provider.validate_order(draft)
    for changes, field in [({"currency": "KWD", "amount": 5125}, "amount"), ({"amount": 100_000_000}, "amount")]:
        with pytest.raises(InvalidOrder) as refused:
            provider.validate_order(OrderDraft(**{**draft.__dict__, **changes}))
        assert field in refused.value.errors
    provider.validate_order(OrderDraft(**{**draft.__dict__, "currency": "KWD", "amount": 5120}))


def test_declared_currencies_count_minor_units_as_stripe_does() -> None:
    provider = make_provider("http://unused.invalid")
    info = provider.info
    assert {code: info.currencies[code] for code in ("JPY", "KRW", "VND", "USD", "CAD", "EUR", "KWD")} == {
        "JPY": 0, "KRW": 0, "VND": 0, "USD": 2, "CAD": 2, "EUR": 2, "KWD": 3,
    }  # fmt: skip
    assert info.channels == ("card", "alipay", "wechat_pay")
    assert provider.operations == set(Operation)  # query_refund included


# -- query ---------------------------------------------------------------------------------------


def order_ref(provider_order_id: str | None = "pi_3MtwBwLkdIwHu7ix28a3tqPa") -> OrderRef:
    return OrderRef("20261125225309a14ebec474a1", provider_order_id, 2856, "USD", "203.0.113.7")


@pytest.mark.parametrize(
    ("status", "received", "paid", "cancelled", "amount"),
    [
        ("succeeded", 2856, True, False, 2856),
        ("requires_payment_method", 0, False, False, 2856),  # not paid: the amount asked, so it matches
        ("processing", 0, False, False, 2856),
        ("canceled", 0, False, True, 2856),
        ("succeeded", 2000, True, False, 2000),  # a short payment is reported as it is: the core refuses it
    ],
)
def test_query_reads_the_payment_intent(
    fake: tuple[FakeStripe, str], status: str, received: int, paid: bool, cancelled: bool, amount: int
) -> None:
    stripe, url = fake
    stripe.answer(
        "GET /v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa", 200, intent(status=status, amount_received=received)
    )
    report = make_provider(url).query_order(order_ref())
    assert (report.paid, report.cancelled, report.amount, report.currency) == (paid, cancelled, amount, "USD")
    assert report.merchant_order_no == "20261125225309a14ebec474a1"
    assert stripe.requests[-1]["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"


@pytest.mark.parametrize("created", [None, "1680800504", 1.5])
def test_query_reads_the_payment_intent_whatever_its_unread_created_holds(
    fake: tuple[FakeStripe, str], created: Any
) -> None:
    stripe, url = fake
    stripe.answer("GET /v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa", 200, intent(created=created))
    report = make_provider(url).query_order(order_ref())
    assert (report.paid, report.cancelled, report.amount) == (False, False, 2856)


def test_query_without_a_payment_intent_says_no_payment_can_exist(fake: tuple[FakeStripe, str]) -> None:
    """No PaymentIntent id means our create got no answer: no client_secret reached the app."""
    stripe, url = fake
    with pytest.raises(ProviderError) as refused:
        make_provider(url).query_order(order_ref(None))
    assert (refused.value.code, is_definite_refusal(refused.value)) == ("no_payment_intent", True)
    assert stripe.requests == []
    stripe.answer(
        "GET /v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa", 200, intent(metadata={"merchant_order_no": "x"})
    )
    with pytest.raises(ProviderError) as other:
        make_provider(url).query_order(order_ref())
    assert (other.value.code, is_definite_refusal(other.value)) == ("invalid_response", False)


# -- refunds -------------------------------------------------------------------------------------


def refund_request(amount: int = 1000, reason: str | None = "customer asked") -> RefundRequest:
    return RefundRequest(refund_id="rf-1", order=order_ref(), amount=amount, currency="USD", reason=reason)


def listing(*refunds: dict[str, Any], has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "url": "/v1/refunds", "has_more": has_more, "data": list(refunds)}


def test_a_new_refund_is_looked_for_then_created_under_the_refund_id(fake: tuple[FakeStripe, str]) -> None:
    stripe, url = fake
    stripe.answer("GET /v1/refunds", 200, listing(refund_object(id="re_other", metadata={"refund_id": "rf-0"})))
    stripe.answer("POST /v1/refunds", 200, refund_object())
    result = make_provider(url).refund(refund_request())

    assert result.provider_refund_id == "re_3MtwBwLkdIwHu7ix0eIYZ4Yd"
    looked, created = stripe.requests
    assert (looked["method"], looked["query"]) == (
        "GET",
        [("payment_intent", "pi_3MtwBwLkdIwHu7ix28a3tqPa"), ("limit", "100")],
    )
    assert created["form"] == [
        ("payment_intent", "pi_3MtwBwLkdIwHu7ix28a3tqPa"),
        ("amount", "1000"),
        ("metadata[refund_id]", "rf-1"),
        ("metadata[merchant_order_no]", "20261125225309a14ebec474a1"),
        ("metadata[reason]", "customer asked"),
    ]
    assert created["headers"]["Idempotency-Key"] == "rf-1"


def test_a_refund_stripe_already_has_is_reported_without_a_second_one(fake: tuple[FakeStripe, str]) -> None:
    stripe, url = fake
    stripe.answer("GET /v1/refunds", 200, listing(refund_object(id="re_a", metadata={}), has_more=True))
    stripe.answer("GET /v1/refunds", 200, listing(refund_object()))
    result = make_provider(url).refund(refund_request())
    assert result.provider_refund_id == "re_3MtwBwLkdIwHu7ix0eIYZ4Yd"
    assert [r["method"] for r in stripe.requests] == ["GET", "GET"]
    assert ("starting_after", "re_a") in stripe.requests[1]["query"]


@pytest.mark.parametrize("status", ["pending", "requires_action"])
def test_a_refund_stripe_has_not_settled_is_pending(fake: tuple[FakeStripe, str], status: str) -> None:
    stripe, url = fake
    stripe.answer("GET /v1/refunds", 200, listing())
    stripe.answer("POST /v1/refunds", 200, refund_object(status=status))
    result = make_provider(url).refund(refund_request())
    assert (result.pending, result.provider_refund_id) == (True, refund_object()["id"])


@pytest.mark.parametrize(
    ("refund", "code", "definite"),
    [
        (refund_object(status="failed", failure_reason="expired_or_canceled_card"), "refund_failed", True),
        (refund_object(status="canceled"), "refund_canceled", True),
        (refund_object(amount=999), "invalid_response", False),
        (refund_object(currency="cad"), "invalid_response", False),
    ],
    ids=["failed", "canceled", "other-amount", "other-currency"],
)
def test_only_a_succeeded_refund_is_a_success(
    fake: tuple[FakeStripe, str], refund: dict[str, Any], code: str, definite: bool
) -> None:
    stripe, url = fake
    stripe.answer("GET /v1/refunds", 200, listing())
    stripe.answer("POST /v1/refunds", 200, refund)
    with pytest.raises(ProviderError) as refused:
        make_provider(url).refund(refund_request())
    assert (refused.value.code, is_definite_refusal(refused.value)) == (code, definite)


def test_stripes_refusal_to_refund_keeps_its_code(fake: tuple[FakeStripe, str]) -> None:
    stripe, url = fake
    stripe.answer("GET /v1/refunds", 200, listing())
    error = {"error": {"type": "invalid_request_error", "code": "amount_too_large", "message": "Too large."}}
    stripe.answer("POST /v1/refunds", 400, error)
    with pytest.raises(ProviderError) as refused:
        make_provider(url).refund(refund_request())
    assert (refused.value.code, refused.value.message, is_definite_refusal(refused.value)) == (
        "amount_too_large",
        "Too large.",
        True,
    )


# -- notifications -------------------------------------------------------------------------------


def event(event_type: str = "payment_intent.succeeded", obj: dict[str, Any] | None = None, **changes: Any) -> bytes:
    body = {
        "id": "evt_3MtwBwLkdIwHu7ix0Xq1xYz2",
        "object": "event",
        "api_version": "2024-06-20",
        "created": NOW - 5,
        "data": {"object": obj if obj is not None else intent(status="succeeded", amount_received=2856)},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        **changes,
    }
    return json.dumps(body, indent=2).encode()


def signed(body: bytes, timestamp: int = NOW, secret: str = WEBHOOK_SECRET) -> InboundRequest:
    header = f"t={timestamp},v1={stripe_v1(secret, timestamp, body)}"
    headers = {"content-type": "application/json; charset=utf-8", "stripe-signature": header}
    return InboundRequest(method="POST", path="/notify/stripe", headers=headers, query=[], body=body)


def test_a_succeeded_event_is_a_payment() -> None:
    notification = make_provider("http://unused.invalid").verify_notification(signed(event()))
    assert notification.paid and not notification.cancelled
    assert (notification.merchant_order_no, notification.amount, notification.currency) == (
        "20261125225309a14ebec474a1",
        2856,
        "USD",
    )
    assert (notification.provider_order_id, notification.event_id) == (
        "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "evt_3MtwBwLkdIwHu7ix0Xq1xYz2",
    )
    assert notification.paid_at == datetime.fromtimestamp(NOW - 5, UTC)
    assert notification.account_id is None


@pytest.mark.parametrize(
    ("event_type", "status", "cancelled"),
    [
        ("payment_intent.payment_failed", "requires_payment_method", False),
        ("payment_intent.canceled", "canceled", True),
        ("payment_intent.created", "requires_payment_method", False),
        ("payment_intent.processing", "processing", False),
    ],
)
def test_other_payment_intent_events_are_recorded_but_are_not_payments(
    event_type: str, status: str, cancelled: bool
) -> None:
    body = event(event_type, intent(status=status))
    notification = make_provider("http://unused.invalid").verify_notification(signed(body))
    assert (notification.paid, notification.cancelled, notification.amount) == (False, cancelled, 2856)
    assert notification.event_id == "evt_3MtwBwLkdIwHu7ix0Xq1xYz2"


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        (event("charge.succeeded", {"id": "ch_1", "object": "charge", "amount": 2856}), Verdict.IGNORED),
        (event(obj=intent(status="succeeded", amount_received=2856, metadata={})), Verdict.IGNORED),  # not ours
        (b"not json", Verdict.MALFORMED),
        (b"\xff\xfe", Verdict.MALFORMED),
        (b"[1, 2]", Verdict.MALFORMED),
        (json.dumps({"id": "evt_1", "object": "event", "type": "x", "created": 1}).encode(), Verdict.MALFORMED),
        (event(obj=intent(status="succeeded", amount="2856")), Verdict.MALFORMED),
        (event(obj=intent(status="processing")), Verdict.MALFORMED),  # "succeeded" about an unpaid intent
        (event(livemode=True), Verdict.MISMATCH),  # a live payment cannot pay a test-mode order
        (  # another gateway's payment on a shared Stripe account: acknowledged, not retried for days
            event(
                obj=intent(
                    status="succeeded",
                    amount_received=2856,
                    metadata={"merchant_order_no": "x", "gateway_instance": "other"},
                )
            ),
            Verdict.IGNORED,
        ),
    ],
    ids=[
        "charge-event",
        "foreign-intent",
        "not-json",
        "not-utf8",
        "json-list",
        "no-data",
        "amount-text",
        "status",
        "other-mode",
        "other-gateway",
    ],
)
def test_events_that_are_not_gateway_payments_are_judged(body: bytes, verdict: Verdict) -> None:
    with pytest.raises(NotificationRejected) as rejected:
        make_provider("http://unused.invalid").verify_notification(signed(body))
    assert rejected.value.verdict is verdict
    assert verdict.accepted is (verdict is Verdict.IGNORED)  # ignored ones are acknowledged: Stripe stops


@pytest.mark.parametrize(
    "request_",
    [
        signed(event(), secret="whsec_another"),
        signed(event(), timestamp=NOW - 301),
        InboundRequest(method="POST", path="/notify/stripe", headers={}, query=[], body=event()),
        InboundRequest("POST", "/notify/stripe", dict(signed(event()).headers), [], event(created=1)),
    ],
    ids=["wrong-secret", "too-old", "unsigned", "tampered"],
)  # fmt: skip
def test_forged_or_stale_events_are_bad_signatures(request_: InboundRequest) -> None:
    with pytest.raises(NotificationRejected) as rejected:
        make_provider("http://unused.invalid").verify_notification(request_)
    assert rejected.value.verdict is Verdict.BAD_SIGNATURE
    assert WEBHOOK_SECRET not in rejected.value.reason


def test_acknowledgement_is_json_and_2xx_only_for_accepted_verdicts() -> None:
    provider = make_provider("http://unused.invalid")
    for verdict in Verdict:
        ack = provider.acknowledge(verdict)
        assert ack.content_type == "application/json"
        assert (200 <= ack.status < 300) is verdict.accepted
        assert json.loads(ack.body)["received"] is verdict.accepted


CHARGE = {
    "id": "ch_3MtwBwLkdIwHu7ix28a3tqPa", "object": "charge", "amount": 2856, "amount_refunded": 1000,
    "currency": "usd", "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "refunded": False,
}  # fmt: skip
LISTED_REFUND = {
    "id": "re_3MtwBwLkdIwHu7ix0aBcDeF1", "object": "refund", "amount": 1000, "currency": "usd", "status": "succeeded",
    "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "metadata": {"refund_id": "rf-1", "merchant_order_no": "M1"},
}  # fmt: skip


def test_a_charge_refunded_event_listing_the_refund_settles_it_and_is_never_a_payment() -> None:
    """An endpoint on an API version before 2022-11-15 gets the charge with its refunds, newest first."""
    charge = {**CHARGE, "refunds": {"object": "list", "data": [LISTED_REFUND], "has_more": False}}
    found = make_provider("http://unused.invalid").verify_notification(signed(event("charge.refunded", charge)))
    assert isinstance(found, RefundNotification)
    assert (found.refund_id, found.merchant_order_no, found.amount, found.currency, found.outcome) == (
        "rf-1", "M1", 1000, "USD", "succeeded"
    )  # fmt: skip


def test_a_charge_refunded_event_without_its_refunds_is_acknowledged_and_left_alone() -> None:
    """At the pinned API version the charge's refunds are not in the event: which refund it is about is
    unknown, so it settles nothing (the refund's own answer, or reconciliation, does)."""
    with pytest.raises(NotificationRejected) as rejected:
        make_provider("http://unused.invalid").verify_notification(signed(event("charge.refunded", CHARGE)))
    assert rejected.value.verdict is Verdict.IGNORED


@pytest.mark.parametrize(("amount", "read"), [(10**8, True), (2**63 - 1, True), (2**63, False)])
def test_a_succeeded_events_amount_is_read_up_to_what_a_record_holds(amount: int, read: bool) -> None:
    # Past Stripe's largest amount it disagrees with any order (the core's mismatch); past a 64-bit
    # integer no record could hold it, so the event is malformed rather than a database error.
    body = event(obj=intent(status="succeeded", amount=amount, amount_received=amount))
    provider = make_provider("http://unused.invalid")
    if read:
        assert provider.verify_notification(signed(body)).amount == amount
        return
    with pytest.raises(NotificationRejected) as rejected:
        provider.verify_notification(signed(body))
    assert rejected.value.verdict is Verdict.MALFORMED
