"""What a rejected request to /notify may cost: a few KB of storage, and only so many per source.

Anyone can POST to /notify/<provider>. A request the provider does not vouch for (bad signature,
malformed) is recorded as a digest, its size and a bounded prefix, never whole. Each source IP may
have GATEWAY_NOTIFY_REJECTION_LIMIT rejections recorded; beyond that, its rejected requests are
answered 429 and neither stored nor logged one by one. And all sources together may have
GATEWAY_NOTIFY_REJECTION_BUDGET rejections stored, so many sources cannot fill the disk either.

The throttle is consulted only *after* the provider has verified the request: a correctly signed
notify is never refused, even from an address that also sends junk (a shared proxy, a NAT). A
verification costs a hash over at most MAX_CONTENT_LENGTH bytes; what the throttle saves is the
transaction, the row and the log line.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import cast

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from gateway.domain.ratelimit import MEMORY, key_prefix, rate, storage_uri
from gateway.plugin.provider import InboundRequest
from gateway.plugin.settings import Settings

log = logging.getLogger("gateway.notify_guard")  # the name operators' log filters know

MAX_STORED_PREFIX = 1024  # characters of the body, and of the query string, kept of a rejected request
MAX_STORED_REASON = 500
DEFAULT_PER_SOURCE = "20/minute"
DEFAULT_BUDGET = "300/minute"
UNKNOWN_SOURCE = "unknown"


@dataclass(frozen=True)
class StoredRequest:
    """What the notifications table keeps of a request."""

    query_string: str
    body: str
    digest: str  # sha256 hex of the raw query string and body, to match a request seen elsewhere
    size: int  # bytes received (query string and body)


def stored_request(request: InboundRequest, query_string: bytes, limit: int) -> StoredRequest:
    """The request as stored: its digest and size, and at most `limit` bytes each of query and body."""
    return StoredRequest(
        query_string=_text(query_string[:limit]),
        body=_text(request.body[:limit]),
        digest=hashlib.sha256(query_string + b"\n" + request.body).hexdigest(),
        size=len(query_string) + len(request.body),
    )


def _text(raw: bytes) -> str:
    # PostgreSQL text cannot hold NUL; a cut may split a UTF-8 sequence, which becomes U+FFFD.
    return raw.decode("utf-8", "replace").replace("\x00", "\\x00")


def bounded_reason(reason: str) -> str:
    """A provider's reason can quote what the sender sent (a field name): keep it short, and storable."""
    reason = reason.replace("\x00", "\\x00")  # PostgreSQL text cannot hold NUL
    return reason if len(reason) <= MAX_STORED_REASON else reason[: MAX_STORED_REASON - 1] + "…"


class RejectionThrottle:
    """Counts rejected notifies per source, in Redis when GATEWAY_REDIS_URL is set, else in memory."""

    log_once: RateLimitItem = parse("1/minute")

    def __init__(self, settings: Settings) -> None:
        self.per_source: RateLimitItem = parse(rate(settings, "GATEWAY_NOTIFY_REJECTION_LIMIT", DEFAULT_PER_SOURCE))
        self.budget: RateLimitItem = parse(rate(settings, "GATEWAY_NOTIFY_REJECTION_BUDGET", DEFAULT_BUDGET))
        self._prefix = key_prefix(settings) + ":notify-rejections"
        uri = storage_uri(settings)
        self._storage = cast(Storage, storage_from_string(uri)) if uri != MEMORY else MemoryStorage()
        self._fallback = FixedWindowRateLimiter(MemoryStorage())
        self._limiter = FixedWindowRateLimiter(self._storage)

    def admit(self, source: str | None) -> bool:
        """Count one more rejection from `source`: True while it may still be stored."""
        who = source or UNKNOWN_SOURCE
        if not self._hit(self.per_source, "source", who):
            return False
        return self._hit(self.budget, "all", "all")

    def first_refusal(self, source: str | None) -> bool:
        """True once a window per source, so a throttled flood costs one log line, not one per request."""
        return self._hit(self.log_once, "logged", source or UNKNOWN_SOURCE)

    def _hit(self, item: RateLimitItem, *keys: str) -> bool:
        try:
            return bool(self._limiter.hit(item, self._prefix, *keys))
        except Exception:  # Redis down: count in this process rather than refuse or store everything
            log.warning("rate-limit storage unreachable; counting notify rejections in memory")
            return bool(self._fallback.hit(item, self._prefix, *keys))
