"""Start-up refuses a merchant webhook URL (or a provider's) to a link-local or cloud metadata
address, however it is spelt, and plain http to another machine outside the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.domain import webhooks
from gateway.plugin.settings import ConfigError, Settings

SECRET = "webhook-secret-0123456789"

METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254/hooks",
    "https://169.254.0.1/hooks",
    "https://[fd00:ec2::254]/hooks",
    "https://[fe80::1]/hooks",
    "https://[fe80::1%25eth0]/hooks",
    "https://[::ffff:169.254.169.254]/hooks",
    "https://[::ffff:a9fe:a9fe]/hooks",
    "https://[::169.254.169.254]/hooks",
    "https://[64:ff9b::169.254.169.254]/hooks",
    "https://[2002:a9fe:a9fe::1]/hooks",
    "https://2852039166/hooks",
    "https://0xa9fea9fe/hooks",
    "https://0251.0376.0251.0376/hooks",
    "https://169.254.43518/hooks",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://METADATA.google.internal./hooks",
    "https://user:pass@169.254.169.254:8443/hooks",
    "https://100.100.100.200/hooks",
]


def load(url: str, **extra: str) -> object:
    return webhooks.load_config(Settings({"GATEWAY_WEBHOOK_URL": url, "GATEWAY_WEBHOOK_SECRET": SECRET, **extra}, "/"))


@pytest.mark.parametrize("url", METADATA_URLS)
@pytest.mark.parametrize("sandbox", ["0", "1"])
def test_a_webhook_url_to_a_link_local_or_metadata_address_is_refused_at_start(url: str, sandbox: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load(url, GATEWAY_SANDBOX=sandbox, GATEWAY_ALLOW_PLAIN_HTTP="1")

    assert refused.value.variable == "GATEWAY_WEBHOOK_URL"
    assert "link-local or cloud metadata" in str(refused.value)
    assert SECRET not in str(refused.value)


def test_the_app_refuses_to_start_with_a_metadata_webhook_url(app_factory: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError) as refused:
        app_factory(GATEWAY_WEBHOOK_URL="http://[::ffff:169.254.169.254]/x", GATEWAY_WEBHOOK_SECRET=SECRET)
    assert refused.value.variable == "GATEWAY_WEBHOOK_URL"


@pytest.mark.parametrize(
    "url", ["http://shop.example/hooks", "http://10.0.0.5/hooks", "http://[2001:db8::1]/hooks", "http://169.253.1.1/h"]
)
def test_plain_http_to_another_machine_is_refused_outside_the_sandbox(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load(url)

    assert refused.value.variable == "GATEWAY_WEBHOOK_URL"
    assert "must use https" in str(refused.value)


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("https://shop.example/hooks/", {}),
        ("https://169.253.1.1/hooks", {}),
        ("https://[2001:db8::1]/hooks", {}),
        ("http://127.0.0.1:9000/hooks", {}),
        ("http://localhost/hooks", {}),
        ("http://[::1]:8080/hooks", {}),
        ("http://shop.example/hooks", {"GATEWAY_SANDBOX": "1"}),
        ("http://10.0.0.5/hooks", {"GATEWAY_ALLOW_PLAIN_HTTP": "1"}),
        ("https://metadata.example/hooks", {}),
    ],
)
def test_https_loopback_and_the_sandbox_are_accepted_and_the_url_kept_as_written(
    url: str, extra: dict[str, str]
) -> None:
    config = load(url, **extra)

    assert isinstance(config, webhooks.WebhookConfig) and config.url == url


def test_a_provider_url_to_the_metadata_service_is_refused_too() -> None:
    settings = Settings({}, "/")
    with pytest.raises(ConfigError) as refused:
        settings.service_url("EXAMPLE_API_URL", "https://[::ffff:a9fe:a9fe]/v1")
    assert refused.value.variable == "EXAMPLE_API_URL"
