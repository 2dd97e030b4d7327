"""A working double of Example Pay's API, for tests and sandbox mode (mounted at /sandbox/example).

    POST /v1/create_order, /v1/query_order, /v1/refund   the API: signed JSON (application/json), checked
                                                          like the real one, every field it needs required
    POST /pay {"id", "notify"?: true}                     the payer pays; then (unless notify is false)
                                                          the signed notification goes to notify_url;
                                                          {"reference"} instead of "id" names the payment
                                                          of a create whose answer never arrived
    POST /cancel {"id"}                                   the payer cancels: closed for good, and notified
    POST /refunds/<refund id> {"status"}                  settle a pending refund (succeeded or failed)
    GET  /payments/<id>                                   the payment as the simulator sees it

Amounts are decimal text in the currency's major unit, checked against the simulator's own
table of decimals (ISO 4217's): "12.505" USD or "12.5" JPY is refused, as Example Pay would.
Built from the core's simulator parts (`gateway.sandbox`): the state is one SQLite file
(`SqliteState`), so several processes serving the sandbox see the same payments; faults armed for
tests wait in a `FaultQueue` in the same file; notifications go out through a `BackgroundSender`,
from a thread and re-sent until a 2xx answer (mounted inside the gateway, a synchronous call back
would wait on itself).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.sandbox import DEFAULT_RETRY_DELAYS, BackgroundSender, FaultQueue, Outgoing, SqliteState
from gateway_example_provider.signing import is_valid, sign

SIGNATURE_HEADER = "X-Example-Signature"  # Example Pay's documented header, spelled out: not the plugin's constant
DECIMALS = {"USD": 2, "JPY": 0}  # the simulator's own table, not the provider's declaration
FAULTS = ("delay", "refuse", "http_500", "html", "garbage", "pending", "misdirect")
_TABLES = """
CREATE TABLE IF NOT EXISTS payments (
    id TEXT PRIMARY KEY, reference TEXT NOT NULL UNIQUE, amount TEXT NOT NULL, currency TEXT NOT NULL,
    notify_url TEXT NOT NULL, status TEXT NOT NULL, event TEXT, notified INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY, refund_id TEXT NOT NULL UNIQUE, payment_id TEXT NOT NULL, amount TEXT NOT NULL,
    status TEXT NOT NULL
)
"""

Json = dict[str, Any]


class Refused(Exception):
    """Answered as `status` with `{"error": {"code", "message"}}`, as Example Pay refuses."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ExampleSimulator(SqliteState):
    def __init__(self, secret: str, state_path: str, retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS) -> None:
        super().__init__(state_path, _TABLES)
        self.secret = secret
        self.faults = FaultQueue(state_path)
        self.notifier = BackgroundSender("example-notify", retry_delays)

    # -- controls for tests --

    def fault_next(self, operation: str, fault: str, argument: Any = None, count: int = 1) -> None:
        """Make the next `count` calls of `operation` misbehave (each call takes one), replacing
        what was armed for it:

        - delay: carry it out, then answer `argument` seconds late (a time-out, as the gateway sees it);
        - refuse: refuse it with a 400 error answer (the lowest status Example Pay refuses with), doing nothing;
        - http_500 / html: do nothing and answer with a bare 500 / a proxy's HTML error page (unclear);
        - garbage: do nothing and answer 200 with a body that is not JSON (unclear);
        - pending (refund): accept the refund as pending, to be settled by `settle_refund`;
        - misdirect (query_order): answer about the payment whose reference is `argument`.
        """
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}")
        self.faults.arm(operation, {"mode": fault, "argument": argument}, count)

    def delay_next(self, operation: str, seconds: float) -> None:
        self.fault_next(operation, "delay", seconds)

    def fail_next(self, operation: str) -> None:
        self.fault_next(operation, "refuse")

    def close(self) -> None:
        """Stop re-sending notifications and wait for those in flight."""
        self.notifier.close(10)

    # -- WSGI --

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._route(request)
        except Refused as refused:
            body = {"error": {"code": refused.code, "message": refused.message}}
            response = Response(json.dumps(body), refused.status, content_type="application/json")
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        api: dict[str, Callable[[Json, Any], Json]] = {
            "/v1/create_order": self._create_order,
            "/v1/query_order": self._query_order,
            "/v1/refund": self._refund,
        }
        if request.method == "POST" and path in api:
            if not is_valid(self.secret, request.get_data(), request.headers.get(SIGNATURE_HEADER, "")):
                raise Refused(401, "bad_signature", f"{SIGNATURE_HEADER} does not match the body")
            if request.mimetype != "application/json":  # Example Pay reads only JSON, and says so
                raise Refused(415, "unsupported_media_type", "the body must be sent as application/json")
            operation = path.removeprefix("/v1/")
            armed = self.faults.take(operation) or {}
            fault, argument = armed.get("mode"), armed.get("argument")
            if fault == "refuse":
                raise Refused(400, "simulated_refusal", f"Example Pay refused this {operation} (a simulated refusal)")
            if fault == "http_500":
                return Response("Internal Server Error", 500, content_type="text/plain")
            if fault == "html":
                page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
                return Response(page, 502, content_type="text/html")
            if fault == "garbage":
                return Response(b"\x00not json{", 200, content_type="application/json")
            answer = api[path](_json_body(request), (fault, argument))
            if fault == "delay":
                time.sleep(float(argument or 0))
            return _json(answer)
        body = _json_body(request) if request.method == "POST" else {}
        if request.method == "POST" and path == "/pay":
            return _json(self.pay(self._paid_id(body), notify=body.get("notify", True) is not False), 202)
        if request.method == "POST" and path == "/cancel":
            return _json(self.cancel(str(body.get("id"))), 202)
        if request.method == "POST" and path.startswith("/refunds/"):
            return _json(self.settle_refund(path.removeprefix("/refunds/"), str(body.get("status"))))
        if request.method == "GET" and path.startswith("/payments/"):
            with self._transaction() as db:
                return _json(_payment(db, path.removeprefix("/payments/"), full=True))
        raise Refused(404, "not_found", f"no route {request.method} {path}")

    # -- the API --

    def _create_order(self, body: Json, fault: tuple[str | None, Any]) -> Json:
        reference, currency, notify_url = body.get("reference"), body.get("currency"), body.get("notify_url")
        if not isinstance(reference, str) or not reference:
            raise Refused(400, "invalid_reference", "reference is required")
        if currency not in DECIMALS:
            raise Refused(400, "invalid_currency", f"currency must be one of {', '.join(DECIMALS)}")
        amount = _amount(body.get("amount"), currency)
        if not isinstance(body.get("description"), str) or not body["description"]:
            raise Refused(400, "invalid_description", "description is required: the payer sees it")
        if not isinstance(notify_url, str) or not notify_url.startswith(("http://", "https://")):
            raise Refused(400, "invalid_notify_url", "notify_url must be an http(s) URL")
        payment_id = f"pay_{secrets.token_hex(8)}"
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM payments WHERE reference = ?", (reference,)).fetchone():
                raise Refused(409, "duplicate_reference", "a payment with this reference exists")
            db.execute(
                "INSERT INTO payments (id, reference, amount, currency, notify_url, status)"
                " VALUES (?, ?, ?, ?, ?, 'pending')",
                (payment_id, reference, str(amount), currency, notify_url),
            )
            return _payment(db, payment_id)

    def _query_order(self, body: Json, fault: tuple[str | None, Any]) -> Json:
        reference = fault[1] if fault[0] == "misdirect" else _required(body, "reference")
        with self._transaction() as db:
            row = db.execute("SELECT id FROM payments WHERE reference = ?", (reference,)).fetchone()
            if row is None:
                raise Refused(404, "not_found", "no payment with this reference")
            return _payment(db, row["id"])

    def _refund(self, body: Json, fault: tuple[str | None, Any]) -> Json:
        refund_id = _required(body, "refund_id")
        payment_id = _required(body, "payment_id")
        with self._transaction() as db:
            payment = _payment(db, payment_id, full=True)
            done = db.execute("SELECT * FROM refunds WHERE refund_id = ?", (refund_id,)).fetchone()
            if done is not None:  # the same refund again: answer as before, refund nothing more
                return dict(done)
            if payment["status"] != "paid":
                raise Refused(409, "not_paid", "only a paid payment can be refunded")
            amount = _amount(body.get("amount"), payment["currency"])
            if amount > Decimal(payment["amount"]) - Decimal(payment["refunded"]):
                raise Refused(422, "amount_too_large", "the amount exceeds what is left to refund")
            status = "pending" if fault[0] == "pending" else "succeeded"
            refund = {"id": f"re_{secrets.token_hex(8)}", "refund_id": refund_id, "payment_id": payment["id"]}
            db.execute("INSERT INTO refunds VALUES (?, ?, ?, ?, ?)", (*refund.values(), str(amount), status))
            return {**refund, "amount": str(amount), "status": status}

    # -- the payer's side, and Example Pay's back office --

    def pay(self, payment_id: str, notify: bool = True) -> Json:
        """The payer pays: the payment becomes paid and (unless `notify` is false) its notification is sent."""
        with self._transaction() as db:
            payment = _payment(db, payment_id, full=True)
            if payment["status"] == "cancelled":
                raise Refused(409, "cancelled", "a cancelled payment cannot be paid")
            event = payment["event"] or f"evt_{secrets.token_hex(8)}"
            db.execute("UPDATE payments SET status = 'paid', event = ? WHERE id = ?", (event, payment_id))
        if notify:
            self._send(payment, "paid", event)
        return {"id": payment_id, "status": "paid", "notify": "scheduled" if notify else "none"}

    def _paid_id(self, body: Json) -> str:
        if "reference" not in body:
            return str(body.get("id"))
        with self._transaction() as db:
            row = db.execute("SELECT id FROM payments WHERE reference = ?", (str(body["reference"]),)).fetchone()
        if row is None:
            raise Refused(404, "not_found", "no payment with this reference")
        return str(row[0])

    def cancel(self, payment_id: str) -> Json:
        """The payer cancels: the payment is closed for good, and its notification sent."""
        with self._transaction() as db:
            payment = _payment(db, payment_id, full=True)
            if payment["status"] == "paid":
                raise Refused(409, "paid", "a paid payment cannot be cancelled")
            db.execute("UPDATE payments SET status = 'cancelled' WHERE id = ?", (payment_id,))
        self._send(payment, "cancelled", f"evt_{secrets.token_hex(8)}")
        return {"id": payment_id, "status": "cancelled"}

    def settle_refund(self, refund_id: str, status: str) -> Json:
        """Settle a pending refund (`refund_id` is Example Pay's `re_...` id or the caller's refund_id)."""
        if status not in ("succeeded", "failed"):
            raise Refused(400, "invalid_status", "status must be succeeded or failed")
        with self._transaction() as db:
            row = db.execute("SELECT * FROM refunds WHERE id = ? OR refund_id = ?", (refund_id, refund_id)).fetchone()
            if row is None or row["status"] != "pending":
                raise Refused(409, "not_pending", "no pending refund with this id")
            db.execute("UPDATE refunds SET status = ? WHERE id = ?", (status, row["id"]))
            return {**dict(row), "status": status}

    def _send(self, payment: Json, status: str, event: str) -> None:
        fields = {key: payment[key] for key in ("id", "reference", "amount", "currency")}
        body = json.dumps({"event": event, **fields, "status": status}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}
        notification = Outgoing(payment["notify_url"], body=body, headers=headers)
        payment_id = payment["id"]
        self.notifier.send(payment_id, lambda: notification, on_acknowledged=lambda: self._notified(payment_id))

    def _notified(self, payment_id: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE payments SET notified = notified + 1 WHERE id = ?", (payment_id,))


def _payment(db: Any, payment_id: str, full: bool = False) -> Json:
    row = db.execute("SELECT * FROM payments WHERE id = ?", (payment_id,)).fetchone()
    if row is None:
        raise Refused(404, "not_found", "no such payment")
    payment = dict(row)
    if not full:
        return {key: payment[key] for key in ("id", "reference", "amount", "currency", "status")}
    refunds = db.execute(
        "SELECT id, refund_id, amount, status FROM refunds WHERE payment_id = ?", (payment_id,)
    ).fetchall()
    refunded = sum((Decimal(r["amount"]) for r in refunds if r["status"] != "failed"), Decimal(0))
    return {**payment, "refunded": str(refunded), "refunds": [dict(refund) for refund in refunds]}


def _amount(value: Any, currency: str) -> Decimal:
    """Decimal text with no more decimals than the currency has, above zero; else a 400 refusal."""
    places = DECIMALS[currency]
    try:
        amount = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        amount = None
    exponent = amount.as_tuple().exponent if amount is not None and amount.is_finite() else None
    if amount is None or not isinstance(exponent, int) or -exponent > places or amount <= 0:
        raise Refused(400, "invalid_amount", f"amount must be decimal text above 0 with at most {places} decimals")
    return amount


def _required(body: Json, name: str) -> str:
    """A field Example Pay cannot do without: a non-empty string, else a 400 refusal naming it."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Refused(400, f"invalid_{name}", f"{name} is required")
    return value


def _json_body(request: Request) -> Json:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise Refused(400, "invalid_json", "the body must be a JSON object")
    return body


def _json(body: Json, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")
