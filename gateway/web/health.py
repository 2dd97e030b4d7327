"""GET /healthz, the liveness probe: 200 while the database answers, 503 (saying why) when it does not.
GET /readyz, the readiness probe: 200 when this instance can take traffic, 503 saying why not
(the database is unavailable, its schema is behind the code's migrations, or no provider is enabled)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from gateway.store import database_state
from gateway.web.blueprint import Blueprint
from gateway.web.context import current_gateway

log = logging.getLogger("gateway.web.health")  # the name operators' log filters know

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


def _answer(body: Mapping[str, object], ok: bool) -> Response:
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    return response


@blp.route("/healthz")
def healthz() -> Response:
    """Liveness: 200 `{"status": "ok", "database": "ok"}`, or 503 with what is wrong with the database in words."""
    try:
        current_gateway().db.ping()
    except SQLAlchemyError as exc:
        words = database_state.describe(exc)
        log.error("health check: the database %s", words)
        return _answer({"status": "unavailable", "database": words}, ok=False)
    return _answer({"status": "ok", "database": "ok"}, ok=True)


@blp.route("/readyz")
def readyz() -> Response:
    """Readiness: 200 `{"status": "ready", ...}`, or 503 `{"status": "not_ready", "reasons": [...]}`."""
    gateway = current_gateway()
    reasons = []
    try:
        state = database_state.schema_state(gateway.db)
        database = state.words()
        if not state.up_to_date:
            reasons.append(f"database: {database}")
    except SQLAlchemyError as exc:
        database = database_state.describe(exc)
        reasons.append(f"database: {database}")
    providers = list(gateway.providers)
    if not providers:
        reasons.append("providers: none enabled")
    body = {"status": "not_ready" if reasons else "ready", "database": database, "providers": providers}
    if reasons:
        log.warning("readiness: not ready: %s", "; ".join(reasons))
        body["reasons"] = reasons
    return _answer(body, ok=not reasons)
