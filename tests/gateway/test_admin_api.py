"""/v1/admin: the CLI's merchant, key and account commands over HTTP, behind the admin keys, with the
same answers (the same documents), one error shape with stable codes, 404 for unknown ids, and no
500 whatever the body or the path holds. Stored accounts at Example Pay."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.testing import ProviderHarness
from gateway.testing.live import LiveServer
from tests.support.keys import AUTH
from tests.support.merchants import (
    ACCOUNT_SECRET,
    ADMIN_AUTH,
    ADMIN_SECRET,
    CREDENTIALS_KEY,
    cli,
    merchants_app,
)

UNKNOWN = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


class Recorder:
    """The admin client: sends the admin key, and keeps every answer's text to search for secrets."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()
        self.texts: list[str] = []

    def __call__(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        response = self.client.open(
            f"/v1/admin{path}", method=method, json=body, headers=ADMIN_AUTH if headers is None else headers
        )
        self.texts.append(response.get_data(as_text=True))
        return response


@pytest.fixture
def build(
    app_factory: Callable[..., Any], neutral_provider: ProviderHarness, gateway_server: LiveServer
) -> Callable[..., Any]:
    return lambda **extra: merchants_app(app_factory, neutral_provider, gateway_server, **extra)


@pytest.fixture
def app(build: Callable[..., Any]) -> Any:
    return build()


@pytest.fixture
def admin(app: Any) -> Iterator[Recorder]:
    recorder = Recorder(app)
    yield recorder
    everything = "\n".join(recorder.texts)
    assert ACCOUNT_SECRET not in everything and CREDENTIALS_KEY not in everything and ADMIN_SECRET not in everything


def settings_of(harness: Any, **changes: str) -> dict[str, str]:
    return {"EXAMPLE_SECRET": ACCOUNT_SECRET, "EXAMPLE_API_URL": harness.url, **changes}


def error_of(response: Any) -> tuple[int, str]:
    body = response.get_json()
    assert set(body) >= {"error", "message", "errors"}, body
    return response.status_code, body["error"]


# -- who may ---------------------------------------------------------------------------------------


def test_without_admin_keys_the_admin_api_is_off_and_undocumented(build: Callable[..., Any]) -> None:
    app = build(GATEWAY_ADMIN_KEYS="")
    client = app.test_client()

    assert error_of(client.get("/v1/admin/merchants", headers=ADMIN_AUTH)) == (404, "not_found")
    document = client.get("/openapi.json").get_json()
    assert [path for path in document["paths"] if path.startswith("/v1/admin")] == []
    assert "Merchant" not in document["components"]["schemas"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": ""},  # (the test client would send the environment's API key otherwise)
        {"Authorization": "Bearer admin-api-key-0123456789abcdeX"},
        {"Authorization": f"Basic {ADMIN_SECRET}"},
        AUTH,  # the environment merchant's API key opens /v1, never /v1/admin
    ],
    ids=["none", "wrong", "not bearer", "an API key"],
)
def test_only_an_admin_key_opens_it(admin: Recorder, headers: dict[str, str]) -> None:
    assert error_of(admin("GET", "/merchants", headers=headers)) == (401, "unauthorized")


def test_a_merchants_own_api_key_does_not_open_it(admin: Recorder) -> None:
    created = admin("POST", "/merchants", {"name": "Tea House"}).get_json()
    own = {"Authorization": f"Bearer {created['api_key']}"}
    assert error_of(admin("GET", "/merchants", headers=own)) == (401, "unauthorized")


def test_failed_admin_keys_lock_the_address_out_with_the_consoles_failed_logins(build: Callable[..., Any]) -> None:
    admin = Recorder(build(GATEWAY_AUTH_FAILURE_LIMIT="2/minute"))
    wrong = {"Authorization": "Bearer not-the-admin-key-000000"}
    assert [admin("GET", "/merchants", headers=wrong).status_code for _ in range(2)] == [401, 401]
    locked = admin("GET", "/merchants")  # the right key too, once locked out
    assert error_of(locked) == (429, "too_many_requests") and locked.headers["Retry-After"]


# -- what it does: the CLI's commands, the same documents -------------------------------------------


def test_merchants_keys_and_accounts_through_the_admin_api(app: Any, admin: Recorder, neutral_provider: Any) -> None:
    created = admin("POST", "/merchants", {"name": "Tea House"})
    assert created.status_code == 201
    merchant = created.get_json()
    assert set(merchant) == {"id", "name", "api_key"} and merchant["api_key"].startswith("gwk_")
    first_key = {"Authorization": f"Bearer {merchant['api_key']}"}
    assert app.test_client().get("/v1/providers", headers=first_key).status_code == 200

    listed = admin("GET", "/merchants").get_json()
    assert listed == cli(app, "merchants", "list")
    assert {"id": merchant["id"], "name": "Tea House", "webhook_url": None} in listed

    webhook = admin("PUT", f"/merchants/{merchant['id']}/webhook", {"url": "https://tea.example/hooks"}).get_json()
    assert webhook["merchant"] == merchant["id"] and webhook["secret"].startswith("whsec_")
    assert webhook["secret"] not in json.dumps(admin("GET", "/merchants").get_json())  # shown once

    key = admin("POST", f"/merchants/{merchant['id']}/keys", {"scopes": ["orders:read"]})
    assert key.status_code == 201 and key.get_json()["scopes"] == ["orders:read"]
    reader = {"Authorization": f"Bearer {key.get_json()['api_key']}"}
    assert app.test_client().get("/v1/providers", headers=reader).status_code == 200
    revoked = admin("POST", f"/keys/{key.get_json()['id']}/revoke").get_json()
    assert revoked["id"] == key.get_json()["id"] and revoked["revoked_at"]
    assert app.test_client().get("/v1/providers", headers=reader).status_code == 401

    account = admin(
        "POST",
        f"/merchants/{merchant['id']}/accounts",
        {"provider": "example", "name": "usd", "settings": settings_of(neutral_provider)},
    )
    assert account.status_code == 201, account.get_json()
    account_id = account.get_json()["id"]
    assert account.get_json() == {
        "id": account_id,
        "name": "usd",
        "provider": "example",
        "notify_url": f"{app.extensions['gateway'].settings.public_url}/notify/example/{account_id}",
    }
    accounts = admin("GET", f"/accounts?merchant={merchant['id']}").get_json()
    assert accounts == cli(app, "accounts", "list", "--merchant", merchant["id"])
    assert [(item["id"], item["disabled"], item["version"]) for item in accounts] == [(account_id, False, 1)]

    rotated = admin(
        "POST", f"/accounts/{account_id}/rotate", {"settings": settings_of(neutral_provider), "grace_hours": 2}
    )
    assert rotated.status_code == 200 and rotated.get_json()["version"] == 2
    assert rotated.get_json()["previous_settings_until"] is not None
    disabled = admin("POST", f"/accounts/{account_id}/disable").get_json()
    assert disabled["disabled"] is True and disabled["version"] == 3
    assert [item["enabled"] for item in app.test_client().get("/v1/providers", headers=first_key).get_json()] == [False]


def test_every_account_is_listed_with_the_environments(app: Any, admin: Recorder) -> None:
    listed = admin("GET", "/accounts").get_json()
    assert listed == cli(app, "accounts", "list")
    assert [(item["id"], item["source"]) for item in listed] == [("default-example", "environment")]


# -- refusals: one shape, stable codes ----------------------------------------------------------------


def test_refusals_have_the_one_error_shape_and_stable_codes(admin: Recorder, neutral_provider: Any) -> None:
    tea = admin("POST", "/merchants", {"name": "Tea House"}).get_json()["id"]
    account = {"provider": "example", "name": "usd", "settings": settings_of(neutral_provider)}
    cases = [
        (("POST", "/merchants", {"name": "Tea House"}), (409, "merchant_exists")),
        (("POST", "/merchants", {"name": "  "}), (422, "validation_error")),
        (("POST", "/merchants", {"name": "Tea", "colour": "green"}), (422, "validation_error")),
        (("POST", "/merchants", [1, 2]), (422, "validation_error")),
        (("PUT", f"/merchants/{UNKNOWN}/webhook", {"url": "https://x.example"}), (404, "merchant_not_found")),
        (("PUT", f"/merchants/{tea}/webhook", {"url": "http://169.254.169.254/"}), (422, "validation_error")),
        (("POST", f"/merchants/{UNKNOWN}/keys", {}), (404, "merchant_not_found")),
        (("POST", f"/merchants/{tea}/keys", {"scopes": ["refunds:read"]}), (422, "validation_error")),
        (("POST", f"/keys/{UNKNOWN}/revoke", None), (404, "key_not_found")),
        (("POST", f"/merchants/{UNKNOWN}/accounts", account), (404, "merchant_not_found")),
        (("POST", "/merchants/default/accounts", account), (422, "validation_error")),
        (("POST", f"/accounts/{UNKNOWN}/rotate", {"settings": account["settings"]}), (404, "account_not_found")),
        (("POST", "/accounts/not-an-id/disable", None), (404, "account_not_found")),
        (("POST", "/accounts/%00/disable", None), (404, "account_not_found")),
        (("GET", "/accounts?merchant=nobody", None), (404, "merchant_not_found")),
        (("GET", "/accounts?merchant=%00", None), (404, "merchant_not_found")),
        (("DELETE", "/merchants", None), (405, "method_not_allowed")),
    ]
    for (method, path, body), expected in cases:
        assert error_of(admin(method, path, body)) == expected, (method, path, body)


def test_settings_the_provider_refuses_are_a_422_naming_the_setting_never_its_value(
    admin: Recorder, neutral_provider: Any
) -> None:
    tea = admin("POST", "/merchants", {"name": "Tea House"}).get_json()["id"]
    refused = admin(
        "POST",
        f"/merchants/{tea}/accounts",
        {"provider": "example", "name": "usd", "settings": {"EXAMPLE_SECRET": ACCOUNT_SECRET}},
    )
    assert error_of(refused) == (422, "validation_error")
    assert list(refused.get_json()["errors"]) == ["settings.EXAMPLE_API_URL"]
    missing = admin(
        "POST", f"/merchants/{tea}/accounts", {"provider": "nowhere", "name": "x", "settings": {"A_B": "1"}}
    )
    assert error_of(missing) == (422, "validation_error")


def test_without_a_credentials_key_nothing_secret_is_stored(build: Callable[..., Any], neutral_provider: Any) -> None:
    admin = Recorder(build(GATEWAY_CREDENTIALS_KEYS=""))
    tea = admin("POST", "/merchants", {"name": "Tea House"}).get_json()["id"]
    account = {"provider": "example", "name": "usd", "settings": settings_of(neutral_provider)}
    assert error_of(admin("POST", f"/merchants/{tea}/accounts", account)) == (409, "credentials_keys_missing")
    assert error_of(admin("PUT", f"/merchants/{tea}/webhook", {"url": "https://x.example"})) == (
        409,
        "credentials_keys_missing",
    )


def test_rotating_an_account_whose_key_was_dropped_repairs_it_without_a_grace_period(
    build: Callable[..., Any], admin: Recorder, neutral_provider: Any
) -> None:
    tea = admin("POST", "/merchants", {"name": "Tea House"}).get_json()["id"]
    account = {"provider": "example", "name": "usd", "settings": settings_of(neutral_provider)}
    account_id = admin("POST", f"/merchants/{tea}/accounts", account).get_json()["id"]

    from cryptography.fernet import Fernet

    after = Recorder(build(GATEWAY_CREDENTIALS_KEYS=Fernet.generate_key().decode()))
    rotated = after("POST", f"/accounts/{account_id}/rotate", {"settings": account["settings"]})

    assert rotated.status_code == 200, rotated.get_json()
    assert rotated.get_json()["previous_settings_until"] is None


# -- strangers' input: never a 500 ---------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(["name", "url", "scopes", "provider", "settings", "grace_hours", "EXAMPLE_SECRET"])
BODIES = JSON | st.dictionaries(FIELDS, JSON, max_size=4)
IDS = st.sampled_from([UNKNOWN, "default", "", "x" * 100]) | st.text(max_size=40)
ROUTES = [
    ("POST", "/merchants"),
    ("PUT", "/merchants/{id}/webhook"),
    ("POST", "/merchants/{id}/keys"),
    ("POST", "/keys/{id}/revoke"),
    ("POST", "/merchants/{id}/accounts"),
    ("POST", "/accounts/{id}/rotate"),
    ("POST", "/accounts/{id}/disable"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES, ids=[route for _, route in ROUTES])
def test_no_body_and_no_id_is_a_server_error(admin: Recorder, method: str, route: str) -> None:
    from urllib.parse import quote

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=BODIES, some_id=IDS)
    def check(body: Any, some_id: str) -> None:
        path = route.replace("{id}", quote(some_id, safe="") or "%20")
        response = admin(method, path, body)
        # 308: an id holding "/" (%2F, decoded before routing) next to another makes "//", which the
        # router merges with a redirect, as on every path of the gateway.
        assert response.status_code in (200, 201, 308, 404, 405, 409, 422), (some_id, response.get_data(as_text=True))
        if response.status_code >= 400:
            error_of(response)

    check()


def test_the_merchants_page_lists_exactly_the_admin_routes(app: Any) -> None:
    page = (Path(__file__).parents[2] / "docs" / "merchants.md").read_text(encoding="utf-8")
    section = page.split("## The admin API", 1)[1].split("\n## ", 1)[0]
    documented = {
        re.sub(r"<(\w+) (\w+)>", r"<\1_\2>", row.split("`")[1].split("[")[0])
        for row in section.splitlines()
        if row.startswith("| `")
    }
    routes = {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1/admin/")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    }
    assert documented == routes


def test_each_change_is_logged_with_who_made_it_never_a_key(admin: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="gateway.web.admin")
    created = admin("POST", "/merchants", {"name": "Tea House"}).get_json()
    admin("GET", "/merchants")

    lines = [record.getMessage() for record in caplog.records if record.name == "gateway.web.admin"]
    fingerprint = hashlib.sha256(ADMIN_SECRET.encode()).hexdigest()[:8]
    assert lines == [f"admin API: ops ({fingerprint}) created merchant {created['id']}"]
    assert created["api_key"] not in caplog.text and ADMIN_SECRET not in caplog.text
