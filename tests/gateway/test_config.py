"""Start-up configuration: create_app(test_config) with the environment, a config file, API keys,
/healthz and /openapi.json. Configuration mistakes stop start-up with a `ConfigError` that names
the variable and never shows a secret."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway import create_app
from gateway.plugin.settings import ConfigError
from gateway.store.models import Order
from gateway.web.app import implicit_default_provider
from tests.conftest import MCH_ID, MCH_KEY
from tests.support.keys import TEST_API_KEY, KeyedClient
from tests.support.plugins import all_plugins_but

SECRET = "s3cr3t-merchant-key-never-shown-0001"  # a key that must never show up anywhere


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """create_app with a throw-away SQLite database and instance folder, plus `config`."""
    built: list[Any] = []

    def build(**config: Any) -> Any:
        base = {
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
            "GATEWAY_INSTANCE_PATH": str(tmp_path),
            "GATEWAY_API_KEYS": TEST_API_KEY,  # GATEWAY_API_KEYS="" to see the gateway without one
        }
        app = create_app({**base, **config})
        built.append(app)
        if TEST_API_KEY in app.extensions["gateway"].settings.api_keys:
            app.test_client_class = KeyedClient
        return app

    yield build
    for app in built:
        app.extensions["gateway"].db.dispose()


@pytest.fixture
def iotpay_config(simulator: Any) -> dict[str, str]:
    """Complete IOTPay configuration, talking to the simulator."""
    return {
        "IOTPAY_MCH_ID": MCH_ID,
        "IOTPAY_SECRET_KEY": MCH_KEY,
        "IOTPAY_API_URL": f"{simulator.url}/v1",
        "IOTPAY_WX_APP_ID": "wx1234567890abcdef",
    }


def assert_config_error(exc_info: pytest.ExceptionInfo[ConfigError], variable: str, *secrets: str) -> None:
    message = str(exc_info.value)
    assert exc_info.value.variable == variable
    assert variable in message
    for secret in secrets:
        assert secret not in message
        assert secret not in repr(exc_info.value)


# -- which providers start ---------------------------------------------------------------------


def test_without_any_iotpay_variable_the_app_starts_with_no_provider_and_logs_iotpay_disabled(
    make_app: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    app = make_app()

    client = app.test_client()
    assert client.get("/v1/providers").get_json() == []
    assert any("iotpay" in r.getMessage() and "disabled" in r.getMessage() for r in caplog.records), caplog.text
    # Ordering then names the missing provider instead of failing obscurely.
    response = client.post(
        "/v1/orders", json={"channel": "WX_APP", "amount": 1, "currency": "CAD", "subject": "s", "body": "b"}
    )
    assert response.status_code == 422
    assert response.get_json()["error"] == "validation_error"
    assert "provider" in response.get_json()["errors"]


def test_sandbox_alone_enables_iotpay_in_sandbox_mode_with_its_simulator_mounted(
    make_app: Callable[..., Any],
) -> None:
    app = make_app(GATEWAY_SANDBOX="1")

    client = app.test_client()
    providers = client.get("/v1/providers").get_json()
    assert ("iotpay", True) in [(p["name"], p["sandbox"]) for p in providers]
    assert client.get("/sandbox/iotpay/faults").status_code == 200


def test_sandbox_starts_when_the_instance_folder_does_not_exist_yet(
    make_app: Callable[..., Any], tmp_path: Path
) -> None:
    instance = tmp_path / "fresh-instance"

    app = make_app(GATEWAY_SANDBOX="1", GATEWAY_INSTANCE_PATH=str(instance))

    assert "iotpay" in [p["name"] for p in app.test_client().get("/v1/providers").get_json()]


def test_complete_iotpay_configuration_enables_iotpay_outside_sandbox(
    make_app: Callable[..., Any], iotpay_config: dict[str, str]
) -> None:
    app = make_app(**iotpay_config)

    providers = app.test_client().get("/v1/providers").get_json()
    details = providers[0].pop("channel_details")  # tests/iotpay/test_checkout_channels.py checks them
    assert [channel["name"] for channel in details] == providers[0]["channels"]
    assert providers == [
        {
            "name": "iotpay",
            "display_name": "IOTPay",
            "channels": [
                "WX_APP",
                "ALIPAY_MOBILE",
                "UPI_APP",
                "WX_NATIVE",
                "ALIPAY_QR",
                "UPI_QR",
                "ALIPAY_WAP",
                "ALIPAY_PC",
                "UPI_SEQ",
                "WX_JSAPI",
                "WX_JSAPI_BROWSER",
            ],
            "currencies": [
                {"code": "CAD", "exponent": 2},
                {"code": "USD", "exponent": 2},
                {"code": "CNY", "exponent": 2},
            ],
            "operations": ["multiple_refunds", "partial_refund", "query", "refund"],
            "notifications": {
                "signature": "MD5 over every received field but sign, with the merchant key (upper-case hex)",
                "acknowledgement": "HTTP body exactly 'success'",
                "retries": "re-sent periodically, several times (about 6 over 15 minutes) until acknowledged",
            },
            "sandbox": False,
        }
    ]
    assert app.test_client().get("/sandbox/iotpay/faults").status_code == 404


FULL_IOTPAY = {"IOTPAY_MCH_ID": MCH_ID, "IOTPAY_SECRET_KEY": SECRET, "IOTPAY_API_URL": "https://iotpay.example/v1"}


@pytest.mark.parametrize(
    ("config", "variable"),
    [
        pytest.param({"IOTPAY_MCH_ID": MCH_ID}, "IOTPAY_SECRET_KEY", id="only-mch-id"),
        pytest.param({"IOTPAY_SECRET_KEY": SECRET}, "IOTPAY_MCH_ID", id="only-secret-key"),
        pytest.param({"IOTPAY_API_URL": "https://iotpay.example/v1"}, "IOTPAY_MCH_ID", id="only-api-url"),
        pytest.param({**FULL_IOTPAY, "IOTPAY_MCH_ID": "   "}, "IOTPAY_MCH_ID", id="blank-mch-id"),
        pytest.param({**FULL_IOTPAY, "IOTPAY_TIMEOUT": "abc"}, "IOTPAY_TIMEOUT", id="timeout-not-a-number"),
        pytest.param({**FULL_IOTPAY, "IOTPAY_TIMEOUT": "0"}, "IOTPAY_TIMEOUT", id="timeout-zero"),
        pytest.param({**FULL_IOTPAY, "IOTPAY_TIMEOUT": "nan"}, "IOTPAY_TIMEOUT", id="timeout-nan"),
        pytest.param({**FULL_IOTPAY, "IOTPAY_API_URL": "ftp://x"}, "IOTPAY_API_URL", id="api-url-ftp"),
        pytest.param({**FULL_IOTPAY, "IOTPAY_MCH_ID": "1" * 31}, "IOTPAY_MCH_ID", id="mch-id-31-chars"),
        pytest.param({**FULL_IOTPAY, "IOTPAY_JOB_NO": "j" * 51}, "IOTPAY_JOB_NO", id="job-no-51-chars"),
        pytest.param(
            {**FULL_IOTPAY, "IOTPAY_REQUIRE_RESPONSE_SIGN": "maybe"},
            "IOTPAY_REQUIRE_RESPONSE_SIGN",
            id="flag-not-boolean",
        ),
        pytest.param(
            {**FULL_IOTPAY, "IOTPAY_REJECT_BAD_RESPONSE_SIGN": "0"},
            "IOTPAY_REJECT_BAD_RESPONSE_SIGN",
            id="retired-flag-that-accepted-wrong-signatures",
        ),
        pytest.param({"GATEWAY_SANDBOX": "maybe"}, "GATEWAY_SANDBOX", id="sandbox-not-boolean"),
        pytest.param(
            {**FULL_IOTPAY, "GATEWAY_DEFAULT_PROVIDER": "nope"}, "GATEWAY_DEFAULT_PROVIDER", id="default-nope"
        ),
    ],
)
def test_partial_or_malformed_configuration_stops_start_up_naming_the_variable_never_the_key(
    make_app: Callable[..., Any], caplog: pytest.LogCaptureFixture, config: dict[str, str], variable: str
) -> None:
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ConfigError) as exc_info:
        make_app(**config)

    assert_config_error(exc_info, variable, SECRET)
    assert SECRET not in caplog.text


def test_malformed_public_url_stops_start_up_naming_gateway_public_url(
    make_app: Callable[..., Any], iotpay_config: dict[str, str]
) -> None:
    with pytest.raises(ConfigError) as exc_info:
        make_app(**iotpay_config, GATEWAY_PUBLIC_URL="ftp://x")

    assert_config_error(exc_info, "GATEWAY_PUBLIC_URL", MCH_KEY)


# -- secrets stay out of reprs -----------------------------------------------------------------


@pytest.mark.parametrize("sandbox", [False, True], ids=["configured", "sandbox"])
def test_reprs_of_the_iotpay_config_settings_and_gateway_never_contain_the_key(
    make_app: Callable[..., Any], sandbox: bool
) -> None:
    app = make_app(**FULL_IOTPAY, GATEWAY_SANDBOX="1" if sandbox else "0")
    gateway = app.extensions["gateway"]
    provider = gateway.providers["iotpay"]
    key = provider.config.secret_key
    assert key == ("sandbox-key-0123456789abcdef0000" if sandbox else SECRET)

    for shown in (
        repr(provider.config),
        str(provider.config),
        repr(gateway.settings),
        str(gateway.settings),
        repr(gateway),
        repr(provider),
    ):
        assert key not in shown
        assert SECRET not in shown


# -- API keys ----------------------------------------------------------------------------------


K1 = "k1-6f0b2e8c4a9d1f3e"
K2 = "k2-1d7a3c9e5b0f2a4c"


@pytest.fixture
def keyed_app(make_app: Callable[..., Any], iotpay_config: dict[str, str], sqlite_url: str) -> Any:
    return make_app(
        **iotpay_config, GATEWAY_DATABASE_URL=sqlite_url, GATEWAY_API_KEYS=f"{K1}, {K2}", GATEWAY_PAY_ENDPOINT="1"
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
        assert [p["name"] for p in response.get_json()] == ["iotpay"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", "/v1/orders", id="create-order"),
        pytest.param("GET", "/v1/orders/00000000-0000-0000-0000-000000000000", id="get-order"),
    ],
)
def test_v1_orders_without_a_key_answer_401_and_create_nothing(keyed_app: Any, method: str, path: str) -> None:
    order = {"channel": "UPI_APP", "amount": 100, "currency": "CAD", "subject": "s", "body": "b"}

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
        pytest.param("/notify/iotpay", 400, id="notify-unsigned-is-refused-by-iotpay-rules-not-by-auth"),
        pytest.param("/pay?channelid=UPI_APP&amount=1.00", 200, id="pay"),
    ],
)
def test_health_openapi_notify_and_pay_stay_reachable_without_a_key(keyed_app: Any, path: str, status: int) -> None:
    response = keyed_app.test_client().get(path)

    assert response.status_code == status, response.get_data(as_text=True)
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("api_keys", [pytest.param("", id="unset"), pytest.param(" , ", id="only-blanks")])
def test_outside_the_sandbox_start_up_without_api_keys_is_refused_in_one_line_saying_what_to_set(
    make_app: Callable[..., Any], iotpay_config: dict[str, str], api_keys: str
) -> None:
    with pytest.raises(ConfigError) as exc_info:
        make_app(**iotpay_config, GATEWAY_API_KEYS=api_keys)

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
            {**FULL_IOTPAY, "IOTPAY_API_URL": "http://iotpay.example/v1"}, "IOTPAY_API_URL", SECRET, id="iotpay-http"
        ),
        pytest.param(
            {**FULL_IOTPAY, "IOTPAY_API_URL": "http://10.0.0.7/v1"}, "IOTPAY_API_URL", SECRET, id="iotpay-http-lan"
        ),
        pytest.param(
            {**FULL_IOTPAY, "IOTPAY_API_URL": "http://localhost.evil.example/v1"},
            "IOTPAY_API_URL",
            SECRET,
            id="iotpay-http-localhost-lookalike",
        ),
        pytest.param(
            {**STRIPE, "STRIPE_API_URL": "http://api.stripe.com"}, "STRIPE_API_URL", STRIPE["STRIPE_SECRET_KEY"],
            id="stripe-http",
        ),
    ],
)  # fmt: skip
def test_weak_configuration_stops_start_up_naming_the_variable_never_the_value(
    make_app: Callable[..., Any], caplog: pytest.LogCaptureFixture, config: dict[str, str], variable: str, secret: str
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
        pytest.param({**FULL_IOTPAY, "IOTPAY_API_URL": "http://127.0.0.1:9/v1"}, id="iotpay-http-127.0.0.1"),
        pytest.param({**FULL_IOTPAY, "IOTPAY_API_URL": "http://127.8.9.10:9/v1"}, id="iotpay-http-127/8"),
        pytest.param({**FULL_IOTPAY, "IOTPAY_API_URL": "http://LOCALHOST:9/v1"}, id="iotpay-http-localhost"),
        pytest.param({**FULL_IOTPAY, "IOTPAY_API_URL": "http://[::1]:9/v1"}, id="iotpay-http-ipv6-loopback"),
        pytest.param({**STRIPE, "STRIPE_API_URL": "http://localhost:9"}, id="stripe-http-localhost"),
        pytest.param(
            {**FULL_IOTPAY, "IOTPAY_API_URL": "http://iotpay.example/v1", "GATEWAY_ALLOW_PLAIN_HTTP": "1"},
            id="iotpay-http-explicitly-allowed",
        ),
        pytest.param(
            {**STRIPE, "STRIPE_API_URL": "http://stripe-mock:12111", "GATEWAY_ALLOW_PLAIN_HTTP": "1"},
            id="stripe-http-explicitly-allowed",
        ),
    ],
)
def test_long_keys_https_and_loopback_or_allowed_http_start(
    make_app: Callable[..., Any], config: dict[str, str]
) -> None:
    assert make_app(**config) is not None


# -- the config file ---------------------------------------------------------------------------


def write_config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gateway.env"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_config_file_is_read(make_app: Callable[..., Any], tmp_path: Path) -> None:
    path = write_config_file(
        tmp_path,
        f'# IOTPay production merchant\n\nIOTPAY_MCH_ID=20000001\nIOTPAY_SECRET_KEY="{SECRET}"\n'
        "IOTPAY_API_URL = https://iotpay.example/v1\n",
    )

    app = make_app(GATEWAY_CONFIG_FILE=path)

    config = app.extensions["gateway"].providers["iotpay"].config
    assert (config.mch_id, config.secret_key, config.api_url) == ("20000001", SECRET, "https://iotpay.example/v1")


def test_environment_wins_over_the_config_file(
    make_app: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config_file(tmp_path, f"IOTPAY_MCH_ID=20000001\nIOTPAY_SECRET_KEY={SECRET}\n")
    monkeypatch.setenv("GATEWAY_CONFIG_FILE", path)  # the file itself named by the environment
    monkeypatch.setenv("IOTPAY_MCH_ID", "30000003")

    app = make_app()

    config = app.extensions["gateway"].providers["iotpay"].config
    assert (config.mch_id, config.secret_key) == ("30000003", SECRET)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="missing-file"),
        pytest.param(f"IOTPAY_MCH_ID=20000001\nIOTPAY_SECRET_KEY {SECRET}\n", id="line-without-equals"),
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
    make_app: Callable[..., Any],
) -> None:
    app = make_app(GATEWAY_SANDBOX="1", GATEWAY_DISABLED_PLUGINS=all_plugins_but("iotpay", "stripe"))
    gateway = app.extensions["gateway"]
    assert (list(gateway.providers), gateway.default_provider) == (["iotpay", "stripe"], "iotpay")
    assert implicit_default_provider({"zeta": 1, "alpha": 2}) == "alpha"  # load order does not matter
    assert implicit_default_provider({}) is None


def test_with_no_provider_enabled_an_order_names_the_problem(make_app: Callable[..., Any]) -> None:
    app = make_app(GATEWAY_DISABLED_PLUGINS="iotpay,stripe")
    payload = {"channel": "WX_APP", "amount": 100, "currency": "CAD", "subject": "s", "body": "b"}

    response = app.test_client().post("/v1/orders", json=payload)

    assert (response.status_code, response.get_json()["errors"]) == (422, {"provider": ["no provider is enabled"]})


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/orders", {"POST", "OPTIONS"}),
        ("DELETE", "/v1/orders/00000000-0000-0000-0000-000000000000", {"GET", "HEAD", "OPTIONS"}),
        ("PATCH", "/notify/iotpay", {"GET", "POST", "HEAD", "OPTIONS"}),
        ("POST", "/healthz", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_every_405_says_which_methods_are_allowed_in_the_one_error_shape(
    make_app: Callable[..., Any], iotpay_config: dict[str, str], method: str, path: str, allowed: set[str]
) -> None:
    response = make_app(**iotpay_config).test_client().open(path, method=method)

    assert response.status_code == 405
    assert {name.strip() for name in response.headers["Allow"].split(",")} == allowed
    assert response.get_json()["error"] == "method_not_allowed"


def test_openapi_links_a_created_order_to_its_reads_and_refunds_and_a_refund_to_its_read(
    make_app: Callable[..., Any], iotpay_config: dict[str, str]
) -> None:
    spec = make_app(**iotpay_config).test_client().get("/openapi.json").get_json()

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
    make_app: Callable[..., Any], iotpay_config: dict[str, str]
) -> None:
    app = make_app(**iotpay_config, GATEWAY_API_KEYS=K1)
    spec = app.test_client().get("/openapi.json").get_json()

    notify = spec["paths"]["/notify/{provider_name}"]["post"]["responses"]
    assert set(notify["200"]["content"]) == set(notify["400"]["content"]) == {"text/plain"}  # IOTPay: success/fail
    assert set(notify["429"]["content"]) == {"text/plain"}
    order = spec["components"]["schemas"]["OrderCreate"]["properties"]
    assert order["provider"]["enum"] == ["iotpay"]
    assert order["channel"]["enum"] == sorted(app.extensions["gateway"].providers["iotpay"].info.channels)
    assert order["currency"]["enum"] == sorted(app.extensions["gateway"].providers["iotpay"].info.currencies)
    assert (order["subject"]["maxLength"], order["client_ip"]["maxLength"]) == (255, 64)
    assert spec["paths"]["/v1/orders"]["post"]["security"] == [{"apiKey": []}]
    assert "401" in spec["paths"]["/v1/orders"]["post"]["responses"]
