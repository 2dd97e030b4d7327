"""One error shape for every response: {"error": code, "message": text, "errors": {field: [text]}}.

`error` is a stable machine-readable code; `errors` names the fields at fault (dotted for
nested ones). Provider refusals add `provider_error: {code, message}` with the provider's own
values. Nothing here ever echoes configuration, so secrets cannot leak through an error.

This is the one place where the domain's errors (gateway.domain.errors) become HTTP answers: the
status of each kind is in `STATUS_OF`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from gateway.domain.errors import (
    Conflict,
    FieldErrors,
    GatewayError,
    Invalid,
    ResourceNotFound,
    UpstreamNoAnswer,
    UpstreamOutcomeUnknown,
    UpstreamRefused,
)
from gateway.plugin.validation import flatten_messages
from gateway.store import database_state

log = logging.getLogger("gateway.web.errors")  # the name operators' log filters know

# Most specific first: the first class an error is an instance of decides its status.
STATUS_OF: tuple[tuple[type[GatewayError], int], ...] = (
    (ResourceNotFound, 404),
    (Conflict, 409),
    (Invalid, 422),
    (UpstreamRefused, 502),
    (UpstreamOutcomeUnknown, 502),
    (UpstreamNoAnswer, 504),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: FieldErrors | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.headers = dict(headers or {})  # sent with the answer (Retry-After), never in its body
        self.status = status
        self.code = code
        self.message = message
        self.errors = {name: list(messages) for name, messages in (errors or {}).items()}
        self.extra = extra


def validation_error(errors: FieldErrors, message: str = "The request has invalid fields.") -> ApiError:
    return ApiError(422, "validation_error", message, errors)


def api_error(error: GatewayError) -> ApiError:
    """The HTTP answer to a domain error: same code, message, fields and details."""
    status = next((status for kind, status in STATUS_OF if isinstance(error, kind)), 500)
    return ApiError(status, error.code, error.message, error.errors, **error.details)


def as_api_error(error: ApiError | GatewayError) -> ApiError:
    return error if isinstance(error, ApiError) else api_error(error)


def error_response(error: ApiError) -> Response:
    payload: dict[str, Any] = {"error": error.code, "message": error.message, "errors": error.errors}
    payload.update(error.extra)
    response = jsonify(payload)
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gateway"'
    response.headers.update(error.headers)
    return response


def _from_http_exception(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    # webargs (through flask-smorest) attaches marshmallow messages by location: {"json": {...}}.
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, Mapping) else None
    if status == 400 and messages and "json" in messages:
        return ApiError(400, "malformed_json", "The request body is not valid JSON.")
    if status == 422 and messages:
        errors: dict[str, list[str]] = {}
        for location_messages in messages.values():
            for name, texts in flatten_messages(location_messages).items():
                errors.setdefault(name, []).extend(texts)
        return validation_error(errors)
    if status == 429:  # Flask-Limiter's description is the limit itself, e.g. "60 per 1 minute"
        return ApiError(429, "too_many_requests", f"Too many requests from this address (limit: {exc.description}).")
    code = _HTTP_CODES.get(status, "http_error")
    return ApiError(status, code, exc.description or exc.name)


# Headers of werkzeug's exceptions that the client needs: a 405 says which methods are allowed.
_KEPT_HEADERS = ("Allow",)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc)

    @app.errorhandler(GatewayError)
    def _domain_error(exc: GatewayError) -> Response:
        return error_response(api_error(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        response = error_response(_from_http_exception(exc))
        for name, value in exc.get_headers():
            if name in _KEPT_HEADERS:
                response.headers[name] = value
        return response

    @app.errorhandler(PoolTimeout)
    def _pool_exhausted(exc: PoolTimeout) -> Response:
        # Every pooled connection is busy (a slow or overloaded database): nothing was done, so the
        # caller may simply retry; a 500 would suggest a bug, and a hung request helps nobody.
        log.error("database pool exhausted: no free connection within the pool time-out")
        response = error_response(
            ApiError(503, "database_busy", "The gateway's database is busy; nothing was done, try again shortly.")
        )
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(OperationalError)
    def _database_unavailable(exc: OperationalError) -> Response:
        # The database is missing, refuses connections, has no schema, or dropped the connection: the
        # operator's problem, not the caller's, and not a bug. The log says which; the caller retries.
        log.error("database unavailable: the database %s", database_state.describe(exc))
        response = error_response(
            ApiError(503, "database_unavailable", "The gateway cannot use its database right now; try again shortly.")
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The traceback goes to the log; the caller only learns that it was our fault.
        log.exception("unhandled error")
        return error_response(
            ApiError(500, "internal_error", "The gateway hit an unexpected error; it has been logged.")
        )
