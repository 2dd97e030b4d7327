"""One error shape for every response: {"error": code, "message": text, "errors": {field: [text]}}.

`error` is a stable machine-readable code; `errors` names the fields at fault (dotted for
nested ones). Provider refusals add `provider_error: {code, message}` with the provider's own
values. Nothing here ever echoes configuration, so secrets cannot leak through an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

FieldErrors = Mapping[str, Sequence[str]]

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
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = {name: list(messages) for name, messages in (errors or {}).items()}
        self.extra = extra


def validation_error(errors: FieldErrors, message: str = "The request has invalid fields.") -> ApiError:
    return ApiError(422, "validation_error", message, errors)


def error_response(error: ApiError) -> Response:
    payload: dict[str, Any] = {"error": error.code, "message": error.message, "errors": error.errors}
    payload.update(error.extra)
    response = jsonify(payload)
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gateway"'
    return response


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested {field: {sub: [msg]}} -> {"field.sub": [msg]}."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for name, value in messages.items():
            key = str(name) if not prefix else f"{prefix}.{name}"
            if key == "_schema" or key.endswith("._schema"):
                key = prefix or "_schema"
            for field_name, texts in flatten_messages(value, key).items():
                flat.setdefault(field_name, []).extend(texts)
        return flat
    if isinstance(messages, (list, tuple)):
        if all(isinstance(item, str) for item in messages):
            return {prefix or "_schema": list(messages)}
        flat = {}
        for item in messages:
            for field_name, texts in flatten_messages(item, prefix).items():
                flat.setdefault(field_name, []).extend(texts)
        return flat
    return {prefix or "_schema": [str(messages)]}


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
    code = _HTTP_CODES.get(status, "http_error")
    return ApiError(status, code, exc.description or exc.name)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return error_response(_from_http_exception(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The traceback goes to the log; the caller only learns that it was our fault.
        log.exception("unhandled error")
        return error_response(
            ApiError(500, "internal_error", "The gateway hit an unexpected error; it has been logged.")
        )
