"""Wire helpers of the Stripe simulator: Stripe's form notation, error bodies, fault controls."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import ValidationError, fields, validate
from werkzeug.wrappers import Response

from gateway import sandbox
from gateway.plugin import StrictInt
from gateway_stripe.sandbox.store import Json, Refused

OPERATIONS = ("create_order", "query", "refund", "list_refunds", "query_refund")
FAULT_MODES = ("delay", "http_500", "html", "error", "pending")
_FORM_KEY = re.compile(r"(\w+)((?:\[[^\[\]]*\])*)")
_SUBSCRIPT = re.compile(r"\[([^\[\]]*)\]")


class FaultRequest(sandbox.FaultRequest):
    operation = fields.String(required=True, validate=validate.OneOf(OPERATIONS))
    mode = fields.String(required=True, validate=validate.OneOf(FAULT_MODES))
    status = StrictInt(load_default=400, validate=validate.Range(min=400, max=599))
    code = fields.String(load_default="simulated_error")
    message = fields.String(load_default="Simulated failure.")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def parse_form(pairs: Iterable[tuple[str, str]]) -> Json:
    """Stripe's bracket notation back to nested data: a=1, m[k]=v, m[k][j]=v, l[]=x (or l[0]=x)."""
    data: Json = {}
    for key, value in pairs:
        match = _FORM_KEY.fullmatch(key)
        if match is None:
            raise Refused("parameter_invalid", f"Invalid parameter name: {key}", key)
        path = [match.group(1), *_SUBSCRIPT.findall(match.group(2))]
        node = data
        for depth, part in enumerate(path[:-1]):
            following = path[depth + 1]
            if depth + 2 == len(path) and (following == "" or following.isdigit()):
                current = node.get(part)
                if not isinstance(current, list | None):
                    raise Refused("parameter_invalid", f"Invalid or repeated parameter: {key}", key)
                node[part] = [*(current or []), value]
                break
            child = node.setdefault(part, {})
            if not isinstance(child, dict) or following == "" or following.isdigit():
                raise Refused("parameter_invalid", f"Invalid or repeated parameter: {key}", key)
            node = child
        else:
            if path[-1] in node:
                raise Refused("parameter_invalid", f"Invalid or repeated parameter: {key}", key)
            node[path[-1]] = value
    return data


def error_body(
    status: int, message: str, code: str | None = None, param: str | None = None, kind: str | None = None
) -> Json:
    """Stripe's error shape; `code` and `param` only when there is one, as Stripe sends them."""
    body: Json = {"type": kind or ("api_error" if status >= 500 else "invalid_request_error"), "message": message}
    body |= {name: value for name, value in (("code", code), ("param", param)) if value}
    return {"error": body}


def error(
    status: int, message: str, code: str | None = None, param: str | None = None, kind: str | None = None
) -> Response:
    return json_response(error_body(status, message, code, param, kind), status)


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status, content_type="application/json")
    response.headers["Request-Id"] = new_id("req")
    response.headers.update(headers or {})
    return response


def invalid(exc: ValidationError) -> Refused:
    """Stripe's answer to the first bad parameter."""
    name, problem = next(iter(exc.messages.items())) if isinstance(exc.messages, dict) else ("", exc.messages)
    text = " ".join(map(str, problem if isinstance(problem, list) else [problem]))
    if "Unknown field" in text:
        return Refused("parameter_unknown", f"Received unknown parameter: {name}", str(name))
    if "Missing data" in text:
        return Refused("parameter_missing", f"Missing required param: {name}.", str(name))
    if name == "amount" and "greater than or equal" in text:
        return Refused("amount_too_small", "Amount must be at least 1 (in the currency's minor unit).", "amount")
    return Refused("parameter_invalid", f"Invalid {name}: {text}", str(name))


class FaultAnswer(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response
