"""The flask-smorest Blueprint every gateway view uses, with a stricter argument parser.

webargs turns only JSONDecodeError into a 400; a body nested 100,000 deep (RecursionError) or an
integer of 5,000 digits (ValueError) would otherwise be a 500. And text that no database can
store (NUL, unpaired surrogates) is refused here, naming the field, before any row is written.
"""

from __future__ import annotations

import re
from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser

from gateway.web.errors import validation_error

UNSTORABLE = "contains characters that cannot be stored (NUL or an unpaired surrogate)"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # one scan in C, not a generator per character


class GatewayParser(FlaskParser):
    def _raw_load_json(self, req: flask.Request) -> Any:
        try:
            data = super()._raw_load_json(req)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError too
            self._handle_invalid_json_error(exc, req)  # type: ignore[arg-type]
        if data is not core.missing:
            problems = dict(_unstorable_text(data, ""))
            if problems:
                raise validation_error(problems)
        return data


def _unstorable_text(value: Any, path: str) -> Any:
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            yield path or "_schema", [UNSTORABLE]
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield from _unstorable_text(key, child)
            yield from _unstorable_text(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable_text(item, f"{path}.{index}" if path else str(index))


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]  # flask-smorest has no type hints
    ARGUMENTS_PARSER = GatewayParser()
