"""What every request tells the operator: its ids on each log line, its route, status and duration
(the RED metrics), refusals and replays as metrics, and `/metrics` itself.

`/metrics` answers only `Authorization: Bearer <key>` with a key from GATEWAY_METRICS_KEYS (a
Prometheus scrape config's `authorization` section sends it); it is off while that is unset.
"""

from __future__ import annotations

from time import perf_counter

from flask import Blueprint, Flask, Response, request

from gateway.plugin.settings import ConfigError, Settings
from gateway.telemetry import logs, metrics
from gateway.web import request_ids
from gateway.web.auth import require_api_key
from gateway.web.context import current_gateway
from gateway.web.errors import ApiError
from gateway.web.idempotent import REPLAYED_HEADER

blp = Blueprint("metrics", __name__)

MIN_KEY_LENGTH = 16


def keys(settings: Settings, variable: str) -> list[str]:
    """A list of secret keys, each long enough not to be guessed."""
    found = settings.names(variable)
    if any(len(key) < MIN_KEY_LENGTH for key in found):
        raise ConfigError(variable, f"every key must be at least {MIN_KEY_LENGTH} characters")
    return found


def init_app(app: Flask, settings: Settings) -> None:
    logs.formatter_class(settings.get("GATEWAY_LOG_FORMAT"))  # a typo stops start-up, not the first log line
    keys(settings, "GATEWAY_METRICS_KEYS")
    app.before_request(_start_clock)  # first, so the duration includes the other hooks
    request_ids.init_app(app)
    app.after_request(_count_response)
    app.register_blueprint(blp)


_STARTED = "gateway.started"


def _start_clock() -> None:
    request.environ[_STARTED] = perf_counter()


def _count_response(response: Response) -> Response:
    status = response.status_code
    started = request.environ.get(_STARTED)
    if started is not None:
        rule = request.url_rule
        route = rule.rule if rule is not None else "unmatched"
        metrics.count_http_request(request.method, route, status, perf_counter() - started)
    if response.headers.get(REPLAYED_HEADER) == "true":
        metrics.IDEMPOTENT_REPLAYS.inc()
    elif 400 <= status < 500:
        body = response.get_json(silent=True) if response.is_json else None
        code = body.get("error") if isinstance(body, dict) else None
        metrics.count_rejected_request(request.endpoint or "unmatched", status, str(code or status))
    return response


@blp.get("/metrics")
def scrape() -> Response:
    gateway = current_gateway()
    allowed = keys(gateway.settings, "GATEWAY_METRICS_KEYS")
    if not allowed:
        raise ApiError(404, "not_found", "/metrics is off: set GATEWAY_METRICS_KEYS to turn it on.")
    require_api_key(allowed)
    from prometheus_client import CONTENT_TYPE_LATEST

    breaker = gateway.breakers.settings
    return Response(metrics.render(gateway.db, (breaker.failures, breaker.cooldown)), content_type=CONTENT_TYPE_LATEST)
