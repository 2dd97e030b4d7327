"""Every example in /openapi.json is accepted as it comes: what /docs' "Try it out" sends on the
first click reaches a sandbox gateway (with its simulators) over HTTP and is answered 2xx.

Only ids in the path are the test's own (a paid order to refund, a QR order to draw, a refund to
read): an example cannot know them. /notify is left out: a notify counts only when the provider
signed it, so an example a stranger could send is a forgery and refused by design.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gateway import create_app
from gateway.store import migrate
from gateway.testing.live import LiveServer
from tests.support.flows import wait_for

NOT_FOR_PEOPLE = ("/notify/",)
TIMEOUT = 30


def sandbox(tmp_path: Path, **extra: str) -> Iterator[str]:
    server = LiveServer()
    app = create_app(
        {
            "GATEWAY_SANDBOX": "1",
            "GATEWAY_PUBLIC_URL": server.url,
            "GATEWAY_INSTANCE_PATH": str(tmp_path),
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
            **extra,
        }
    )
    migrate.upgrade(app.extensions["gateway"].db.url)
    server.app = app
    yield server.url
    server.stop()
    app.extensions["gateway"].db.dispose()


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    yield from sandbox(tmp_path)


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, list[dict[str, Any]], dict[str, Any]]]:
    for path, item in document["paths"].items():
        if path.startswith(NOT_FOR_PEOPLE):
            continue
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
                yield path, method, parameters, operation


def example_of(parameter: dict[str, Any]) -> Any:
    return parameter.get("example", parameter.get("schema", {}).get("example"))


def documented_request(
    path: str, parameters: list[dict[str, Any]], operation: dict[str, Any], ids: dict[str, str]
) -> tuple[str, dict[str, Any], list[str]]:
    """The URL and requests' keyword arguments "Try it out" would use, and what the document lacks."""
    missing: list[str] = []
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    for parameter in parameters:
        name, where, example = parameter["name"], parameter["in"], example_of(parameter)
        if where == "path":
            path = path.replace(f"{{{name}}}", ids[name])
        elif example is None:
            if parameter.get("required"):
                missing.append(f"required {where} parameter {name} has no example")
        elif where == "query":
            query[name] = str(example).lower() if isinstance(example, bool) else example
        elif where == "header":
            headers[name] = str(example)
    kwargs: dict[str, Any] = {"params": query, "headers": headers}
    if "requestBody" in operation:
        media = operation["requestBody"]["content"].get("application/json", {})
        if "example" not in media:
            missing.append("the JSON request body has no example")
        else:
            kwargs["json"] = media["example"]
    return path, kwargs, missing


def pay_in_sandbox(base_url: str, order: dict[str, Any]) -> None:
    paid = requests.post(
        f"{base_url}/sandbox/{order['provider']}/pay", data={"payOrderId": order["provider_order_id"]}, timeout=TIMEOUT
    )
    assert paid.status_code == 202, paid.text
    wait_for(
        lambda: requests.get(f"{base_url}/v1/orders/{order['id']}", timeout=TIMEOUT).json()["status"] == "paid",
        timeout=20,
        what="the order to be paid",
    )


def post_order(base_url: str, order: dict[str, Any]) -> dict[str, Any]:
    created = requests.post(f"{base_url}/v1/orders", json=order, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def test_every_documented_example_is_accepted_as_it_comes(base_url: str) -> None:
    document = requests.get(f"{base_url}/openapi.json", timeout=TIMEOUT).json()
    order_example = document["paths"]["/v1/orders"]["post"]["requestBody"]["content"]["application/json"].get("example")
    assert order_example, "POST /v1/orders has no example: Swagger UI would make one up that the API refuses"
    paid = post_order(base_url, order_example)
    pay_in_sandbox(base_url, paid)
    qr_order = post_order(
        base_url, {"channel": "WX_NATIVE", "amount": 100, "currency": "CAD", "subject": "Tea", "body": "Green"}
    )
    refund = requests.post(
        f"{base_url}/v1/orders/{paid['id']}/refunds", json={"amount": 1, "reference": "test-setup"}, timeout=TIMEOUT
    )
    assert refund.status_code == 201, refund.text

    problems: list[str] = []
    tried = 0
    for template, method, parameters, operation in operations(document):
        ids = {
            "order_id": qr_order["id"] if template.endswith("/qr_code") else paid["id"],
            "refund_id": refund.json()["id"],
        }
        path, kwargs, missing = documented_request(template, parameters, operation, ids)
        problems += [f"{method.upper()} {template}: {gap}" for gap in missing]
        if missing:
            continue
        answer = requests.request(method, f"{base_url}{path}", timeout=TIMEOUT, **kwargs)
        tried += 1
        if not 200 <= answer.status_code < 300:
            problems.append(f"{method.upper()} {template}: {answer.status_code} {answer.text[:300]}")
    assert not problems, "\n".join(problems)
    assert tried >= 9, f"only {tried} operations tried: is /openapi.json complete?"


@pytest.mark.parametrize(
    "disabled",
    [pytest.param("iotpay", id="stripe-only"), pytest.param("stripe", id="iotpay-only")],
)
def test_the_order_and_pay_examples_fit_the_providers_of_the_deployment(tmp_path: Path, disabled: str) -> None:
    for base_url in sandbox(tmp_path, GATEWAY_DISABLED_PLUGINS=disabled):
        document = requests.get(f"{base_url}/openapi.json", timeout=TIMEOUT).json()
        example = document["paths"]["/v1/orders"]["post"]["requestBody"]["content"]["application/json"]["example"]
        order = post_order(base_url, example)
        assert order["provider"] != disabled
        pay = document["paths"]["/pay"]["get"]["parameters"]
        answer = requests.get(f"{base_url}/pay", params={p["name"]: example_of(p) for p in pay}, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
