"""Per-client-IP rate limits on views (Flask-Limiter), counted where gateway.domain.ratelimit says.

The client IP is `request.remote_addr`, which ProxyFix has already set to the real client's
address behind GATEWAY_TRUSTED_PROXIES. If Redis stops answering, each process falls back to
counting in memory rather than failing requests.
"""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from gateway.domain.ratelimit import key_prefix, storage_uri
from gateway.plugin.settings import Settings


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
