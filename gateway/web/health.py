"""GET /healthz: 200 when the database answers, 503 when it does not."""

from __future__ import annotations

import logging

from flask import Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from gateway.web.blueprint import Blueprint
from gateway.web.context import current_gateway

log = logging.getLogger("gateway.views.health")  # the name operators' log filters know

blp = Blueprint("health", __name__, description="Liveness")


@blp.route("/healthz")
def healthz() -> Response:
    try:
        current_gateway().db.ping()
    except SQLAlchemyError as exc:
        log.error("health check: database unreachable: %s", type(exc).__name__)
        response = jsonify({"status": "unavailable", "database": "unreachable"})
        response.status_code = 503
        return response
    return jsonify({"status": "ok", "database": "ok"})
