"""gateway.plugin.settings helpers for plugins: required settings, enabled-when-configured, URLs."""

from __future__ import annotations

import pytest

from gateway.plugin.settings import ConfigError, Settings

SECRET = "whsec_never_shown_0001"


def settings(**values: str) -> Settings:
    return Settings(values, "/tmp")


def test_a_required_setting_is_its_value() -> None:
    assert settings(EXAMPLE_SECRET=f"  {SECRET} ").required("EXAMPLE_SECRET", "when EXAMPLE_API_URL is set") == SECRET


@pytest.mark.parametrize("values", [{}, {"EXAMPLE_SECRET": ""}, {"EXAMPLE_SECRET": "   "}])
def test_a_missing_or_blank_required_setting_is_a_config_error_naming_it(values: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(**values).required("EXAMPLE_SECRET", "when EXAMPLE_API_URL is set")
    assert (raised.value.variable, str(raised.value)) == (
        "EXAMPLE_SECRET",
        "EXAMPLE_SECRET: is required when EXAMPLE_API_URL is set",
    )


@pytest.mark.parametrize(
    ("values", "configured"),
    [({}, False), ({"EXAMPLE_TIMEOUT": " "}, False), ({"OTHER_SECRET": "x"}, False), ({"EXAMPLE_TIMEOUT": "3"}, True)],
)
def test_a_plugin_is_configured_when_any_of_its_settings_has_a_value(values: dict[str, str], configured: bool) -> None:
    assert settings(**values).any_set(("EXAMPLE_SECRET", "EXAMPLE_TIMEOUT")) is configured


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("https://api.example.com/", "https://api.example.com"),
        ("http://127.0.0.1:8001/v1", "http://127.0.0.1:8001/v1"),
    ],
)
def test_an_http_url_loses_its_trailing_slash(value: str, url: str) -> None:
    assert settings(EXAMPLE_API_URL=value).http_url("EXAMPLE_API_URL") == url


def test_an_unset_url_is_its_default_or_none() -> None:
    assert settings().http_url("EXAMPLE_API_URL", "https://api.example.com/") == "https://api.example.com"
    assert settings().http_url("EXAMPLE_API_URL") is None


@pytest.mark.parametrize("value", ["api.example.com", "ftp://api.example.com", f"{SECRET}://x"])
def test_a_url_of_another_kind_is_a_config_error_that_never_shows_it(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(EXAMPLE_API_URL=value).http_url("EXAMPLE_API_URL")
    assert str(raised.value) == "EXAMPLE_API_URL: must be an http(s) URL"
