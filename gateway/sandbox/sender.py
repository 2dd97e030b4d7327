"""A simulator's notifications: sent from background threads and retried until acknowledged."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

log = logging.getLogger(__name__)

# Seconds between tries, after the first: quick at first (the receiver restarting), then patient.
DEFAULT_RETRY_DELAYS = (0.5, 1, 2, 5, 10, 30, 60, 120)
DEFAULT_TIMEOUT = 10.0
_KEPT = 200  # characters of an error or an answer worth keeping in the simulator's state


@dataclass(frozen=True)
class Outgoing:
    """One POST: to `url`, with `params` in the query string and `body` as it is sent."""

    url: str
    body: bytes | None = None
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Attempt:
    """One try, as a simulator shows it: when, the HTTP status and answer, or why there was none."""

    at: str  # ISO 8601, UTC, milliseconds
    http_status: int | None
    error: str | None  # no answer: the exception, e.g. "ConnectionError: ..."
    body: str | None  # the start of the answer


def answered_2xx(response: requests.Response) -> bool:
    """The usual acknowledgement: any 2xx status."""
    return 200 <= response.status_code < 300


class BackgroundSender:
    """Delivers messages from daemon threads, at once and then after each of `retry_delays`, until acknowledged.

    A thread, never inline: the receiver is often the gateway served by the very process the
    simulator is mounted in, and a synchronous call would wait on itself. `close()` stops the
    retries and waits for deliveries in flight (tests, orderly shutdown). `name` starts the
    threads' names and log lines.
    """

    def __init__(
        self, name: str, retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.name = name
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._stopping = threading.Event()
        self._deliveries: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def send(
        self,
        key: str,
        message: Callable[[], Outgoing],
        *,
        acknowledged: Callable[[requests.Response], bool] = answered_2xx,
        on_attempt: Callable[[Attempt], None] | None = None,
        on_acknowledged: Callable[[], None] | None = None,
        held: Callable[[], bool] | None = None,
    ) -> None:
        """Start delivering `message()` (built afresh for every try, so a signature can carry its time).

        `key` names the delivery (an order or event id) in thread names and logs. `acknowledged`
        judges an answer; `on_attempt` is told of every try, `on_acknowledged` of the success.
        While `held()` is true no try is made (a test keeping notifications back); it is asked
        again every 50 ms.
        """
        thread = threading.Thread(
            target=self._deliver,
            args=(key, message, acknowledged, on_attempt, on_acknowledged, held),
            name=f"{self.name}-{key}",
            daemon=True,
        )
        with self._lock:
            self._deliveries = {t for t in self._deliveries if t.is_alive()} | {thread}
        thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop retrying and wait up to `timeout` seconds for each delivery in flight."""
        self._stopping.set()
        with self._lock:
            threads = list(self._deliveries)
        for thread in threads:
            thread.join(timeout)

    def _deliver(
        self,
        key: str,
        message: Callable[[], Outgoing],
        acknowledged: Callable[[requests.Response], bool],
        on_attempt: Callable[[Attempt], None] | None,
        on_acknowledged: Callable[[], None] | None,
        held: Callable[[], bool] | None,
    ) -> None:
        try:
            with requests.Session() as session:
                for delay in (0.0, *self.retry_delays):
                    if self._stopping.wait(delay):
                        return
                    while held is not None and held():
                        if self._stopping.wait(0.05):
                            return
                    outgoing = message()
                    attempt, response = self._attempt(session, outgoing)
                    if on_attempt is not None:
                        on_attempt(attempt)
                    if response is not None and acknowledged(response):
                        if on_acknowledged is not None:
                            on_acknowledged()
                        return
            log.warning("%s gave up delivering %s to %s", self.name, key, outgoing.url)
        except Exception:  # a background thread has nobody to raise to
            log.exception("%s: delivery of %s crashed", self.name, key)

    def _attempt(self, session: requests.Session, outgoing: Outgoing) -> tuple[Attempt, requests.Response | None]:
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            response = session.post(
                outgoing.url,
                params=outgoing.params,
                data=outgoing.body,
                headers=dict(outgoing.headers),
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            return Attempt(at, http_status=None, error=f"{type(exc).__name__}: {exc}"[:_KEPT], body=None), None
        return Attempt(at, http_status=response.status_code, error=None, body=response.text[:_KEPT]), response
