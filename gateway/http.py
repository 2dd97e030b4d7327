"""The HTTP session every provider plugin should talk to its service with."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter


def pooled_session(user_agent: str) -> requests.Session:
    """Pooled connections, TLS verification on (requests' default), and no automatic retries:
    creating an order or a refund is not idempotent at most providers, so a retry is a decision
    for the caller, never the transport's."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = user_agent
    return session
