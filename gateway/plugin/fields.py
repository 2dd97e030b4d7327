"""Marshmallow fields shared by the public API schemas and provider wire schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from gateway.plugin.clock import as_utc


class StrictInt(fields.Integer):
    """An integer that refuses bools, floats (even 10.0) and numeric strings.

    marshmallow's own ``strict=True`` still lets ``true`` through, because bool is an int.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class UtcDateTime(fields.DateTime):
    """ISO 8601 with an explicit UTC offset, also for the naive datetimes SQLite returns."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | float | None:
        return super()._serialize(as_utc(value), attr, obj, **kwargs)
