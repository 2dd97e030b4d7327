"""Kit checks of a signed timestamp's window to the second, and of timestamps that are not numbers.

Part of `ProviderConformance`. They need a provider that signs timestamps
(`harness.timestamp_tolerance`) and a valid known answer signed at a known moment
(`KnownAnswer.at`): only there does the kit know the signed timestamp to the second, so it can put
the provider's clock (`Provider.clock`) exactly at the window's edge. The window is inclusive: a
notification exactly `timestamp_tolerance` old (or ahead) is accepted, one second more is refused.

The kit also puts hostile text where the known answer's timestamp is (letters, a sign, a space
inside, other scripts' digits, forty digits, nothing): the provider must refuse each as
`bad_signature` or `malformed`, never read it as a number (Python's `int` takes `+1`, ` 1` and
Arabic-Indic digits) and never fail with an error of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from gateway.plugin.clock import FixedClock
from gateway.plugin.provider import NotificationRejected, Verdict
from gateway.testing.harness import HttpRequest, KnownAnswer, ProviderHarness
from gateway.testing.live import LiveGateway

SECOND = timedelta(seconds=1)
REFUSED = (Verdict.BAD_SIGNATURE, Verdict.MALFORMED)

# Where the provider's clock is put, from the moment the known answer was signed; True: accepted.
EDGES: dict[str, tuple[Callable[[timedelta], timedelta], bool]] = {
    "exactly_the_window_late": (lambda window: window, True),
    "a_second_past_the_window": (lambda window: window + SECOND, False),
    "exactly_the_window_early": (lambda window: -window, True),
    "a_second_before_the_window": (lambda window: -(window + SECOND), False),
}

# Digits of other scripts, which str.isdigit() and int() both take.
_ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + n) for n in range(10)))
_FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + n) for n in range(10)))

# The known answer's timestamp text -> hostile text in its place.
# First those Python's int() reads as the very number signed, so that a parser that is int() alone is
# reported as accepting them.
HOSTILE_TIMESTAMPS: dict[str, Callable[[str], str]] = {
    "plus_sign": lambda stamp: "+" + stamp,
    "underscore_inside": lambda stamp: stamp[:4] + "_" + stamp[4:],
    "arabic_indic_digits": lambda stamp: stamp.translate(_ARABIC_INDIC),
    "fullwidth_digits": lambda stamp: stamp.translate(_FULLWIDTH),
    "minus_sign": lambda stamp: "-" + stamp,
    "space_inside": lambda stamp: stamp[:4] + " " + stamp[4:],
    "letters": lambda stamp: "abcdefghijklmnopqrstuvwxyz"[: len(stamp)],
    "hex_letters": lambda stamp: "deadbeef" + stamp[8:],
    "forty_digits": lambda stamp: "9" * 40,
    "empty": lambda stamp: "",
}


def timed_known_answer(harness: ProviderHarness) -> tuple[KnownAnswer, datetime, timedelta]:
    """A valid known answer with `at`, its signing moment and the declared window; skips without them."""
    window = harness.timestamp_tolerance
    if window is None:
        pytest.skip("harness.timestamp_tolerance is None: the provider signs no timestamps")
    for answer in harness.known_answers():
        if answer.valid and answer.at is not None:
            return answer, answer.at, window
    pytest.skip(
        "harness.timestamp_tolerance is declared but no valid KnownAnswer has `at`: give the moment a known "
        "answer was signed, so that the kit can judge it with the provider's clock put there"
    )


def timestamp_text(answer: KnownAnswer, at: datetime) -> str | None:
    """How the known answer writes its signed timestamp: Unix seconds, or milliseconds; None if neither."""
    request = answer.request
    places = [*request.headers.values(), *(value for _, value in request.query)]
    places.append(request.body.decode("utf-8", "replace"))
    for text in (str(int(at.timestamp())), str(int(at.timestamp() * 1000))):
        if any(text in place for place in places):
            return text
    return None


def with_timestamp(request: HttpRequest, stamp: str, hostile: str) -> HttpRequest:
    """`request` with `hostile` wherever `stamp` was: headers, query values and body."""
    return dataclasses.replace(
        request,
        headers={name: value.replace(stamp, hostile) for name, value in request.headers.items()},
        query=[(name, value.replace(stamp, hostile)) for name, value in request.query],
        body=request.body.replace(stamp.encode(), hostile.encode()),
    )


def judged(gateway: LiveGateway, request: HttpRequest) -> Verdict | None:
    """The provider's verdict on `request`: None when it verified it, the rejection's otherwise."""
    try:
        gateway.provider.verify_notification(gateway.inbound(request))
    except NotificationRejected as rejection:
        return rejection.verdict
    return None


class TimeEdgeChecks:
    @pytest.mark.parametrize("edge", list(EDGES))
    def test_the_timestamp_window_is_inclusive_to_the_second(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway], edge: str
    ) -> None:
        answer, at, window = timed_known_answer(gateway_harness)
        gateway = gateway_factory(answer.settings)
        offset, accepted = EDGES[edge]
        gateway.provider.clock = FixedClock(at + offset(window))
        verdict = judged(gateway, answer.request)
        where = f"with Provider.clock {offset(window)} from the moment known answer {answer.name!r} was signed"
        if accepted:
            assert verdict is not Verdict.BAD_SIGNATURE, (
                f"{where}, verify_notification refused it as {verdict}: timestamp_tolerance {window} is inclusive, "
                "a notification exactly that far off is inside the window (refuse only a larger difference)"
            )
        else:
            assert verdict is Verdict.BAD_SIGNATURE, (
                f"{where}, verify_notification gave {verdict}: one second past timestamp_tolerance {window} "
                "is outside the window, refuse it as BAD_SIGNATURE"
            )

    def test_a_timestamp_that_is_not_a_plain_number_is_refused(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        answer, at, _ = timed_known_answer(gateway_harness)
        stamp = timestamp_text(answer, at)
        if stamp is None:
            pytest.skip(f"known answer {answer.name!r} holds `at` neither as Unix seconds nor as milliseconds")
        gateway = gateway_factory(answer.settings)
        gateway.provider.clock = FixedClock(at)
        for kind, hostile in self.hostile_timestamps(stamp):
            request = with_timestamp(answer.request, stamp, hostile)
            try:
                verdict = judged(gateway, request)
            except Exception as exc:  # any other error is the failure reported
                pytest.fail(f"a timestamp of {kind} ({hostile!r}) made verify_notification raise {exc!r}")
            assert verdict in REFUSED, (
                f"known answer {answer.name!r} with its timestamp made {kind} ({hostile!r}) was judged {verdict}: "
                "accept only the plain ASCII digits that were signed, refuse anything else as BAD_SIGNATURE"
            )
            reply = gateway.notify(request)
            assert reply == gateway.ack(verdict), f"with a timestamp of {kind}, /notify answered {reply}"

    @staticmethod
    def hostile_timestamps(stamp: str) -> Iterator[tuple[str, str]]:
        for kind, make in HOSTILE_TIMESTAMPS.items():
            hostile = make(stamp)
            if hostile != stamp:
                yield kind.replace("_", " "), hostile
