"""Per-client-IP rate limits (Flask-Limiter), shared by every worker through Redis when configured.

The client IP is `request.remote_addr`, which ProxyFix has already set to the real client's
address behind GATEWAY_TRUSTED_PROXIES. Counters live in Redis (GATEWAY_REDIS_URL), so all
workers and machines of one deployment count together, or in process memory otherwise; if Redis
stops answering, each process falls back to counting in memory rather than failing requests.
"""

from __future__ import annotations

import hashlib

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from gateway.settings import ConfigError, Settings

MEMORY = "memory://"


def storage_uri(settings: Settings) -> str:
    url = settings.get("GATEWAY_REDIS_URL")
    if url is None:
        return MEMORY
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("GATEWAY_REDIS_URL", "must be a redis://, rediss:// or unix:// URL")
    return url


def key_prefix(settings: Settings) -> str:
    """Deployments sharing one Redis keep their counters apart; machines of one deployment share them."""
    return "gateway:" + hashlib.sha256(settings.public_url.encode()).hexdigest()[:12]


def rate(settings: Settings, name: str, default: str) -> str:
    """A limit such as `60/minute` or `100 per hour; 10/second`, checked at start-up."""
    value = settings.get(name, default)
    assert value is not None
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(name, "must be a rate such as 60/minute or 1000 per hour") from None
    return value


def build_limiter(app: Flask, settings: Settings) -> Limiter:
    return Limiter(
        get_remote_address,
        app=app,
        storage_uri=storage_uri(settings),
        key_prefix=key_prefix(settings),
        strategy="moving-window",  # no burst of twice the limit across a window boundary
        headers_enabled=True,  # Retry-After on a 429, X-RateLimit-* on limited routes
        in_memory_fallback_enabled=True,
    )
