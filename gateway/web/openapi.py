"""/openapi.json made exact for this deployment: what the schemas alone cannot say.

flask-smorest documents each view from its marshmallow schemas; this adds what depends on the
running gateway and on HTTP details outside them:

- the enabled providers, their channels and currencies, as enums (the document is per deployment);
- /notify answers with each provider's own acknowledgement: its statuses and content types are
  learnt by asking every enabled provider how it acknowledges each verdict (text/plain or JSON,
  as the provider's protocol wants), plus the throttle's 429 and the JSON errors of the core;
- the bearer API key, when GATEWAY_API_KEYS is set, with its 401;
- the admin API (/v1/admin) behind the admin keys when GATEWAY_ADMIN_KEYS is set, and nothing of
  it when it is not (it is off: every path of it is a 404);
- examples that this deployment accepts as they come (gateway.web.openapi_examples);
- links from a created order to its reads and refunds, and from a created refund to its read, so
  a client (or a fuzzer's stateful phase) knows which id goes where.
"""

from __future__ import annotations

from typing import Any

from gateway.domain import admin_schemas
from gateway.domain.core import Gateway
from gateway.plugin.provider import Verdict
from gateway.web import openapi_examples
from gateway.web.console.access import admin_keys

ADMIN = "/v1/admin/"

ERROR = {"$ref": "#/components/schemas/ApiError"}
ORDER_ID = {"order_id": "$response.body#/id"}
LINKS = {
    ("/v1/orders", "post", "201"): {
        "GetOrder": ("/v1/orders/{order_id}", "get", ORDER_ID),
        "RefundOrder": ("/v1/orders/{order_id}/refunds", "post", ORDER_ID),
        "ListRefunds": ("/v1/orders/{order_id}/refunds", "get", ORDER_ID),
    },
    ("/v1/orders/{order_id}/refunds", "post", "201"): {
        "GetRefund": ("/v1/refunds/{refund_id}", "get", {"refund_id": "$response.body#/id"}),
    },
}
NOTIFY = "/notify/{provider_name}"


def exact(doc: dict[str, Any], gateway: Gateway) -> dict[str, Any]:
    paths = doc.get("paths", {})
    _enumerate_choices(doc, gateway)
    openapi_examples.add(doc, gateway)
    if NOTIFY in paths:
        _document_notify(paths[NOTIFY], gateway)
    if gateway.settings.api_keys:
        _document_api_key(doc)
    _document_admin_api(doc, on=bool(admin_keys(gateway.settings)))
    _document_account_providers(doc)
    for (path, method, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is not None:
            response["links"] = {
                name: {"operationRef": _ref(target, verb), "parameters": parameters}
                for name, (target, verb, parameters) in links.items()
            }
    return doc


def _ref(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _enumerate_choices(doc: dict[str, Any], gateway: Gateway) -> None:
    providers = gateway.providers.values()
    order = doc.get("components", {}).get("schemas", {}).get("OrderCreate", {}).get("properties", {})
    choices = {
        "provider": sorted(gateway.providers),
        "channel": sorted({channel for provider in providers for channel in provider.info.channels}),
        "currency": sorted({code for provider in providers for code in provider.info.currencies}),
    }
    for name, values in choices.items():
        if name in order and values:
            order[name]["enum"] = values


def _document_notify(operations: dict[str, Any], gateway: Gateway) -> None:
    answers: dict[str, set[str]] = {}
    for provider in gateway.providers.values():
        for verdict in Verdict:
            acknowledgement = provider.acknowledge(verdict)
            answers.setdefault(str(acknowledgement.status), set()).add(acknowledgement.content_type.split(";")[0])
    answers.setdefault("429", set()).add("text/plain")  # the rejection throttle (gateway.notify_guard)
    responses: dict[str, Any] = {
        status: {
            "description": "the provider's own acknowledgement" if status != "429" else "too many rejected requests",
            "content": {media: {"schema": {"type": "string"}} for media in sorted(types)},
        }
        for status, types in sorted(answers.items())
    }
    responses["404"] = {"description": "no such enabled provider", "content": {"application/json": {"schema": ERROR}}}
    responses["413"] = {"description": "body over 1 MiB", "content": {"application/json": {"schema": ERROR}}}
    for method, operation in operations.items():
        if method not in ("get", "post"):
            continue
        operation["responses"] = responses
        for parameter in operation.get("parameters", []):
            if parameter.get("name") == "provider_name":
                parameter["schema"] = {"type": "string", "enum": sorted(gateway.providers)}
        if method == "post":
            form = {"type": "object", "additionalProperties": {"type": "string"}}
            operation["requestBody"] = {
                "required": False,
                "content": {"application/x-www-form-urlencoded": {"schema": form}, "application/json": {"schema": {}}},
            }
    for parameter in operations.get("parameters", []):
        if parameter.get("name") == "provider_name":
            parameter["schema"] = {"type": "string", "enum": sorted(gateway.providers)}


def _document_api_key(doc: dict[str, Any]) -> None:
    doc.setdefault("components", {}).setdefault("securitySchemes", {})["apiKey"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "one of GATEWAY_API_KEYS",
    }
    unauthorized = {"description": "no or a wrong API key", "content": {"application/json": {"schema": ERROR}}}
    for path, operations in doc.get("paths", {}).items():
        if not path.startswith("/v1/") or path.startswith(ADMIN):
            continue
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                operation["security"] = [{"apiKey": []}]
                operation.setdefault("responses", {})["401"] = unauthorized


def _document_admin_api(doc: dict[str, Any], *, on: bool) -> None:
    paths = doc.get("paths", {})
    if not on:
        for path in [path for path in paths if path.startswith(ADMIN)]:
            del paths[path]
        doc["tags"] = [tag for tag in doc.get("tags", []) if tag.get("name") != "admin"]
        components = doc.get("components", {}).get("schemas", {})
        for name in admin_schemas.documented_names():
            components.pop(name, None)
        return
    doc.setdefault("components", {}).setdefault("securitySchemes", {})["adminKey"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "one of GATEWAY_ADMIN_KEYS (the console's), never a merchant's API key",
    }
    unauthorized = {"description": "no or a wrong admin key", "content": {"application/json": {"schema": ERROR}}}
    for path, operations in paths.items():
        if path.startswith(ADMIN):
            for method, operation in operations.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    operation["security"] = [{"adminKey": []}]
                    operation.setdefault("responses", {})["401"] = unauthorized


def _document_account_providers(doc: dict[str, Any]) -> None:
    """A stored merchant's key gets its accounts from /v1/providers: either item shape is an answer."""
    components = doc.get("components", {}).get("schemas", {})
    if "AccountProvider" not in components:
        return
    answer = doc.get("paths", {}).get("/v1/providers", {}).get("get", {}).get("responses", {}).get("200", {})
    schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
    if schema.get("type") == "array":
        schema["items"] = {"anyOf": [schema["items"], {"$ref": "#/components/schemas/AccountProvider"}]}
