"""The order list's query parameters, read into one typed `OrderFilter` (no SQL here: `queries` applies it).

Every filter is a query parameter, so a filtered view is a URL to share:

    /console/orders?status=pending&provider=acme&created_from=2026-12-01&q=cart-7&view=pending_long&minutes=30

Equality filters (status, provider, channel, and any `queries.ORDER_EQUALS` names) may repeat
(`status=paid&status=refunded`: either). Dates are UTC, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]`;
`created_to` as a bare date means the whole of that day. `after` is the keyset cursor of the
next page. Anything malformed is reported, never silently dropped: a dropped filter would show
more orders than the URL says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from gateway.store.rows import is_resource_id

if TYPE_CHECKING:  # the console's views pass request.args; the store needs no werkzeug at run time
    from werkzeug.datastructures import MultiDict

MAX_TEXT = 128  # longer than any id, number or reference the gateway stores
DEFAULT_PENDING_MINUTES = 30
MAX_MINUTES = 60 * 24 * 366
UNSTORABLE = "must not hold a NUL character"


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: strictly older than this order in (created_at, id) order."""

    created_at: datetime
    order_id: str

    def __str__(self) -> str:
        return f"{self.created_at.isoformat()},{self.order_id}"


@dataclass(frozen=True)
class OrderFilter:
    equals: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    q: str = ""
    view: str = ""
    minutes: int = DEFAULT_PENDING_MINUTES
    after: Cursor | None = None
    errors: Mapping[str, str] = field(default_factory=dict)  # parameter -> what is wrong with it

    def query_args(self, **changes: str | None) -> list[tuple[str, str]]:
        """These filters as query parameters (without the page cursor): for the CSV link, the next page."""
        args = [(name, value) for name, values in self.equals.items() for value in values]
        for name, moment in (("created_from", self.created_from), ("created_to", self.created_to)):
            if moment is not None:
                args.append((name, moment.strftime("%Y-%m-%dT%H:%M:%S")))
        if self.q:
            args.append(("q", self.q))
        if self.view:
            args.append(("view", self.view))
            if self.view == "pending_long":
                args.append(("minutes", str(self.minutes)))
        args.extend((name, value) for name, value in changes.items() if value is not None)
        return args


def parse(args: MultiDict[str, str], equals: Iterable[str], views: Iterable[str]) -> OrderFilter:
    errors: dict[str, str] = {}
    chosen: dict[str, tuple[str, ...]] = {}
    for name in equals:
        values = tuple(dict.fromkeys(value.strip() for value in args.getlist(name) if value.strip()))
        if any(len(value) > MAX_TEXT for value in values):
            errors[name] = f"at most {MAX_TEXT} characters"
        elif not all(map(_searchable, values)):
            errors[name] = UNSTORABLE
        elif values:
            chosen[name] = values
    created_from = _moment(args.get("created_from", ""), "created_from", errors, end_of_day=False)
    created_to = _moment(args.get("created_to", ""), "created_to", errors, end_of_day=True)
    if created_from and created_to and created_from >= created_to:
        errors["created_to"] = "must be after created_from"
    q = args.get("q", "").strip()
    if len(q) > MAX_TEXT:
        errors["q"] = f"at most {MAX_TEXT} characters"
    elif not _searchable(q):
        errors["q"] = UNSTORABLE
    view = args.get("view", "").strip()
    if view and view not in set(views):
        errors["view"] = f"no saved view {view!r}"
    minutes = _minutes(args.get("minutes", ""), errors)
    after = _cursor(args.get("after", ""), errors)
    return OrderFilter(chosen, created_from, created_to, q, view, minutes, after, errors)


def _searchable(text: str) -> bool:
    """Text a stored value could equal: PostgreSQL text holds no NUL, and a query that compares with one fails."""
    return "\x00" not in text


def _moment(text: str, name: str, errors: dict[str, str], *, end_of_day: bool) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        moment = datetime.fromisoformat(text)
    except ValueError:
        errors[name] = "must be a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM), in UTC"
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _minutes(text: str, errors: dict[str, str]) -> int:
    text = text.strip()
    if not text:
        return DEFAULT_PENDING_MINUTES
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_MINUTES:
        errors["minutes"] = f"must be a whole number of minutes from 1 to {MAX_MINUTES}"
        return DEFAULT_PENDING_MINUTES
    return int(text)


def _cursor(text: str, errors: dict[str, str]) -> Cursor | None:
    if not text:
        return None
    moment, _, order_id = text.rpartition(",")
    try:
        created_at = datetime.fromisoformat(moment)
    except ValueError:
        created_at = None
    if created_at is None or created_at.tzinfo is None or not is_resource_id(order_id):
        errors["after"] = "is not a page of this list; start again from the first page"
        return None
    return Cursor(created_at.astimezone(UTC), order_id.lower())
