"""Where rate-limit counters live and how limits are written, for every limit of the gateway.

Counters live in Redis (GATEWAY_REDIS_URL), so all workers and machines of one deployment count
together, or in process memory otherwise. The HTTP side (Flask-Limiter on /pay) is
gateway.web.limiter; the notify throttle is gateway.notify_guard.
"""

from __future__ import annotations

import hashlib

from limits import parse_many

from gateway.plugin.settings import ConfigError, Settings

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
