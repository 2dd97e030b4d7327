"""Failed API keys and console logins, counted per client address: past the limit, 429 with Retry-After.

Only failures are counted, but once an address is over the limit every attempt from it is
refused until its window moves on, a right key too: otherwise a guesser could ignore the 429s
and still learn which guess was right. Counters live where gateway.domain.ratelimit says (Redis with
GATEWAY_REDIS_URL, so all workers and machines count together; process memory otherwise), kept
by the same `limits` library Flask-Limiter uses, in a moving window. While Redis does not answer,
the process counts in memory rather than failing requests.

The client address is `request.remote_addr`, which ProxyFix has already set to the real client's
behind GATEWAY_TRUSTED_PROXIES.
"""

from __future__ import annotations

import logging
import math
import time
from typing import cast

from flask import Flask, current_app, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from gateway.domain.ratelimit import MEMORY, key_prefix, rate, storage_uri
from gateway.plugin.settings import Settings
from gateway.web.errors import ApiError

log = logging.getLogger(__name__)

VARIABLE = "GATEWAY_AUTH_FAILURE_LIMIT"
DEFAULT_LIMIT = "20 per 10 minutes"


class Lockout:
    """One kind of failure (`scope`: "api_key", "console_login"), counted per client address."""

    def __init__(self, settings: Settings, scope: str) -> None:
        self.item: RateLimitItem = parse(rate(settings, VARIABLE, DEFAULT_LIMIT))
        self.scope = scope
        self._prefix = key_prefix(settings) + ":auth-failures"
        uri = storage_uri(settings)
        storage = cast(Storage, storage_from_string(uri)) if uri != MEMORY else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self._fallback = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self) -> int | None:
        """Seconds until this request's address may try again; None when it is not locked out."""
        keys = (self._prefix, self.scope, _address())
        try:
            if self._limiter.test(self.item, *keys):
                return None
            stats = self._limiter.get_window_stats(self.item, *keys)
        except Exception:  # Redis down: count in this process rather than refuse or fail requests
            log.warning("rate-limit storage unreachable; counting failed %s attempts in memory", self.scope)
            if self._fallback.test(self.item, *keys):
                return None
            stats = self._fallback.get_window_stats(self.item, *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def failed(self) -> None:
        """Count one failure from this request's address."""
        keys = (self._prefix, self.scope, _address())
        try:
            self._limiter.hit(self.item, *keys)
        except Exception:  # see retry_after
            log.warning("rate-limit storage unreachable; counting failed %s attempts in memory", self.scope)
            self._fallback.hit(self.item, *keys)


def _address() -> str:
    return request.remote_addr or "unknown"


API_KEY = "api_key"
CONSOLE_LOGIN = "console_login"
_EXTENSION = "gateway.lockouts"


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[_EXTENSION] = {scope: Lockout(settings, scope) for scope in (API_KEY, CONSOLE_LOGIN)}


def lockout(scope: str) -> Lockout:
    lockouts: dict[str, Lockout] = current_app.extensions[_EXTENSION]
    return lockouts[scope]


def refused(seconds: int) -> ApiError:
    return ApiError(
        429,
        "too_many_requests",
        f"Too many failed attempts from this address; retry in {seconds} seconds.",
        headers={"Retry-After": str(seconds)},
    )
