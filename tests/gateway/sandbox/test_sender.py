"""gateway.sandbox.BackgroundSender: a simulator's notification, retried over real HTTP until acknowledged."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from gateway.sandbox import Attempt, BackgroundSender, Outgoing
from gateway.testing.live import LiveServer
from tests.support.flows import wait_for

FAST = (0.02, 0.02, 0.02, 0.02)


@dataclass
class Receiver:
    """A merchant's endpoint: answers the scripted (status, body) replies in turn, the last one from then on."""

    replies: list[tuple[int, str]]
    received: list[Request] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request.get_data()
        self.received.append(request)
        status, body = self.replies[min(len(self.received), len(self.replies)) - 1]
        return Response(body, status)(environ, start_response)


@pytest.fixture
def sender() -> Iterator[BackgroundSender]:
    sender = BackgroundSender("test-notify", FAST, timeout=2)
    yield sender
    sender.close()


@contextmanager
def served(receiver: Receiver) -> Iterator[str]:
    server = LiveServer(receiver)
    try:
        yield server.url
    finally:
        server.stop()


def test_a_message_is_sent_again_until_acknowledged_and_then_no_more(sender: BackgroundSender) -> None:
    receiver = Receiver([(500, "oops"), (200, "not yet"), (200, "success")])
    with served(receiver) as url:
        attempts: list[Attempt] = []
        done = threading.Event()
        sender.send(
            "P01",
            lambda: Outgoing(f"{url}/notify", params={"a": "1"}),
            acknowledged=lambda response: response.text == "success",
            on_attempt=attempts.append,
            on_acknowledged=done.set,
        )
        assert done.wait(5)
        time.sleep(0.1)  # time for a fourth try, which must not come
    assert [(a.http_status, a.body, a.error) for a in attempts] == [
        (500, "oops", None),
        (200, "not yet", None),
        (200, "success", None),
    ]
    assert [(r.method, r.args.to_dict()) for r in receiver.received] == [("POST", {"a": "1"})] * 3


def test_any_2xx_acknowledges_by_default_and_each_try_is_built_afresh(sender: BackgroundSender) -> None:
    receiver = Receiver([(503, ""), (204, "")])
    built: list[int] = []

    def message() -> Outgoing:
        built.append(len(built))
        return Outgoing(url, body=b'{"n": %d}' % len(built), headers={"X-Try": str(len(built))})

    with served(receiver) as url:
        sender.send("evt_1", message)
        wait_for(lambda: len(receiver.received) == 2, what="the second try")
    assert [(r.headers["X-Try"], r.get_data()) for r in receiver.received] == [("1", b'{"n": 1}'), ("2", b'{"n": 2}')]
    assert built == [0, 1]


def test_a_receiver_that_cannot_be_reached_is_recorded_and_retried(sender: BackgroundSender) -> None:
    attempts: list[Attempt] = []
    server = LiveServer(Receiver([(200, "")]))
    url = server.url
    server.stop()  # nothing listens there any more
    sender.send("P02", lambda: Outgoing(url), on_attempt=attempts.append)
    wait_for(lambda: len(attempts) == 1 + len(FAST), what="every try")
    assert {a.http_status for a in attempts} == {None}
    assert all(a.error and a.error.startswith("ConnectionError") for a in attempts)


def test_close_stops_the_retries_and_waits_for_deliveries_in_flight() -> None:
    receiver = Receiver([(500, "")])
    sender = BackgroundSender("test-notify", (0.05, 30, 30), timeout=2)
    with served(receiver) as url:
        sender.send("P03", lambda: Outgoing(url))
        wait_for(lambda: len(receiver.received) == 2, what="the first retry")
        started = time.monotonic()
        sender.close(timeout=5)
        assert time.monotonic() - started < 1  # did not sit out the 30 s delay
    assert len(receiver.received) == 2
    assert not [t for t in threading.enumerate() if t.name.startswith("test-notify-P03")]


def test_a_crashing_callback_ends_that_delivery_without_killing_the_sender(sender: BackgroundSender) -> None:
    receiver = Receiver([(200, "")])

    def broken(attempt: Attempt) -> None:
        raise RuntimeError("the simulator's state is gone")

    with served(receiver) as url:
        sender.send("P04", lambda: Outgoing(url), on_attempt=broken)
        wait_for(lambda: len(receiver.received) == 1, what="the first delivery")
        done = threading.Event()
        sender.send("P05", lambda: Outgoing(url), on_acknowledged=done.set)
        assert done.wait(5)


def test_a_held_delivery_waits_until_released_then_goes_out(sender: BackgroundSender) -> None:
    receiver = Receiver([(200, "")])
    release = threading.Event()
    with served(receiver) as url:
        sender.send("P06", lambda: Outgoing(url), held=lambda: not release.is_set())
        time.sleep(0.2)
        assert receiver.received == []
        release.set()
        wait_for(lambda: len(receiver.received) == 1, what="the released delivery")
