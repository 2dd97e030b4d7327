"""Failures a test arms for a simulator's next calls: the fault queue."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, validate

from gateway.plugin.fields import StrictInt
from gateway.sandbox.state import SqliteState

# Its own table name: a simulator's older state file may hold a `faults` table of another shape.
_TABLE = """
CREATE TABLE IF NOT EXISTS simulator_faults (
    operation TEXT PRIMARY KEY, fault TEXT NOT NULL, count INTEGER NOT NULL
)
"""


class FaultRequest(Schema):
    """What `POST /faults` takes. A simulator's subclass adds `operation` and `mode`, each with its
    own choices, and whatever else its faults need (an error code, a status...)."""

    count = StrictInt(load_default=1, validate=validate.Range(min=1))  # how many calls it fails
    seconds = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=300))  # for a delay


class FaultQueue(SqliteState):
    """Per operation, a fault for its next `count` calls, consumed one per call by `take`.

    A fault is any JSON object the simulator understands (by convention `mode` says which failure,
    e.g. "delay" with "seconds"); what it does is the simulator's business. Kept in the
    simulator's SQLite file, so a fault armed through one gunicorn worker fails the next call
    whichever worker answers it, and two workers never both consume the last one.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path, _TABLE)

    def arm(self, operation: str, fault: Mapping[str, Any], count: int = 1) -> None:
        """Fail the next `count` calls of `operation` with `fault`, replacing what was armed for it."""
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO simulator_faults (operation, fault, count) VALUES (?, ?, ?)",
                (operation, json.dumps(dict(fault)), count),
            )

    def take(self, operation: str) -> dict[str, Any] | None:
        """The fault for this call of `operation`, or None; consumed atomically across processes."""
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM simulator_faults WHERE operation = ?", (operation,)).fetchone()
            if row is None:
                return None
            if row["count"] <= 1:
                conn.execute("DELETE FROM simulator_faults WHERE operation = ?", (operation,))
            else:
                conn.execute("UPDATE simulator_faults SET count = count - 1 WHERE operation = ?", (operation,))
        fault: dict[str, Any] = json.loads(row["fault"])
        return fault

    def is_armed(self, operation: str) -> bool:
        """Whether a fault of `operation` is armed, without consuming it: for a fault that holds
        something back (notifications, say) until it is cleared."""
        with self._connect() as conn:
            row = conn.execute("SELECT 1 FROM simulator_faults WHERE operation = ?", (operation,)).fetchone()
        return row is not None

    def pending(self) -> list[dict[str, Any]]:
        """Every armed fault as `{"operation", "count", **fault}`, by operation."""
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM simulator_faults ORDER BY operation").fetchall()
        return [{"operation": row["operation"], "count": row["count"], **json.loads(row["fault"])} for row in rows]

    def control(self, method: str, body: Any, schema: Schema) -> tuple[int, list[dict[str, Any]]]:
        """The `/faults` control every simulator offers, as (status, `pending()`).

        GET lists, DELETE disarms everything, POST arms the fault that `schema` (a `FaultRequest`)
        loads from `body`; a bad body raises marshmallow's ValidationError for the simulator to
        answer in its own error shape.
        """
        if method == "DELETE":
            self.clear()
        elif method == "POST":
            fault = schema.load(body or {})
            self.arm(fault.pop("operation"), fault, fault.pop("count"))
        return (201 if method == "POST" else 200), self.pending()

    def clear(self) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM simulator_faults")
