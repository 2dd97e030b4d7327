"""A working double of Example Pay's API, for tests and sandbox mode (mounted at /sandbox/example).

    POST /v1/create_order, /v1/query_order, /v1/refund   the API: signed JSON, checked like the real one
    POST /pay {"id": "<payment id>"}                      pay a payment, then notify its notify_url
    GET  /payments/<id>                                   the payment as the simulator sees it

State is one SQLite file, so several processes serving the sandbox see the same payments.
Notifications are sent from a background thread and re-sent until a 2xx answer: when the
simulator is mounted inside the gateway, a synchronous call back would wait on itself.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from gateway_example_provider.provider import SIGNATURE_HEADER, is_valid, sign

CURRENCIES = ("EUR", "JPY")
_TABLES = """
CREATE TABLE IF NOT EXISTS payments (
    id TEXT PRIMARY KEY, reference TEXT NOT NULL UNIQUE, amount INTEGER NOT NULL, currency TEXT NOT NULL,
    notify_url TEXT NOT NULL, status TEXT NOT NULL, refunded INTEGER NOT NULL DEFAULT 0, event TEXT,
    notified INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY, refund_id TEXT NOT NULL UNIQUE, payment_id TEXT NOT NULL, amount INTEGER NOT NULL
);
"""

Json = dict[str, Any]


class Refused(Exception):
    """Answered as `status` with `{"error": {"code", "message"}}`, as Example Pay refuses."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ExampleSimulator:
    def __init__(self, secret: str, state_path: str, retry_delays: Sequence[float] = (0.5, 2, 10, 30)) -> None:
        self.secret = secret
        self.state_path = state_path
        self.retry_delays = tuple(retry_delays)
        self._delays: dict[str, float] = {}  # operation -> seconds, for the next call only (this process)
        self._failures: set[str] = set()  # operations whose next call is refused (this process)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._senders: set[threading.Thread] = set()
        with closing(sqlite3.connect(state_path)) as db:
            db.executescript(_TABLES)

    # -- controls for tests --

    def delay_next(self, operation: str, seconds: float) -> None:
        """Answer the next `operation` call `seconds` late (a provider time-out, as the gateway sees it)."""
        with self._lock:
            self._delays[operation] = seconds

    def fail_next(self, operation: str) -> None:
        """Refuse the next `operation` call with Example Pay's error answer (a 4xx; nothing is done)."""
        with self._lock:
            self._failures.add(operation)

    def close(self) -> None:
        """Stop re-sending notifications and wait for those in flight."""
        self._stop.set()
        for sender in list(self._senders):
            sender.join(10)

    # -- WSGI --

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            status, body = self._route(request)
        except Refused as refused:
            status, body = refused.status, {"error": {"code": refused.code, "message": refused.message}}
        response = Response(json.dumps(body), status, content_type="application/json")
        return response(environ, start_response)

    def _route(self, request: Request) -> tuple[int, Json]:
        path = request.path.rstrip("/")
        api: dict[str, Callable[[Json], Json]] = {
            "/v1/create_order": self._create_order,
            "/v1/query_order": self._query_order,
            "/v1/refund": self._refund,
        }
        if request.method == "POST" and path in api:
            if not is_valid(self.secret, request.get_data(), request.headers.get(SIGNATURE_HEADER, "")):
                raise Refused(401, "bad_signature", f"{SIGNATURE_HEADER} does not match the body")
            operation = path.removeprefix("/v1/")
            with self._lock:
                delay = self._delays.pop(operation, 0.0)
                failing = operation in self._failures
                self._failures.discard(operation)
            if failing:
                raise Refused(422, "simulated_failure", f"Example Pay refused this {operation} (a simulated failure)")
            time.sleep(delay)
            return 200, api[path](_json_body(request))
        if request.method == "POST" and path == "/pay":
            return 202, self.pay(str(_json_body(request).get("id")))
        if request.method == "GET" and path.startswith("/payments/"):
            with self._transaction() as db:
                return 200, _payment(db, path.removeprefix("/payments/"), full=True)
        raise Refused(404, "not_found", f"no route {request.method} {path}")

    # -- the API --

    def _create_order(self, body: Json) -> Json:
        reference, amount, currency = body.get("reference"), body.get("amount"), body.get("currency")
        notify_url = body.get("notify_url")
        if not isinstance(reference, str) or not reference:
            raise Refused(400, "invalid_reference", "reference is required")
        if not _positive_int(amount):
            raise Refused(400, "invalid_amount", "amount must be a positive integer of minor units")
        if currency not in CURRENCIES:
            raise Refused(400, "invalid_currency", f"currency must be one of {', '.join(CURRENCIES)}")
        if not isinstance(notify_url, str) or not notify_url.startswith(("http://", "https://")):
            raise Refused(400, "invalid_notify_url", "notify_url must be an http(s) URL")
        payment_id = f"pay_{secrets.token_hex(8)}"
        with self._transaction() as db:
            try:
                db.execute(
                    "INSERT INTO payments (id, reference, amount, currency, notify_url, status)"
                    " VALUES (?, ?, ?, ?, ?, 'pending')",
                    (payment_id, reference, amount, currency, notify_url),
                )
            except sqlite3.IntegrityError:
                raise Refused(409, "duplicate_reference", "a payment with this reference exists") from None
            return _payment(db, payment_id)

    def _query_order(self, body: Json) -> Json:
        with self._transaction() as db:
            row = db.execute("SELECT id FROM payments WHERE reference = ?", (str(body.get("reference")),)).fetchone()
            if row is None:
                raise Refused(404, "unknown_payment", "no payment with this reference")
            return _payment(db, row["id"])

    def _refund(self, body: Json) -> Json:
        refund_id, amount = str(body.get("refund_id")), body.get("amount")
        with self._transaction() as db:
            payment = _payment(db, str(body.get("payment_id")), full=True)
            done = db.execute("SELECT * FROM refunds WHERE refund_id = ?", (refund_id,)).fetchone()
            if done is not None:  # the same refund again: answer as before, refund nothing more
                return dict(done)
            if payment["status"] != "paid":
                raise Refused(409, "not_paid", "only a paid payment can be refunded")
            if not _positive_int(amount) or amount > payment["amount"] - payment["refunded"]:
                raise Refused(422, "amount_too_large", "the amount exceeds what is left to refund")
            refund = {"id": f"re_{secrets.token_hex(8)}", "refund_id": refund_id, "payment_id": payment["id"]}
            db.execute("INSERT INTO refunds VALUES (?, ?, ?, ?)", (*refund.values(), amount))
            db.execute("UPDATE payments SET refunded = refunded + ? WHERE id = ?", (amount, payment["id"]))
            return {**refund, "amount": amount}

    # -- the payer's side --

    def pay(self, payment_id: str) -> Json:
        """The payer pays: the payment becomes paid and its notification is sent (again)."""
        with self._transaction() as db:
            payment = _payment(db, payment_id, full=True)
            event = payment["event"] or f"evt_{secrets.token_hex(8)}"
            db.execute("UPDATE payments SET status = 'paid', event = ? WHERE id = ?", (event, payment_id))
        notification = {key: payment[key] for key in ("id", "reference", "amount", "currency")}
        body = json.dumps({"event": event, **notification, "status": "paid"}, separators=(",", ":")).encode()
        sender = threading.Thread(target=self._notify, args=(payment_id, payment["notify_url"], body), daemon=True)
        self._senders.add(sender)
        sender.start()
        return {"id": payment_id, "status": "paid", "notify": "scheduled"}

    def _notify(self, payment_id: str, url: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}
        try:
            for delay in (0.0, *self.retry_delays):
                if self._stop.wait(delay):
                    return
                try:
                    answer = requests.post(url, data=body, headers=headers, timeout=10)
                except requests.RequestException:
                    continue
                if 200 <= answer.status_code < 300:
                    with self._transaction() as db:
                        db.execute("UPDATE payments SET notified = 1 WHERE id = ?", (payment_id,))
                    return
        finally:
            self._senders.discard(threading.current_thread())

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One connection per call (they must not cross threads); BEGIN IMMEDIATE serialises writers."""
        with closing(sqlite3.connect(self.state_path, timeout=10, isolation_level=None)) as db:
            db.row_factory = sqlite3.Row
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


def _payment(db: sqlite3.Connection, payment_id: str, full: bool = False) -> Json:
    row = db.execute("SELECT * FROM payments WHERE id = ?", (payment_id,)).fetchone()
    if row is None:
        raise Refused(404, "unknown_payment", "no such payment")
    payment = dict(row)
    if full:
        return payment
    return {key: payment[key] for key in ("id", "reference", "amount", "currency", "status")}


def _json_body(request: Request) -> Json:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise Refused(400, "invalid_json", "the body must be a JSON object")
    return body


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
