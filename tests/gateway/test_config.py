"""Start-up configuration: create_app(test_config) with the environment, a config file, API keys,
/healthz and /openapi.json. Configuration mistakes stop start-up with a `ConfigError` that names
the variable and never shows a secret. The provider is Example Pay (examples/), a provider that
belongs to no one: a real provider's own settings are tested with it, under tests/<provider>/."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.plugin.settings import ConfigError
from gateway.store.models import Order
from gateway.testing import ProviderHarness
from gateway.web.app import implicit_default_provider
from tests.gateway.conftest import NEUTRAL_NAME, NEUTRAL_PLUGIN, neutral_settings
from tests.support.plugins import all_plugins_but

SECRET = "s3cr3t-merchant-key-never-shown-0001"  # a key that must never show up anywhere
# Example Pay configured, as an operator would, for tests that never call it (they ask for `neutral_plugin`).
FULL_EXAMPLE = {
    "GATEWAY_PLUGINS": NEUTRAL_PLUGIN,
    "GATEWAY_DISABLED_PLUGINS": all_plugins_but(NEUTRAL_NAME),
    "EXAMPLE_SECRET": SECRET,
    "EXAMPLE_API_URL": "https://api.example-pay.example/v1",
}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def neutral_config(neutral_provider: ProviderHarness) -> dict[str, str]:
    """Example Pay configured as the only provider, talking to its simulator."""
    return neutral_settings(neutral_provider, "http://127.0.0.1")


def assert_config_error(exc_info: pytest.ExceptionInfo[ConfigError], variable: str, *secrets: str) -> None:
    message = str(exc_info.value)
    assert exc_info.value.variable == variable
    assert variable in message
    for secret in secrets:
        assert secret not in message
        assert secret not in repr(exc_info.value)


# -- which providers start ---------------------------------------------------------------------


def test_sandbox_starts_when_the_instance_folder_does_not_exist_yet(
    make_app: Callable[..., Any], neutral_plugin: dict[str, str], tmp_path: Path
) -> None:
    instance = tmp_path / "fresh-instance"

    app = make_app(**neutral_plugin, GATEWAY_SANDBOX="1", GATEWAY_INSTANCE_PATH=str(instance))

    assert NEUTRAL_NAME in [p["name"] for p in app.test_client().get("/v1/providers").get_json()]


def test_malformed_public_url_stops_start_up_naming_gateway_public_url(
    make_app: Callable[..., Any], neutral_plugin: dict[str, str]
) -> None:
    with pytest.raises(ConfigError) as exc_info:
        make_app(**FULL_EXAMPLE, GATEWAY_PUBLIC_URL="ftp://x")

    assert_config_error(exc_info, "GATEWAY_PUBLIC_URL", SECRET)


@pytest.mark.parametrize(
    ("config", "variable"),
    [
        pytest.param({"GATEWAY_SANDBOX": "maybe"}, "GATEWAY_SANDBOX", id="sandbox-not-boolean"),
        pytest.param({"GATEWAY_DEFAULT_PROVIDER": "nope"}, "GATEWAY_DEFAULT_PROVIDER", id="default-nope"),
    ],
)
def test_malformed_core_settings_stop_start_up_naming_the_variable_never_the_key(
    make_app: Callable[..., Any],
    neutral_plugin: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    config: dict[str, str],
    variable: str,
) -> None:
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ConfigError) as exc_info:
        make_app(**FULL_EXAMPLE, **config)

    assert_config_error(exc_info, variable, SECRET)
    assert SECRET not in caplog.text


@pytest.mark.parametrize("sandbox", [False, True], ids=["configured", "sandbox"])
def test_reprs_of_the_settings_and_the_gateway_never_contain_a_providers_secret(
    make_app: Callable[..., Any], neutral_plugin: dict[str, str], sandbox: bool
) -> None:
    app = make_app(**FULL_EXAMPLE, GATEWAY_SANDBOX="1" if sandbox else "0")
    gateway = app.extensions["gateway"]
    provider = gateway.providers[NEUTRAL_NAME]

    for shown in (repr(gateway.settings), str(gateway.settings), repr(gateway), repr(provider)):
        assert SECRET not in shown
        assert "example-sandbox-secret" not in shown  # Example Pay's sandbox secret


# -- API keys ----------------------------------------------------------------------------------


K1 = "k1-6f0b2e8c4a9d1f3e"
K2 = "k2-1d7a3c9e5b0f2a4c"


@pytest.fixture
def keyed_app(make_app: Callable[..., Any], neutral_config: dict[str, str], sqlite_url: str) -> Any:
    return make_app(
        **neutral_config, GATEWAY_DATABASE_URL=sqlite_url, GATEWAY_API_KEYS=f"{K1}, {K2}", GATEWAY_PAY_ENDPOINT="1"
    )


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        pytest.param(None, 401, id="no-header"),
        pytest.param("Bearer wrong", 401, id="wrong-key"),
        pytest.param(f"Bearer {K1},{K2}", 401, id="the-whole-list"),
        pytest.param("Bearer ", 401, id="empty-key"),
        pytest.param(f"Basic {K2}", 401, id="basic-scheme"),
        pytest.param(K2, 401, id="no-scheme"),
        pytest.param(f"Bearer {K2}x", 401, id="key-with-suffix"),
        pytest.param(f"Bearer {K2[:-1]}", 401, id="key-prefix"),
        pytest.param(f"Bearer {K1}", 200, id="first-key"),
        pytest.param(f"Bearer {K2}", 200, id="second-key"),
        pytest.param(f"bearer {K2}", 200, id="scheme-is-case-insensitive"),
    ],
)
def test_v1_needs_one_of_the_api_keys(keyed_app: Any, authorization: str | None, status: int) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = keyed_app.test_client().get("/v1/providers", headers=headers)

    assert response.status_code == status, response.get_data(as_text=True)
    if status == 401:
        body = response.get_json()
        assert body["error"] == "unauthorized"
        assert isinstance(body["message"], str) and body["message"]
        assert body["errors"] == {}
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert K1 not in response.get_data(as_text=True) and K2 not in response.get_data(as_text=True)
    else:
        assert [p["name"] for p in response.get_json()] == [NEUTRAL_NAME]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", "/v1/orders", id="create-order"),
        pytest.param("GET", "/v1/orders/00000000-0000-0000-0000-000000000000", id="get-order"),
    ],
)
def test_v1_orders_without_a_key_answer_401_and_create_nothing(keyed_app: Any, method: str, path: str) -> None:
    order = {"channel": "wallet", "amount": 100, "currency": "USD", "subject": "s", "body": "b"}

    response = keyed_app.test_client().open(path, method=method, json=order if method == "POST" else None)

    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    with keyed_app.extensions["gateway"].db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/healthz", 200, id="healthz"),
        pytest.param("/openapi.json", 200, id="openapi"),
        pytest.param(f"/notify/{NEUTRAL_NAME}", 400, id="notify-unsigned-is-refused-by-the-providers-rules-not-auth"),
        pytest.param("/pay?channelid=wallet&amount=1.00", 200, id="pay"),
    ],
)
def test_health_openapi_notify_and_pay_stay_reachable_without_a_key(keyed_app: Any, path: str, status: int) -> None:
    response = keyed_app.test_client().get(path)

    assert response.status_code == status, response.get_data(as_text=True)
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("api_keys", [pytest.param("", id="unset"), pytest.param(" , ", id="only-blanks")])
def test_outside_the_sandbox_start_up_without_api_keys_is_refused_in_one_line_saying_what_to_set(
    make_app: Callable[..., Any], neutral_config: dict[str, str], api_keys: str
) -> None:
    with pytest.raises(ConfigError) as exc_info:
        make_app(**neutral_config, GATEWAY_API_KEYS=api_keys)

    assert_config_error(exc_info, "GATEWAY_API_KEYS")
    message = str(exc_info.value)
    assert "\n" not in message
    assert "outside the sandbox" in message and "GATEWAY_SANDBOX=1" in message


def test_in_the_sandbox_v1_may_be_open_and_start_up_warns_about_it(
    make_app: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    app = make_app(GATEWAY_SANDBOX="1", GATEWAY_API_KEYS="")

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "GATEWAY_API_KEYS" in r.getMessage()]
    assert warnings, caplog.text
    assert app.test_client().get("/v1/providers").status_code == 200


def test_with_api_keys_start_up_does_not_warn_about_them(
    make_app: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    make_app(GATEWAY_API_KEYS=K1)

    assert not [r for r in caplog.records if r.levelno == logging.WARNING and "GATEWAY_API_KEYS" in r.getMessage()]


# -- weak configuration ------------------------------------------------------------------------

WEBHOOK_URL = "https://shop.example/hooks"
STRIPE = {
    "STRIPE_SECRET_KEY": "sk_test_4f2a9c1e7b3d5a6f8e0c2b4d",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_9d1b3f5a7c2e4f6a8b0d1c3e",
    "STRIPE_WEBHOOK_SECRET": "whsec_6e8a0c2d4f1b3a5c7e9d0f2a",
}


@pytest.mark.parametrize(
    ("config", "variable", "secret"),
    [
        pytest.param({"GATEWAY_API_KEYS": "short-key-15chr"}, "GATEWAY_API_KEYS", "short-key-15chr", id="api-key-15"),
        pytest.param(
            {"GATEWAY_API_KEYS": f"{K1},tiny"}, "GATEWAY_API_KEYS", "tiny", id="one-short-api-key-among-long-ones"
        ),
        pytest.param(
            {"GATEWAY_WEBHOOK_URL": WEBHOOK_URL, "GATEWAY_WEBHOOK_SECRET": "webhook-secret1"},
            "GATEWAY_WEBHOOK_SECRET",
            "webhook-secret1",
            id="webhook-secret-15",
        ),
        pytest.param(
            {**FULL_EXAMPLE, "EXAMPLE_API_URL": "http://pay.example/v1"}, "EXAMPLE_API_URL", SECRET, id="provider-http"
        ),
        pytest.param(
            {**FULL_EXAMPLE, "EXAMPLE_API_URL": "http://10.0.0.7/v1"}, "EXAMPLE_API_URL", SECRET, id="provider-http-lan"
        ),
        pytest.param(
            {**FULL_EXAMPLE, "EXAMPLE_API_URL": "http://localhost.evil.example/v1"},
            "EXAMPLE_API_URL",
            SECRET,
            id="provider-http-localhost-lookalike",
        ),
        pytest.param(
            {**STRIPE, "STRIPE_API_URL": "http://api.stripe.com"}, "STRIPE_API_URL", STRIPE["STRIPE_SECRET_KEY"],
            id="stripe-http",
        ),
    ],
)  # fmt: skip
def test_weak_configuration_stops_start_up_naming_the_variable_never_the_value(
    make_app: Callable[..., Any],
    neutral_plugin: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    config: dict[str, str],
    variable: str,
    secret: str,
) -> None:
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ConfigError) as exc_info:
        make_app(**config)

    assert_config_error(exc_info, variable, secret)
    assert secret not in caplog.text


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"GATEWAY_API_KEYS": "exactly-16-chars"}, id="api-key-16"),
        pytest.param(
            {"GATEWAY_WEBHOOK_URL": WEBHOOK_URL, "GATEWAY_WEBHOOK_SECRET": "exactly-16-chars"}, id="secret-16"
        ),
        pytest.param({**FULL_EXAMPLE, "EXAMPLE_API_URL": "http://127.0.0.1:9/v1"}, id="provider-http-127.0.0.1"),
        pytest.param({**FULL_EXAMPLE, "EXAMPLE_API_URL": "http://127.8.9.10:9/v1"}, id="provider-http-127/8"),
        pytest.param({**FULL_EXAMPLE, "EXAMPLE_API_URL": "http://LOCALHOST:9/v1"}, id="provider-http-localhost"),
        pytest.param({**FULL_EXAMPLE, "EXAMPLE_API_URL": "http://[::1]:9/v1"}, id="provider-http-ipv6-loopback"),
        pytest.param({**STRIPE, "STRIPE_API_URL": "http://localhost:9"}, id="stripe-http-localhost"),
        pytest.param(
            {**FULL_EXAMPLE, "EXAMPLE_API_URL": "http://pay.example/v1", "GATEWAY_ALLOW_PLAIN_HTTP": "1"},
            id="provider-http-explicitly-allowed",
        ),
        pytest.param(
            {**STRIPE, "STRIPE_API_URL": "http://stripe-mock:12111", "GATEWAY_ALLOW_PLAIN_HTTP": "1"},
            id="stripe-http-explicitly-allowed",
        ),
    ],
)
def test_long_keys_https_and_loopback_or_allowed_http_start(
    make_app: Callable[..., Any], neutral_plugin: dict[str, str], config: dict[str, str]
) -> None:
    assert make_app(**config) is not None


# -- the config file ---------------------------------------------------------------------------


def write_config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gateway.env"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_config_file_is_read(make_app: Callable[..., Any], neutral_plugin: dict[str, str], tmp_path: Path) -> None:
    path = write_config_file(
        tmp_path,
        f'# Example Pay, production\n\nEXAMPLE_SECRET="{SECRET}"\n'
        "EXAMPLE_API_URL = https://api.example-pay.example/v1\n",
    )

    app = make_app(**neutral_plugin, GATEWAY_CONFIG_FILE=path)

    client = app.extensions["gateway"].providers[NEUTRAL_NAME].client
    assert (client._secret, client.api_url) == (SECRET, "https://api.example-pay.example/v1")


def test_environment_wins_over_the_config_file(
    make_app: Callable[..., Any], neutral_plugin: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config_file(tmp_path, f"EXAMPLE_SECRET={SECRET}\nEXAMPLE_API_URL=https://one.example/v1\n")
    monkeypatch.setenv("GATEWAY_CONFIG_FILE", path)  # the file itself named by the environment
    monkeypatch.setenv("EXAMPLE_API_URL", "https://two.example/v1")

    app = make_app(**neutral_plugin)

    client = app.extensions["gateway"].providers[NEUTRAL_NAME].client
    assert (client._secret, client.api_url) == (SECRET, "https://two.example/v1")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="missing-file"),
        pytest.param(f"EXAMPLE_API_URL=https://one.example/v1\nEXAMPLE_SECRET {SECRET}\n", id="line-without-equals"),
        pytest.param(f"={SECRET}\n", id="line-without-name"),
    ],
)
def test_unreadable_config_file_stops_start_up_naming_gateway_config_file_never_the_key(
    make_app: Callable[..., Any], tmp_path: Path, content: str | None
) -> None:
    path = write_config_file(tmp_path, content) if content is not None else str(tmp_path / "absent.env")

    with pytest.raises(ConfigError) as exc_info:
        make_app(GATEWAY_CONFIG_FILE=path)

    assert_config_error(exc_info, "GATEWAY_CONFIG_FILE", SECRET)


# -- /healthz ----------------------------------------------------------------------------------


def test_healthz_answers_200_ok_when_the_database_answers(make_app: Callable[..., Any]) -> None:
    response = make_app().test_client().get("/healthz")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_healthz_answers_503_when_the_database_is_unreachable_without_showing_its_password(
    make_app: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app(GATEWAY_DATABASE_URL=f"postgresql://gateway:db-pa55word@127.0.0.1:{closed_port()}/test")

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.get_json()["status"] != "ok"
    assert "db-pa55word" not in response.get_data(as_text=True)
    assert "db-pa55word" not in caplog.text
    assert any(r.levelno >= logging.ERROR for r in caplog.records), caplog.text


# -- /openapi.json -----------------------------------------------------------------------------


@pytest.fixture
def openapi(make_app: Callable[..., Any]) -> dict[str, Any]:
    response = make_app(GATEWAY_PAY_ENDPOINT="1").test_client().get("/openapi.json")
    assert response.status_code == 200
    spec: dict[str, Any] = json.loads(response.get_data(as_text=True))  # valid JSON, not just "looks like"
    return spec


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/v1/orders", "post"),
        ("/v1/orders/{order_id}", "get"),
        ("/v1/providers", "get"),
        ("/pay", "get"),
        ("/healthz", "get"),
        ("/notify/{provider_name}", "post"),
        ("/notify/{provider_name}", "get"),
    ],
)
def test_openapi_documents_every_endpoint(openapi: dict[str, Any], path: str, method: str) -> None:
    assert openapi["openapi"].startswith("3.")
    assert method in openapi["paths"][path]


def test_openapi_error_schema_is_the_one_error_shape(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    error_schemas = [s for s in schemas.values() if {"error", "message", "errors"} <= set(s.get("properties", {}))]
    assert len(error_schemas) == 1, list(schemas)
    post_orders = openapi["paths"]["/v1/orders"]["post"]["responses"]
    for status in ("422", "502", "504"):
        ref = post_orders[status]["content"]["application/json"]["schema"]["$ref"]
        assert schemas[ref.rsplit("/", 1)[-1]] == error_schemas[0], status
    assert post_orders["201"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Order"


def test_openapi_error_schema_allows_the_provider_error_and_order_id_that_502_and_504_send(
    openapi: dict[str, Any],
) -> None:
    post_orders = openapi["paths"]["/v1/orders"]["post"]["responses"]
    ref = post_orders["502"]["content"]["application/json"]["schema"]["$ref"]
    error_schema = openapi["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    documented = set(error_schema["properties"])
    assert error_schema.get("additionalProperties", True) is not False or {"provider_error", "order_id"} <= documented


def test_the_only_enabled_provider_is_the_default(make_app: Callable[..., Any]) -> None:
    """A Stripe-only gateway needs no GATEWAY_DEFAULT_PROVIDER."""
    app = make_app(GATEWAY_DISABLED_PLUGINS=all_plugins_but("stripe"), GATEWAY_SANDBOX="1")
    gateway = app.extensions["gateway"]
    assert (list(gateway.providers), gateway.default_provider) == (["stripe"], "stripe")


def test_without_a_setting_the_default_is_the_enabled_provider_whose_name_sorts_first(
    make_app: Callable[..., Any], neutral_plugin: dict[str, str]
) -> None:
    plugins = {**neutral_plugin, "GATEWAY_DISABLED_PLUGINS": all_plugins_but("stripe")}
    app = make_app(**plugins, GATEWAY_SANDBOX="1")
    gateway = app.extensions["gateway"]
    assert (sorted(gateway.providers), gateway.default_provider) == ([NEUTRAL_NAME, "stripe"], NEUTRAL_NAME)
    assert implicit_default_provider({"zeta": 1, "alpha": 2}) == "alpha"  # load order does not matter
    assert implicit_default_provider({}) is None


def test_with_no_provider_enabled_an_order_names_the_problem(make_app: Callable[..., Any]) -> None:
    app = make_app(GATEWAY_DISABLED_PLUGINS=all_plugins_but())
    payload = {"channel": "wallet", "amount": 100, "currency": "USD", "subject": "s", "body": "b"}

    response = app.test_client().post("/v1/orders", json=payload)

    assert (response.status_code, response.get_json()["errors"]) == (422, {"provider": ["no provider is enabled"]})


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/orders", {"POST", "OPTIONS"}),
        ("DELETE", "/v1/orders/00000000-0000-0000-0000-000000000000", {"GET", "HEAD", "OPTIONS"}),
        ("PATCH", f"/notify/{NEUTRAL_NAME}", {"GET", "POST", "HEAD", "OPTIONS"}),
        ("POST", "/healthz", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_every_405_says_which_methods_are_allowed_in_the_one_error_shape(
    make_app: Callable[..., Any], neutral_config: dict[str, str], method: str, path: str, allowed: set[str]
) -> None:
    response = make_app(**neutral_config).test_client().open(path, method=method)

    assert response.status_code == 405
    assert {name.strip() for name in response.headers["Allow"].split(",")} == allowed
    assert response.get_json()["error"] == "method_not_allowed"


def test_openapi_links_a_created_order_to_its_reads_and_refunds_and_a_refund_to_its_read(
    make_app: Callable[..., Any], neutral_config: dict[str, str]
) -> None:
    spec = make_app(**neutral_config).test_client().get("/openapi.json").get_json()

    order_links = spec["paths"]["/v1/orders"]["post"]["responses"]["201"]["links"]
    refund_links = spec["paths"]["/v1/orders/{order_id}/refunds"]["post"]["responses"]["201"]["links"]
    assert {link["operationRef"] for link in order_links.values()} == {
        "#/paths/~1v1~1orders~1{order_id}/get",
        "#/paths/~1v1~1orders~1{order_id}~1refunds/post",
        "#/paths/~1v1~1orders~1{order_id}~1refunds/get",
    }
    assert all(link["parameters"] == {"order_id": "$response.body#/id"} for link in order_links.values())
    assert refund_links["GetRefund"]["parameters"] == {"refund_id": "$response.body#/id"}


def test_openapi_says_notify_answers_as_the_provider_does_and_names_the_enabled_choices(
    make_app: Callable[..., Any], neutral_config: dict[str, str]
) -> None:
    app = make_app(**neutral_config, GATEWAY_API_KEYS=K1)
    spec = app.test_client().get("/openapi.json").get_json()

    notify = spec["paths"]["/notify/{provider_name}"]["post"]["responses"]
    assert set(notify["200"]["content"]) == set(notify["400"]["content"]) == {"text/plain"}  # Example Pay: ok/rejected
    assert set(notify["429"]["content"]) == {"text/plain"}
    order = spec["components"]["schemas"]["OrderCreate"]["properties"]
    assert order["provider"]["enum"] == [NEUTRAL_NAME]
    assert order["channel"]["enum"] == ["wallet"]
    assert order["currency"]["enum"] == ["JPY", "USD"]
    assert (order["subject"]["maxLength"], order["client_ip"]["maxLength"]) == (255, 64)
    assert spec["paths"]["/v1/orders"]["post"]["security"] == [{"apiKey": []}]
    assert "401" in spec["paths"]["/v1/orders"]["post"]["responses"]
