"""Configuration: the environment, optionally layered over a config file.

Providers read their own variables (<NAME>_*) through the same `Settings`, so the
core never needs to know their names. Values are never logged: `Settings` has no repr
of its values on purpose.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import overload
from urllib.parse import urlsplit

from gateway.plugin.destinations import forbidden_host


class ConfigError(Exception):
    """Start-up configuration is wrong. The message names the variable, never its value."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


# Shorter keys and secrets are guessable by brute force over the network (16 random characters is
# about 95 bits); start-up refuses them rather than run with a lock anyone can pick.
MIN_SECRET_LENGTH = 16
_LOOPBACK_NAMES = {"localhost"}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True, repr=False)
class Settings:
    values: Mapping[str, str]
    instance_path: str

    def __repr__(self) -> str:
        return f"Settings(<{len(self.values)} values hidden>, instance_path={self.instance_path!r})"

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of `name`, with blank values treated as unset."""
        value = self.values.get(name)
        if value is None or not str(value).strip():
            return default
        return str(value).strip()

    # -- for plugins: required settings, enabled-when-configured, URLs --

    def required(self, name: str, reason: str) -> str:
        """The value of `name`, or ConfigError naming it when unset or blank (never showing any value).

        `reason` completes "is required ...", e.g. "when any EXAMPLE_* variable is set".
        """
        value = self.get(name)
        if value is None:
            raise ConfigError(name, f"is required {reason}")
        return value

    def any_set(self, names: Iterable[str]) -> bool:
        """True when any of `names` has a value: a plugin with none of its settings stays disabled."""
        return any(self.get(name) is not None for name in names)

    @overload
    def http_url(self, name: str) -> str | None: ...
    @overload
    def http_url(self, name: str, default: str) -> str: ...
    def http_url(self, name: str, default: str | None = None) -> str | None:
        """An http:// or https:// URL without its trailing slash; ConfigError when it is anything else."""
        value = self.get(name, default)
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ConfigError(name, "must be an http(s) URL")
        return value.rstrip("/")

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.get(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(name, "must be 1 or 0")

    def number(self, name: str, default: float) -> float:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(name, "must be a number of seconds") from None
        if not 0 < value <= 600:
            raise ConfigError(name, "must be more than 0 and at most 600")
        return value

    def count(self, name: str, default: int = 0, maximum: int = 10) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) > maximum:
            raise ConfigError(name, f"must be a whole number from 0 to {maximum}")
        return int(raw)

    def names(self, name: str) -> list[str]:
        """A comma-separated list, blanks dropped."""
        return [item.strip() for item in (self.get(name) or "").split(",") if item.strip()]

    def secret(self, name: str) -> str | None:
        """A key or secret: unset (None), or at least MIN_SECRET_LENGTH characters."""
        value = self.get(name)
        if value is not None and len(value) < MIN_SECRET_LENGTH:
            raise ConfigError(name, f"must be at least {MIN_SECRET_LENGTH} characters (a long random value)")
        return value

    def service_url(self, name: str, default: str) -> str:
        """The base URL of a service the gateway sends signed requests to (a provider, the merchant's
        webhooks): https, or plain http to this machine only; never a link-local or metadata address.

        Plain http elsewhere would send signed requests and secrets in clear text; the sandbox, or a
        test rig with GATEWAY_ALLOW_PLAIN_HTTP=1, may allow it.
        """
        url = (self.get(name, default) or "").rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ConfigError(name, "must be an http(s) URL")
        try:
            host = parts.hostname
        except ValueError:  # an unclosed IPv6 bracket
            raise ConfigError(name, "must be an http(s) URL") from None
        if forbidden_host(host):
            raise ConfigError(
                name,
                "must not point at a link-local or cloud metadata address (169.254.0.0/16, fe80::/10, fd00:ec2::254)",
            )
        plain_allowed = self.sandbox or self.flag("GATEWAY_ALLOW_PLAIN_HTTP")
        if parts.scheme == "http" and not is_loopback(host) and not plain_allowed:
            raise ConfigError(
                name,
                "must use https (plain http only to 127.0.0.1, localhost or ::1, in the sandbox, "
                "or with GATEWAY_ALLOW_PLAIN_HTTP=1)",
            )
        return url

    # -- the core's own settings --

    @property
    def api_keys(self) -> list[str]:
        """GATEWAY_API_KEYS: bearer keys for /v1, each at least MIN_SECRET_LENGTH characters."""
        keys = self.names("GATEWAY_API_KEYS")
        for position, key in enumerate(keys, start=1):
            if len(key) < MIN_SECRET_LENGTH:
                # The position, never the key: the message reaches logs.
                problem = f"key {position} is shorter than {MIN_SECRET_LENGTH} characters; use long random keys"
                raise ConfigError("GATEWAY_API_KEYS", problem)
        return keys

    @property
    def sandbox(self) -> bool:
        return self.flag("GATEWAY_SANDBOX")

    @property
    def public_url(self) -> str:
        url = self.get("GATEWAY_PUBLIC_URL", "http://127.0.0.1:8000")
        assert url is not None
        if not url.startswith(("http://", "https://")):
            raise ConfigError("GATEWAY_PUBLIC_URL", "must start with http:// or https://")
        if "?" in url or "#" in url:
            raise ConfigError("GATEWAY_PUBLIC_URL", "must not have a query or fragment")
        return url.rstrip("/")

    @property
    def database_url(self) -> str:
        default = f"sqlite:///{Path(self.instance_path) / 'gateway.sqlite3'}"
        url = self.get("GATEWAY_DATABASE_URL", default)
        assert url is not None
        # Plain postgresql:// URLs would pick psycopg2, which we do not install.
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @property
    def database_pool_size(self) -> int:
        """PostgreSQL connections per process (GATEWAY_DATABASE_POOL_SIZE): a hard bound, never exceeded.

        A request holds one only while it talks to the database, never during a provider call.
        """
        size = self.count("GATEWAY_DATABASE_POOL_SIZE", 10, maximum=100)
        if size < 1:
            raise ConfigError("GATEWAY_DATABASE_POOL_SIZE", "must be a whole number from 1 to 100")
        return size

    @property
    def database_pool_timeout(self) -> int:
        """Seconds a request waits for a free pooled connection (GATEWAY_DATABASE_POOL_TIMEOUT) before it is
        answered 503 `database_busy`: a clear "try again" rather than a hung request or a 500."""
        seconds = self.count("GATEWAY_DATABASE_POOL_TIMEOUT", 30, maximum=300)
        if seconds < 1:
            raise ConfigError("GATEWAY_DATABASE_POOL_TIMEOUT", "must be a whole number of seconds from 1 to 300")
        return seconds

    def notify_url(self, provider_name: str) -> str:
        return f"{self.public_url}/notify/{provider_name}"


def require_api_keys(settings: Settings) -> None:
    """Outside the sandbox /v1 moves real money: it never starts open to anyone who can reach it."""
    if not settings.sandbox and not settings.api_keys:
        raise ConfigError(
            "GATEWAY_API_KEYS",
            "is required outside the sandbox: set it to one or more long random keys, comma-separated "
            "(e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or set GATEWAY_SANDBOX=1",
        )


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8 and ::1
    except ValueError:
        return False


def load_settings(instance_path: str, overrides: Mapping[str, object] | None = None) -> Settings:
    """Config file (GATEWAY_CONFIG_FILE, `NAME=value` lines) < environment < overrides (tests)."""
    values: dict[str, str] = {}
    config_file = (overrides or {}).get("GATEWAY_CONFIG_FILE") or os.environ.get("GATEWAY_CONFIG_FILE")
    if config_file:
        values.update(_read_env_file(str(config_file)))
    values.update(os.environ)
    values.update({key: str(value) for key, value in (overrides or {}).items()})
    return Settings(values=values, instance_path=instance_path)


def _read_env_file(path: str) -> dict[str, str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("GATEWAY_CONFIG_FILE", f"cannot read the file ({exc.strerror})") from None
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ConfigError("GATEWAY_CONFIG_FILE", f"line {number} is not NAME=value")
        values[name.strip()] = value.strip().strip('"').strip("'")
    return values
