"""The `Idempotency-Key` header on POST endpoints that create something (orders, refunds).

The same key with the same body gets the first response again (header `Idempotent-Replayed:
true`) without running the view a second time; the state behind it is gateway.domain.idempotency.
The decorated view gets the request's claim as the keyword argument `idempotency_claim` (None
without a key) and hands it to the service that creates the resource.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, overload

from flask import Response, current_app, request
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint

from gateway.domain import idempotency
from gateway.domain.errors import GatewayError
from gateway.store.db import Database
from gateway.web.auth import current_caller
from gateway.web.context import current_gateway
from gateway.web.errors import ApiError, as_api_error, error_response

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
CLAIM_ARGUMENT = "idempotency_claim"

Resume = Callable[[str], ResponseReturnValue]
View = Callable[..., Any]


@overload
def idempotent(view: View, /) -> View: ...
@overload
def idempotent(*, resume: Resume | None = None) -> Callable[[View], View]: ...
def idempotent(view: View | None = None, /, *, resume: Resume | None = None) -> View | Callable[[View], View]:
    """Honour an Idempotency-Key header on a flask-smorest MethodView method: `@idempotent` or
    `@idempotent(resume=...)`, above `@blp.arguments` and `@blp.response`.

    Outermost, because it must claim the key (and answer 409/422 or replay) before the body is
    validated, and store the response exactly as the client got it, which only exists once
    `@blp.response` has serialized the view's result. A validation error (webargs' 422) reaches it
    as an exception, after which the key is released for a corrected retry.

    `resume(resource_id)` answers a retry that takes over the key of a request that died after
    recording (`idempotency.attach_resource`) what it created: the current representation of that
    resource, as anything a Flask view may return. Without `resume` such a retry runs the view
    again, which creates a second resource.
    """
    if view is None:
        return lambda view: _decorate(view, resume)
    return _decorate(view, resume)


def _decorate(view: View, resume: Resume | None) -> View:
    @wraps(view)  # copies flask-smorest's `_apidoc` too: the OpenAPI document keeps the view's body and answers
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        key = request.headers.get(HEADER)
        if key is None:
            return current_app.ensure_sync(view)(*args, **kwargs, **{CLAIM_ARGUMENT: None})  # type: ignore[no-any-return]
        _check_key(key)
        db = current_gateway().db
        claimed = idempotency.claim(db, _scope(), key, idempotency.body_hash(request.get_data(cache=True)))
        if isinstance(claimed, idempotency.StoredAnswer):
            return _replay(claimed)
        return _run(db, claimed, view, resume, args, kwargs)

    # `doc` is a staticmethod of flask-smorest's Blueprint: no blueprint needed. Its `parameters`
    # replace the operation's own, of which JSON-body POSTs have none (the body is `requestBody`,
    # path parameters are documented on the path).
    documented: View = Blueprint.doc(parameters=[_HEADER_DOC])(wrapper)
    return documented


_HEADER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    # Printable ASCII; not starting or ending with a space, which HTTP would strip on the way.
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": r"^[!-~]([ -~]*[!-~])?$"},
    "description": (
        "A unique value per operation (a UUID), kept for at least 24 hours. Retrying with the same key and "
        "body replays the first response (header Idempotent-Replayed: true) instead of doing it twice. "
        "The same key with another body: 422 idempotency_key_reused; while the first request still runs: "
        "409 idempotency_key_in_progress; empty, over 255 characters or not printable ASCII: 400 "
        "invalid_idempotency_key."
    ),
}


def _scope() -> str:
    api_key = None
    if current_gateway().settings.api_keys or current_caller().key_id is not None:
        # Parsed as gateway.web.auth does; its before_request hook has already accepted this key.
        api_key = request.headers.get("Authorization", "").partition(" ")[2].strip()
    return idempotency.scope_of(request.method, request.path, api_key)


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            {HEADER: ["must be 1 to 255 printable ASCII characters"]},
        )


def _replay(answer: idempotency.StoredAnswer) -> Response:
    response = Response(answer.body, status=answer.status, mimetype="application/json")
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _run(
    db: Database,
    claim: idempotency.Claim,
    view: View,
    resume: Resume | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Response:
    try:
        if claim.resume_resource is not None and resume is not None:
            result = resume(claim.resume_resource)
        else:
            result = current_app.ensure_sync(view)(*args, **kwargs, **{CLAIM_ARGUMENT: claim})
        response = current_app.make_response(result)
    except (ApiError, GatewayError) as exc:
        # Rendered here rather than by the app's handler (same function), so that it can be stored.
        response = error_response(as_api_error(exc))
    except BaseException:
        # Nothing to store: webargs' validation errors and unexpected failures. If the request had
        # created something, the key must keep naming it, so only the lease is given up; otherwise
        # the row goes, and the client may retry with the same key.
        idempotency.abandon(db, claim)
        raise
    status = response.status_code
    idempotency.finish(db, claim, status, response.get_data(as_text=True), refused=400 <= status < 500)
    return response
