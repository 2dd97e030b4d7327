"""How a provider plugin talks HTTP to its service: one pooled session, time-outs, transport failures typed.

A plugin's client builds one `ProviderHttp` and sends every call through `request()`. What it
gets back is either the service's `requests.Response` (any status but a redirect: judging it is
the plugin's job) or one of the contract's exceptions for the case where no answer arrived:

- `NotSent` (a `ProviderUnreachable`): no connection could be made (refused, no route, DNS, the
  connect time-out), so nothing was sent;
- `ProviderUnreachable`: the connection broke (TLS, a reset) before an answer, perhaps after sending;
- `ProviderTimeout`: the request was sent but no answer came within the read time-out, so the
  service may have acted on it.

Either one leaves the order or refund pending for reconciliation; neither is ever a refusal.

Redirects are never followed: a 3xx would re-send the signed request to wherever the answer
points, and the gateway would then believe that other host. A 3xx answer raises `OutcomeUnknown`
(code `redirect`) and is logged as an error naming the status and the host it pointed to.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.exceptions import NewConnectionError

from gateway.plugin.provider import NotSent, OutcomeUnknown, ProviderTimeout, ProviderUnreachable

log = logging.getLogger("gateway.plugin.http")  # the name operators' log filters know

# Connecting is quick or not happening; waiting longer only ties up a worker.
DEFAULT_CONNECT_TIMEOUT = 5.0
# How long a payment service may think before the outcome counts as unknown.
DEFAULT_READ_TIMEOUT = 15.0


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, and then for the answer (requests' `(connect, read)` pair)."""

    connect: float
    read: float

    @classmethod
    def reading(cls, read: float = DEFAULT_READ_TIMEOUT, connect: float = DEFAULT_CONNECT_TIMEOUT) -> Timeouts:
        """A read time-out, with the connect time-out never longer than it (a 2 s setting means 2 s at most)."""
        return cls(connect=min(connect, read), read=read)

    def pair(self) -> tuple[float, float]:
        return (self.connect, self.read)


def pooled_session(user_agent: str) -> requests.Session:
    """Pooled connections, TLS verification on (requests' default), and no automatic retries:
    creating an order or a refund is not idempotent at most providers, so a retry is a decision
    for the caller, never the transport's."""
    session = requests.Session()
    # requests reads the environment (proxies, NO_PROXY, CA bundle, ~/.netrc) on every call, scanning
    # all of os.environ: a quarter of create_order's CPU. ProviderHttp reads it once per origin instead.
    session.trust_env = False
    # One kept connection per request a worker can have in flight (gunicorn.conf.py: 128 threads):
    # beyond the pool's size urllib3 opens a new connection (a TLS handshake) and discards it after.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=128, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


class ProviderHttp:
    """A provider's HTTP transport: a `pooled_session`, `Timeouts` on every call, transport errors typed.

    `service` is the provider's name as people read it ("Example Pay"); it starts the message of
    every exception raised, which reaches API callers, so neither URLs nor credentials go in it.
    Pass `session` to use another `requests.Session` (tests, or a plugin's own adapters).
    """

    def __init__(
        self,
        service: str,
        user_agent: str,
        timeouts: Timeouts | None = None,
        *,
        session: requests.Session | None = None,
    ) -> None:
        self.service = service
        self.timeouts = timeouts or Timeouts.reading()
        self.session = session or pooled_session(user_agent)
        self._environment: dict[str, dict[str, Any]] = {}  # by origin; filled by _from_environment

    def _with_environment(self, url: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """`kwargs` over what the environment says for `url`; proxies merge by scheme, as in requests."""
        environment = self._from_environment(url)
        merged = {**environment, **kwargs}
        if "proxies" in environment and "proxies" in kwargs:
            merged["proxies"] = {**environment["proxies"], **kwargs["proxies"]}
        return merged

    def _from_environment(self, url: str) -> dict[str, Any]:
        """What requests takes from the environment for `url` (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE),
        read once per origin for a session that does not read it itself (`pooled_session`)."""
        if self.session.trust_env:
            return {}
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        settings = self._environment.get(origin)
        if settings is None:
            settings = {"proxies": get_environ_proxies(origin)}
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                settings["verify"] = bundle
            self._environment[origin] = settings
        return settings

    def request(self, method: str, url: str, *, what: str, **kwargs: Any) -> requests.Response:
        """Send one request (`kwargs` as `requests.Session.request` takes them) and return the answer.

        `what` names the call in error messages ("create_order", "POST /v1/refunds"). Raises
        ProviderUnreachable or ProviderTimeout when no answer arrived, OutcomeUnknown when the
        answer is a redirect (never followed, whatever `kwargs` say); never retries.
        """
        kwargs = {**kwargs, "allow_redirects": False}
        try:
            response = self.session.request(
                method, url, timeout=self.timeouts.pair(), **self._with_environment(url, kwargs)
            )
        except requests.ConnectTimeout as exc:  # nothing was sent
            raise NotSent(f"could not connect to {self.service} ({what})") from exc
        except requests.Timeout as exc:  # sent, and perhaps acted on
            raise ProviderTimeout(f"{self.service} did not answer {what} in {self.timeouts.read}s") from exc
        except requests.ConnectionError as exc:
            if _never_connected(exc):  # refused, or no such host: nothing was sent
                raise NotSent(f"{self.service} {what}: {type(exc).__name__}") from exc
            raise ProviderUnreachable(f"{self.service} {what}: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            raise ProviderUnreachable(f"{self.service} {what}: {type(exc).__name__}") from exc
        except OSError as exc:  # before sending: a CA bundle that is not there, say
            raise ProviderUnreachable(f"{self.service} {what}: {type(exc).__name__}") from exc
        if 300 <= response.status_code < 400:
            self._refuse_redirect(response, what)
        return response

    def _refuse_redirect(self, response: requests.Response, what: str) -> None:
        """The request reached the service, which may have acted on it, and then pointed elsewhere."""
        status = response.status_code
        target = urlsplit(response.headers.get("Location", ""))
        # The host only: a Location's path or query may carry a token. Neither the URL called nor the
        # body sent is logged (the body is signed, and may hold a key).
        log.error(
            "%s answered %s with HTTP %s, a redirect to %s; not followed, the outcome is unknown",
            self.service,
            what,
            status,
            target.netloc or "an unnamed place",
        )
        raise OutcomeUnknown(
            "redirect", f"{self.service} answered {what} with HTTP {status}, a redirect the gateway does not follow"
        )

    def post(self, url: str, *, what: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, what=what, **kwargs)

    def get(self, url: str, *, what: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, what=what, **kwargs)

    def close(self) -> None:
        self.session.close()


def _never_connected(exc: requests.ConnectionError) -> bool:
    """urllib3 failed to open the connection (NewConnectionError: refused, DNS), before any byte was sent.

    requests wraps it in a MaxRetryError (`.reason`); a proxy's failure or a reset after sending is not it.
    """
    if isinstance(exc, requests.exceptions.ProxyError | requests.exceptions.SSLError):
        return False
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, NewConnectionError)
