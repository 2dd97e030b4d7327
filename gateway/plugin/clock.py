"""Time in one place: everything the gateway stores or returns is UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class Clock:
    """The gateway's clock as a provider reads it (`Provider.clock`): what a signed timestamp or a
    replay window is judged against, never `time.time()`, so that tests and the conformance kit can
    fix it (`FixedClock`) and pin known answers and windows."""

    def now(self) -> datetime:
        """The current moment, aware, in UTC."""
        return utcnow()

    def timestamp(self) -> float:
        """`now()` as seconds since the Unix epoch (what most signature schemes carry)."""
        return self.now().timestamp()


class FixedClock(Clock):
    """A clock stopped at `at` (aware), or moved with `set`: for tests and the kit."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at


SYSTEM_CLOCK = Clock()
