"""A sandbox double of the parts of Stripe's API the plugin uses, over real HTTP, for `make run` and tests.

Mounted by the gateway at /sandbox/stripe (STRIPE_API_URL = <base>/sandbox/stripe) or run alone:
    python -m gateway_stripe.sandbox.app --port 8002 --secret-key sk_test_... --webhook-secret whsec_... \\
        --webhook-url http://127.0.0.1:8000/notify/stripe --state /tmp/stripe-sim.sqlite

Stripe's calls (Bearer secret key, form bodies in bracket notation, Idempotency-Key on POSTs):
    POST /v1/payment_intents   GET /v1/payment_intents/<id>   POST|GET /v1/refunds   GET /v1/refunds/<id>
The sandbox's own controls:
    POST /test/pay {payment_intent, outcome?}   the customer pays (or fails, or cancels): status changes and
                                                a signed payment_intent.* event goes to the webhook URL
                                                (unless notify is false: the event is recorded, not sent)
    POST /test/events/<id>/resend               deliver an event again (the dashboard's "Resend")
    POST /test/refunds/<id> {status}            settle a pending refund (succeeded, failed or canceled): a signed
                                                refund.updated event goes to the webhook URL
A refund that succeeds (at once, or when settled) also sends charge.refunded, with the charge as
Stripe shows it at API_VERSION: amounts, no list of refunds.
    GET  /test/payment_intents/<id>             the intent with its refunds, events and delivery attempts
    DELETE /test/idempotency_keys               a day passes: Stripe forgets Idempotency-Keys 24 hours old
    POST|DELETE|GET /test/faults                {operation: create_order|query|refund|list_refunds|query_refund,
                                                 mode: delay|http_500|html|error|pending, seconds, count, ...}
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from gateway.plugin import format_money
from gateway.sandbox import DEFAULT_RETRY_DELAYS, BackgroundSender, FaultQueue, Outgoing
from gateway.sandbox.standalone import run_alone
from gateway_stripe import schemas, signing
from gateway_stripe.sandbox.http import (
    FaultAnswer,
    FaultRequest,
    error,
    error_body,
    invalid,
    json_response,
    new_id,
    parse_form,
)
from gateway_stripe.sandbox.parameters import (
    PAYMENT_INTENT_CREATE,
    PAYMENT_INTENT_RETRIEVE,
    REFUND_CREATE,
    REFUND_LIST,
    REFUND_RETRIEVE,
    refuse_unknown,
)
from gateway_stripe.sandbox.store import Json, Refused, SimulatorStore

API_VERSION = "2024-06-20"
# Stripe's presentment currencies the simulator knows (lower case, as Stripe takes them).
CURRENCIES = frozenset((
    "aud", "bhd", "cad", "chf", "cny", "dkk", "eur", "gbp", "hkd", "huf", "idr", "inr", "isk", "jod", "jpy",
    "krw", "kwd", "mxn", "myr", "nok", "nzd", "omr", "php", "sek", "sgd", "thb", "twd", "ugx", "usd", "vnd",
))  # fmt: skip
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
# Stripe counts these in two decimals where ISO 4217 has none (ISK 500 is amount=50000 there).
STRIPE_PLACES = {"isk": 2, "ugx": 2}
PAY_OUTCOMES = {  # outcome -> (status, event type)
    "succeeded": ("succeeded", schemas.EVENT_SUCCEEDED),
    "failed": ("requires_payment_method", schemas.EVENT_FAILED),
    "canceled": ("canceled", schemas.EVENT_CANCELED),
}


def _confirmed(intent: Json, params: Json, checkout_url: str) -> Json:
    """What confirming at creation changes: the payer's next action (only wechat_pay and alipay here)."""
    method = (params.get("payment_method_data") or {}).get("type")
    if method not in schemas.CONFIRMED_AT_CREATION or method not in intent["payment_method_types"]:
        raise Refused("parameter_invalid", "confirm needs payment_method_data[type] of this PaymentIntent", "confirm")
    if method == "wechat_pay":
        client = ((params.get("payment_method_options") or {}).get("wechat_pay") or {}).get("client")
        if client is None:
            raise Refused("parameter_missing", "Missing payment_method_options[wechat_pay][client]", "client")
        # In the sandbox the code opens the simulator's checkout page (WeChat's is weixin://wxpay/...).
        action = {"data": checkout_url, "hosted_instructions_url": checkout_url, "image_data_url": None,
                  "image_url_png": None, "image_url_svg": None}  # fmt: skip
    else:
        if not params.get("return_url"):
            raise Refused("parameter_missing", "Missing required param: return_url.", "return_url")
        action = {"url": checkout_url, "return_url": params["return_url"], "native_url": None, "native_data": None}
    kind = schemas.CONFIRMED_AT_CREATION[method]
    return {"status": schemas.REQUIRES_ACTION, "next_action": {"type": kind, kind: action},
            "return_url": params.get("return_url")}  # fmt: skip


CHECKOUT_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Stripe sandbox</title></head><body>'
    '<h1>{method} (Stripe sandbox)</h1><p id="amount">{amount}</p>'
    '<form method="post"><button id="pay" type="submit">Pay</button></form></body></html>'
)


def _money(amount: int, currency: str) -> str:
    """Stripe's minor units as a payer reads them: amount=1200, usd -> '12.00 USD'."""
    return format_money(amount, currency.upper(), STRIPE_PLACES.get(currency))


class Simulator:
    """WSGI app; the module docstring lists its routes."""

    def __init__(
        self, secret_key: str, webhook_secret: str, webhook_url: str, store: SimulatorStore, faults: FaultQueue,
        webhooks: BackgroundSender,
    ) -> None:  # fmt: skip
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        self.webhook_url = webhook_url  # Stripe's dashboard setting for the endpoint; tests may point it elsewhere
        self.store = store
        self.faults = faults
        self.webhooks = webhooks
        self._urls = Map([
            Rule("/v1/payment_intents", methods=["POST"], endpoint=self._create_intent),
            Rule("/v1/payment_intents/<intent_id>", methods=["GET"], endpoint=self._get_intent),
            Rule("/v1/refunds", methods=["POST"], endpoint=self._create_refund),
            Rule("/v1/refunds", methods=["GET"], endpoint=self._list_refunds),
            Rule("/v1/refunds/<refund_id>", methods=["GET"], endpoint=self._get_refund),
            Rule("/test/pay", methods=["POST"], endpoint=self._pay),
            Rule("/test/checkout/<intent_id>", methods=["GET", "POST"], endpoint=self._checkout),
            Rule("/test/events/<event_id>/resend", methods=["POST"], endpoint=self._resend),
            Rule("/test/refunds/<refund_id>", methods=["POST"], endpoint=self._settle_refund),
            Rule("/test/payment_intents/<intent_id>", methods=["GET"], endpoint=self._show_intent),
            Rule("/test/faults", methods=["GET", "POST", "DELETE"], endpoint=self._faults),
            Rule("/test/idempotency_keys", methods=["DELETE"], endpoint=self._forget_keys),
        ])  # fmt: skip

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, arguments = self._urls.bind_to_environ(environ).match()
            version = request.headers.get("Stripe-Version")
            if request.path.startswith("/v1/") and not self._authorized(request):
                response = error(401, "Invalid API Key provided.")  # never echo what was sent
            elif request.path.startswith("/v1/") and version not in (None, API_VERSION):
                # Stripe refuses a version that does not exist; the simulator speaks only the one it implements.
                response = error(400, f"Invalid Stripe API version: {version}", kind="invalid_request_error")
            else:
                response = endpoint(request, **arguments)
        except HTTPException as exc:
            response = error(exc.code or 500, f"Unrecognized request URL ({request.method}: {request.path}).")
        except Refused as exc:
            response = error(exc.status, exc.message, exc.code, exc.param, exc.error_type)
        except FaultAnswer as exc:  # an injected fault on a call that is not idempotent-keyed (a GET)
            response = exc.response
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def close(self, timeout: float = 5.0) -> None:
        """Stop retrying webhooks and wait for deliveries in flight."""
        self.webhooks.close(timeout)

    def _authorized(self, request: Request) -> bool:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and secrets.compare_digest(key.encode(), self._secret_key.encode())

    # -- Stripe's API -------------------------------------------------------------------------

    def _idempotent(
        self,
        request: Request,
        operation: str,
        known: frozenset[str],
        schema: Schema,
        act: Callable[[Json, bool], Json],
    ) -> Response:
        """Validate, claim the Idempotency-Key, apply a fault, act, and save the answer for replays."""
        refuse_unknown([*request.args.keys(), *request.form.keys()], known)
        try:
            params = schema.load(parse_form(request.form.items(multi=True)))
        except ValidationError as exc:
            raise invalid(exc) from None
        key = request.headers.get("Idempotency-Key")
        if key:
            saved = self.store.claim_key(key, request.path, params)
            if saved is not None:
                return Response(
                    saved[1], saved[0], content_type="application/json", headers={"Idempotent-Replayed": "true"}
                )
        try:
            fault = self._fault(operation)
            status, body = 200, act(params, fault is not None and fault["mode"] == "pending")
        except Refused as exc:
            status, body = exc.status, error_body(exc.status, exc.message, exc.code, exc.param, exc.error_type)
        except FaultAnswer as answer:
            if key:
                self.store.release_key(key)  # Stripe never started: nothing saved
            return answer.response
        except BaseException:
            if key:
                self.store.release_key(key)
            raise
        if key:
            self.store.save_key(key, status, json.dumps(body))
        return json_response(body, status)

    def _fault(self, operation: str) -> Json | None:
        fault = self.faults.take(operation)
        if fault is None or fault["mode"] == "pending":
            return fault
        if fault["mode"] == "delay":
            time.sleep(fault["seconds"])
            return None
        if fault["mode"] == "html":  # a proxy's error page, not Stripe's JSON
            raise FaultAnswer(Response("<html><body>502 Bad Gateway</body></html>", 502, content_type="text/html"))
        if fault["mode"] == "http_500":
            raise FaultAnswer(error(500, "An unknown error occurred"))
        raise FaultAnswer(error(fault["status"], fault["message"], fault["code"]))

    def _create_intent(self, request: Request) -> Response:
        base_url = request.host_url.rstrip("/") + request.script_root
        return self._idempotent(
            request,
            "create_order",
            PAYMENT_INTENT_CREATE,
            schemas.PaymentIntentCreate(),
            lambda params, pending: self._new_intent(params, pending, base_url),
        )

    def _new_intent(self, params: Json, pending: bool, base_url: str) -> Json:
        currency = params["currency"]
        if currency not in CURRENCIES:
            raise Refused(None, f"Invalid currency: {currency}.", "currency")
        if currency in THREE_DECIMAL and params["amount"] % 10:
            raise Refused("invalid_charge_amount", "Three-decimal amounts must end in 0.", "amount")
        intent_id = new_id("pi")
        intent = {
            "id": intent_id, "object": "payment_intent", "amount": params["amount"], "amount_received": 0,
            "capture_method": "automatic", "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
            "created": int(time.time()), "currency": currency, "description": params.get("description"),
            "latest_charge": None, "livemode": False, "metadata": params.get("metadata", {}),
            "payment_method_types": params["payment_method_types"], "status": "requires_payment_method",
            "next_action": None,
        }  # fmt: skip
        if params.get("confirm"):
            intent |= _confirmed(intent, params, f"{base_url}/test/checkout/{intent_id}")
        self.store.add_intent(intent)
        return intent

    def _get_intent(self, request: Request, intent_id: str) -> Response:
        refuse_unknown(request.args.keys(), PAYMENT_INTENT_RETRIEVE)
        self._fault("query")
        intent = self.store.get_intent(intent_id)
        if intent is None:
            raise Refused("resource_missing", f"No such payment_intent: '{intent_id}'", "intent", 404)
        return json_response(intent)

    def _create_refund(self, request: Request) -> Response:
        return self._idempotent(request, "refund", REFUND_CREATE, schemas.RefundCreate(), self._new_refund)

    def _new_refund(self, params: Json, pending: bool) -> Json:
        intent = self.store.get_intent(params["payment_intent"]) or {"currency": None}
        status = "pending" if pending else "succeeded"
        refund = {
            "id": new_id("re"), "object": "refund", "amount": params["amount"], "created": int(time.time()),
            "currency": intent["currency"], "failure_reason": None, "metadata": params.get("metadata", {}),
            "payment_intent": params["payment_intent"], "reason": params.get("reason"), "status": status,
        }  # fmt: skip
        added = self.store.add_refund(refund)
        if status == "succeeded":
            self._send_event("charge.refunded", self._charge(params["payment_intent"]))
        return added

    def _charge(self, intent_id: str) -> Json:
        """The PaymentIntent's charge as Stripe shows it at API_VERSION: since 2022-11-15 its `refunds`
        are left out unless expanded, and an event's object is never expanded."""
        intent = self.store.get_intent(intent_id) or {}
        refunded = sum(r["amount"] for r in self.store.refunds_of(intent_id) if r["status"] == "succeeded")
        return {
            "id": "ch_" + intent_id.removeprefix("pi_"), "object": "charge", "amount": intent.get("amount"),
            "amount_captured": intent.get("amount_received"), "amount_refunded": refunded,
            "currency": intent.get("currency"), "livemode": False, "metadata": {}, "paid": True,
            "payment_intent": intent_id, "refunded": refunded == intent.get("amount_received"), "status": "succeeded",
        }  # fmt: skip

    def _send_event(self, event_type: str, obj: Json) -> None:
        event = {
            "id": new_id("evt"), "object": "event", "api_version": API_VERSION, "created": int(time.time()),
            "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": event_type,
        }  # fmt: skip
        self.store.add_event(event)
        self._send_webhook(event)

    def _list_refunds(self, request: Request) -> Response:
        refuse_unknown(request.args.keys(), REFUND_LIST)
        self._fault("list_refunds")
        everything = self.store.refunds_of(request.args.get("payment_intent", ""))
        after = request.args.get("starting_after")
        ids = [refund["id"] for refund in everything]
        start = ids.index(after) + 1 if after in ids else 0
        limit_text = request.args.get("limit", "10")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            raise Refused("parameter_invalid_integer", "limit must be an integer from 1 to 100.", "limit")
        limit = int(limit_text)
        page = everything[start : start + limit]
        return json_response(
            {"object": "list", "url": "/v1/refunds", "has_more": start + limit < len(everything), "data": page}
        )

    def _get_refund(self, request: Request, refund_id: str) -> Response:
        refuse_unknown(request.args.keys(), REFUND_RETRIEVE)
        self._fault("query_refund")
        refund = self.store.get_refund(refund_id)
        if refund is None:
            raise Refused("resource_missing", f"No such refund: '{refund_id}'", "id", 404)
        return json_response(refund)

    # -- sandbox controls ---------------------------------------------------------------------

    def _pay(self, request: Request) -> Response:
        given = request.get_json(silent=True) if request.is_json else request.form
        given = given if isinstance(given, Mapping) else {}
        outcome = str(given.get("outcome") or "succeeded")
        if outcome not in PAY_OUTCOMES:
            raise Refused(None, f"outcome must be one of {sorted(PAY_OUTCOMES)}", "outcome")
        intent_id = str(given.get("payment_intent") or "")
        notify = given.get("notify", True) not in (False, "false")  # notify=false: a webhook lost on the way
        intent, event = self._settle(intent_id, outcome, notify)
        return json_response({"payment_intent": intent, "event": event["id"]}, 202)

    def _checkout(self, request: Request, intent_id: str) -> Response:
        """The wallet's page a payer reaches through the next action; paying sends alipay's browser back."""
        intent = self.store.get_intent(intent_id)
        if intent is None:
            return Response("<h1>No such payment</h1>", 404, content_type="text/html; charset=utf-8")
        if request.method == "GET":
            method = escape(intent["payment_method_types"][0])
            page = CHECKOUT_PAGE.format(method=method, amount=escape(_money(intent["amount"], intent["currency"])))
            return Response(page, content_type="text/html; charset=utf-8")
        intent, _ = self._settle(intent_id, "succeeded", notify=True)
        if intent.get("return_url"):
            query = urlencode({"payment_intent": intent_id, "payment_intent_client_secret": intent["client_secret"],
                               "redirect_status": "succeeded"})  # fmt: skip
            separator = "&" if "?" in intent["return_url"] else "?"
            return Response(status=303, headers={"Location": f"{intent['return_url']}{separator}{query}"})
        return Response("<h1 id='result'>Paid</h1>", content_type="text/html; charset=utf-8")

    def _settle(self, intent_id: str, outcome: str, notify: bool) -> tuple[Json, Json]:
        status, event_type = PAY_OUTCOMES[outcome]
        payable = ("requires_payment_method", "requires_confirmation", "requires_action")
        current = self.store.get_intent(intent_id) or {"amount": 0}
        received = current["amount"] if status == "succeeded" else 0
        intent = self.store.update_intent(intent_id, payable, status=status, amount_received=received, next_action=None)
        event = {
            "id": new_id("evt"), "object": "event", "api_version": API_VERSION, "created": int(time.time()),
            "data": {"object": intent}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": event_type,
        }  # fmt: skip
        self.store.add_event(event)
        if notify:
            self._send_webhook(event)
        return intent, event

    def _resend(self, request: Request, event_id: str) -> Response:
        event = self.store.get_event(event_id)
        if event is None:
            raise Refused("resource_missing", f"No such event: '{event_id}'", "id", 404)
        self._send_webhook(event)
        return json_response({"event": event_id, "resent": True}, 202)

    def _settle_refund(self, request: Request, refund_id: str) -> Response:
        status = str((request.get_json(silent=True) or {}).get("status") or "")
        if status not in ("succeeded", "failed", "canceled"):
            raise Refused(None, "status must be succeeded, failed or canceled", "status")
        refund = self.store.settle_refund(refund_id, status, "declined" if status == "failed" else None)
        # Stripe tells the webhook endpoint when a pending refund settles, as it does about payments.
        self._send_event("refund.updated", refund)
        if status == "succeeded":
            self._send_event("charge.refunded", self._charge(refund["payment_intent"]))
        return json_response(refund)

    def _show_intent(self, request: Request, intent_id: str) -> Response:
        intent = self.store.get_intent(intent_id)
        if intent is None:
            raise Refused("resource_missing", f"No such payment_intent: '{intent_id}'", "intent", 404)
        refunds = self.store.refunds_of(intent_id)
        return json_response({**intent, "refunds": refunds, "events": self.store.events_of(intent_id)})

    def _forget_keys(self, request: Request) -> Response:
        return json_response({"forgotten": self.store.forget_keys()})

    def _faults(self, request: Request) -> Response:
        try:
            status, pending = self.faults.control(request.method, request.get_json(silent=True), FaultRequest())
        except ValidationError as exc:
            return json_response({"error": {"type": "invalid_request_error", "message": str(exc.messages)}}, 400)
        return json_response({"faults": pending}, status)

    # -- webhooks -----------------------------------------------------------------------------

    def _send_webhook(self, event: Json) -> None:
        """Deliver `event` until a 2xx arrives, signed afresh (with the current time) on every try, as Stripe does."""
        body = json.dumps(event, indent=2).encode()  # Stripe pretty-prints its event bodies

        def signed() -> Outgoing:
            signature = signing.header(self._webhook_secret, body)
            headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature}
            return Outgoing(self.webhook_url, body=body, headers=headers)

        self.webhooks.send(
            event["id"], signed, on_attempt=lambda attempt: self.store.record_attempt(event["id"], attempt)
        )


def create_simulator(
    secret_key: str,
    webhook_secret: str,
    webhook_url: str,
    state_path: str,
    *,
    webhook_retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    webhook_timeout: float = 10.0,
) -> Simulator:
    """A Stripe simulator for one account (its secret key) and one webhook endpoint, state in `state_path`."""
    store, faults = SimulatorStore(state_path), FaultQueue(state_path)
    webhooks = BackgroundSender("stripe-webhook", webhook_retry_delays, webhook_timeout)
    return Simulator(secret_key, webhook_secret, webhook_url, store, faults, webhooks)


def main(argv: Sequence[str] | None = None) -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--secret-key", required=True)
        parser.add_argument("--webhook-secret", required=True)
        parser.add_argument("--webhook-url", required=True)

    def build(args: argparse.Namespace) -> Simulator:
        return create_simulator(args.secret_key, args.webhook_secret, args.webhook_url, args.state)

    run_alone("Run the Stripe simulator alone.", 8002, add_arguments, build, argv)


if __name__ == "__main__":
    main()
