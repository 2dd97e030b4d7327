"""SQLite state of the Stripe simulator: PaymentIntents, refunds, Idempotency-Keys, events, webhook attempts.

One file shared by every process serving the simulator (gunicorn workers). Each operation opens
its own connection and every read-check-write runs inside `BEGIN IMMEDIATE`, so two workers can
never both claim one Idempotency-Key or both refund the last cent of a payment.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.sandbox import Attempt, SqliteState

Json = dict[str, Any]

_TABLES = """
CREATE TABLE IF NOT EXISTS payment_intents (id TEXT PRIMARY KEY, created INTEGER NOT NULL, object TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY, payment_intent TEXT NOT NULL REFERENCES payment_intents, created INTEGER NOT NULL,
    object TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT PRIMARY KEY, endpoint TEXT NOT NULL, params TEXT NOT NULL, status INTEGER, body TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, payment_intent TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, at TEXT NOT NULL, http_status INTEGER, error TEXT
);
"""
# Refunds in these states hold their amount: a new refund cannot take it.
HOLDING_REFUND_STATUSES = ("pending", "requires_action", "succeeded")


class Refused(Exception):
    """A Stripe business rule refused the call: answered as a 400 invalid_request_error."""

    def __init__(
        self,
        code: str | None,
        message: str,
        param: str | None = None,
        status: int = 400,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.param, self.status, self.error_type = code, message, param, status, error_type


class SimulatorStore(SqliteState):
    def __init__(self, path: str) -> None:
        super().__init__(path, _TABLES)

    # -- PaymentIntents -----------------------------------------------------------------------

    def add_intent(self, intent: Json) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO payment_intents (id, created, object) VALUES (?, ?, ?)",
                (intent["id"], intent["created"], json.dumps(intent)),
            )

    def get_intent(self, intent_id: str) -> Json | None:
        with self._connect() as conn:
            row = conn.execute("SELECT object FROM payment_intents WHERE id = ?", (intent_id,)).fetchone()
        return None if row is None else dict(json.loads(row["object"]))

    def update_intent(self, intent_id: str, allowed_from: tuple[str, ...], **changes: Any) -> Json:
        """Change an intent still in one of `allowed_from` statuses; Refused (409) otherwise."""
        with self._transaction() as conn:
            row = conn.execute("SELECT object FROM payment_intents WHERE id = ?", (intent_id,)).fetchone()
            if row is None:
                raise Refused("resource_missing", f"No such payment_intent: '{intent_id}'", "intent", 404)
            intent: Json = json.loads(row["object"])
            if intent["status"] not in allowed_from:
                raise Refused("payment_intent_unexpected_state", f"PaymentIntent is {intent['status']}", status=409)
            intent.update(changes)
            conn.execute("UPDATE payment_intents SET object = ? WHERE id = ?", (json.dumps(intent), intent_id))
        return intent

    # -- refunds ------------------------------------------------------------------------------

    def add_refund(self, refund: Json) -> Json:
        """Record `refund` if what is left of its payment covers it (Stripe's own checks and errors)."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT object FROM payment_intents WHERE id = ?", (refund["payment_intent"],)
            ).fetchone()
            if row is None:
                raise Refused(
                    "resource_missing", f"No such payment_intent: '{refund['payment_intent']}'", "payment_intent"
                )
            intent = json.loads(row["object"])
            if intent["status"] != "succeeded":
                raise Refused(None, f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.")
            refunds = [json.loads(r["object"]) for r in conn.execute(
                "SELECT object FROM refunds WHERE payment_intent = ?", (intent["id"],)
            )]  # fmt: skip
            held = sum(r["amount"] for r in refunds if r["status"] in HOLDING_REFUND_STATUSES)
            if held >= intent["amount_received"]:
                raise Refused("charge_already_refunded", f"Charge for {intent['id']} has already been refunded.")
            if held + refund["amount"] > intent["amount_received"]:
                left = intent["amount_received"] - held
                raise Refused(
                    "amount_too_large",
                    f"Refund amount ({refund['amount']}) is greater than unrefunded amount on charge ({left})",
                    "amount",
                )
            conn.execute(
                "INSERT INTO refunds (id, payment_intent, created, object) VALUES (?, ?, ?, ?)",
                (refund["id"], refund["payment_intent"], refund["created"], json.dumps(refund)),
            )
        return refund

    def refunds_of(self, intent_id: str) -> list[Json]:
        """Newest first, as Stripe lists them."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT object FROM refunds WHERE payment_intent = ? ORDER BY created DESC, rowid DESC", (intent_id,)
            )
            return [json.loads(row["object"]) for row in rows]

    def get_refund(self, refund_id: str) -> Json | None:
        with self._connect() as conn:
            row = conn.execute("SELECT object FROM refunds WHERE id = ?", (refund_id,)).fetchone()
        return None if row is None else dict(json.loads(row["object"]))

    def settle_refund(self, refund_id: str, status: str, failure_reason: str | None) -> Json:
        with self._transaction() as conn:
            row = conn.execute("SELECT object FROM refunds WHERE id = ?", (refund_id,)).fetchone()
            if row is None:
                raise Refused("resource_missing", f"No such refund: '{refund_id}'", "id", 404)
            refund: Json = json.loads(row["object"])
            if refund["status"] not in ("pending", "requires_action"):
                raise Refused(None, f"Refund is {refund['status']}", status=409)
            refund.update(status=status, failure_reason=failure_reason)
            conn.execute("UPDATE refunds SET object = ? WHERE id = ?", (json.dumps(refund), refund_id))
        return refund

    # -- Idempotency-Keys ---------------------------------------------------------------------

    def claim_key(self, key: str, endpoint: str, params: Json) -> tuple[int, str] | None:
        """None: the key is ours to execute. Otherwise the saved (status, body) to replay.

        Refused: the key is in flight (409) or was used for another request (400).
        """
        text = json.dumps(params, sort_keys=True)
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM idempotency_keys WHERE key = ?", (key,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO idempotency_keys (key, endpoint, params) VALUES (?, ?, ?)", (key, endpoint, text)
                )
                return None
        if row["endpoint"] != endpoint or row["params"] != text:
            raise Refused(
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with. "
                f"Try using a key other than '{key}' if you meant to execute a different request.",
                error_type="idempotency_error",
            )
        if row["status"] is None:
            raise Refused(
                "idempotency_key_in_use",
                "There is currently another in-progress request using this Idempotent Key (that probably means "
                "you submitted twice, and the other request is still going through). Please try again later.",
                status=409,
            )
        return int(row["status"]), str(row["body"])

    def save_key(self, key: str, status: int, body: str) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE idempotency_keys SET status = ?, body = ? WHERE key = ?", (status, body, key))

    def forget_keys(self) -> int:
        """What Stripe does to a key at least 24 hours old: it is gone, and the same key starts a new request.
        Keys still in flight stay. Returns how many were forgotten."""
        with self._transaction() as conn:
            return conn.execute("DELETE FROM idempotency_keys WHERE status IS NOT NULL").rowcount

    def release_key(self, key: str) -> None:
        """The endpoint never started executing: nothing is saved, the key can be used again."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM idempotency_keys WHERE key = ? AND status IS NULL", (key,))

    # -- events and webhook attempts ----------------------------------------------------------

    def add_event(self, event: Json) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO events (id, payment_intent, type, body) VALUES (?, ?, ?, ?)",
                (event["id"], _intent_of(event["data"]["object"]), event["type"], json.dumps(event)),
            )

    def get_event(self, event_id: str) -> Json | None:
        with self._connect() as conn:
            row = conn.execute("SELECT body FROM events WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else dict(json.loads(row["body"]))

    def events_of(self, intent_id: str) -> list[Json]:
        with self._connect() as conn:
            events = conn.execute(
                "SELECT id, type, delivered FROM events WHERE payment_intent = ? ORDER BY rowid", (intent_id,)
            )
            shown = []
            for event in events:
                attempts = conn.execute(
                    "SELECT at, http_status, error FROM webhook_attempts WHERE event_id = ? ORDER BY id", (event["id"],)
                )
                shown.append(
                    {**dict(event), "delivered": bool(event["delivered"]), "attempts": [dict(a) for a in attempts]}
                )
            return shown

    def record_attempt(self, event_id: str, attempt: Attempt) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO webhook_attempts (event_id, at, http_status, error) VALUES (?, ?, ?, ?)",
                (event_id, attempt.at, attempt.http_status, attempt.error),
            )
            if attempt.http_status is not None and 200 <= attempt.http_status < 300:
                conn.execute("UPDATE events SET delivered = 1 WHERE id = ?", (event_id,))


def _intent_of(obj: Json) -> str:
    """The PaymentIntent an event is about: its object's own id, or the one a refund or charge belongs to."""
    return str(obj["payment_intent"] if obj.get("object") in ("refund", "charge") else obj["id"])
