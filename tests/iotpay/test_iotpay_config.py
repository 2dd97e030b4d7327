"""IOTPay's settings: which of them start it (or its sandbox), what a partial or malformed set stops,
that its key never shows in a repr, and that its API URL follows the core's rule for provider URLs.
The core's configuration runs through a neutral provider in tests/gateway/test_config.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.plugin.settings import ConfigError
from tests.conftest import MCH_ID, MCH_KEY
from tests.gateway.test_config import SECRET, assert_config_error


@pytest.fixture
def iotpay_config(simulator: Any) -> dict[str, str]:
    """Complete IOTPay configuration, talking to the simulator."""
    return {
        "IOTPAY_MCH_ID": MCH_ID,
        "IOTPAY_SECRET_KEY": MCH_KEY,
        "IOTPAY_API_URL": f"{simulator.url}/v1",
        "IOTPAY_WX_APP_ID": "wx1234567890abcdef",
    }


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


@pytest.mark.parametrize(
    ("url", "starts"),
    [
        pytest.param("http://iotpay.example/v1", False, id="iotpay-http"),
        pytest.param("http://10.0.0.7/v1", False, id="iotpay-http-lan"),
        pytest.param("http://localhost.evil.example/v1", False, id="iotpay-http-localhost-lookalike"),
        pytest.param("http://127.0.0.1:9/v1", True, id="iotpay-http-127.0.0.1"),
        pytest.param("http://[::1]:9/v1", True, id="iotpay-http-ipv6-loopback"),
    ],
)
def test_iotpay_api_url_follows_the_cores_rule_for_plain_http(
    make_app: Callable[..., Any], caplog: pytest.LogCaptureFixture, url: str, starts: bool
) -> None:
    """https, or http to this machine only (GATEWAY_ALLOW_PLAIN_HTTP aside: tests/gateway/test_config.py)."""
    caplog.set_level(logging.DEBUG)
    if starts:
        assert make_app(**{**FULL_IOTPAY, "IOTPAY_API_URL": url}) is not None
        return
    with pytest.raises(ConfigError) as exc_info:
        make_app(**{**FULL_IOTPAY, "IOTPAY_API_URL": url})
    assert_config_error(exc_info, "IOTPAY_API_URL", SECRET)
    assert SECRET not in caplog.text


def test_iotpay_read_from_the_config_file(make_app: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "gateway.env"
    path.write_text(
        f'# IOTPay production merchant\n\nIOTPAY_MCH_ID=20000001\nIOTPAY_SECRET_KEY="{SECRET}"\n'
        "IOTPAY_API_URL = https://iotpay.example/v1\n",
        encoding="utf-8",
    )

    app = make_app(GATEWAY_CONFIG_FILE=str(path))

    config = app.extensions["gateway"].providers["iotpay"].config
    assert (config.mch_id, config.secret_key, config.api_url) == ("20000001", SECRET, "https://iotpay.example/v1")
