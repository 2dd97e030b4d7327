"""IOTPay's payment notify loaded as `schemas.PaymentNotify` loads it, without marshmallow's per-field
machinery for the notify IOTPay actually sends (a tenth of a duplicate notify's CPU).

The schema stays the one definition: the fields, their wire names and which are required are read
from it once, and the shortcut is taken only where its answer is the schema's own, checked field by
field (text as received, numbers as plain ASCII digits in range, the order number's length). Anything
else, an error above all, is loaded by the schema, so its messages are unchanged. If the schema ever
has a field or validator this module does not know, the shortcut is off altogether (`SHORTCUT`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import fields, missing, validate

from gateway_iotpay import schemas

SCHEMA = schemas.PaymentNotify()  # built once: a schema's constructor costs more than a load
_NUMBERS = ("amount", "status")  # attribute names of the two integer fields
_DIGITS = re.compile(r"[0-9]{1,10}")  # what int() reads as marshmallow's Integer would, and no more
_NUMBER_MAX = 30  # mchOrderNo's Length(min=1, max=30)


def _shape() -> tuple[tuple[tuple[str, str], ...], frozenset[str]] | None:
    """(wire name, attribute) of the text fields, and the required wire names; None if the schema is
    not the shape the shortcut knows (then every notify goes through the schema)."""
    text: list[tuple[str, str]] = []
    required: set[str] = set()
    for attribute, field in SCHEMA.load_fields.items():
        key = field.data_key or attribute
        if field.required:
            required.add(key)
        if field.allow_none or field.load_default is not missing:
            return None
        if attribute == "amount":
            known = type(field) is fields.Integer and not field.strict and _is_range(field.validators)
        elif attribute == "status":
            known = type(field) is fields.Integer and not field.strict and not field.validators
        elif attribute == "mch_order_no":
            known = type(field) is fields.String and _is_number_length(field.validators)
        else:
            known = type(field) is fields.String and not field.validators
        if not known:
            return None
        if attribute not in _NUMBERS:
            text.append((key, attribute))
    hooks = getattr(SCHEMA, "_hooks", None)  # a hook (pre_load, validates_schema ...) could change anything
    if not {*_NUMBERS, "mch_order_no"} <= SCHEMA.load_fields.keys() or hooks is None or any(hooks.values()):
        return None
    return tuple(text), frozenset(required)


def _is_range(validators: list[Any]) -> bool:
    [only] = validators if len(validators) == 1 else [None]
    return isinstance(only, validate.Range) and (only.min, only.max, only.min_inclusive, only.max_inclusive) == (
        0,
        schemas.MAX_AMOUNT,
        True,
        True,
    )


def _is_number_length(validators: list[Any]) -> bool:
    [only] = validators if len(validators) == 1 else [None]
    return isinstance(only, validate.Length) and (only.min, only.max, only.equal) == (1, _NUMBER_MAX, None)


SHORTCUT = _shape()


def load(params: Mapping[str, str]) -> dict[str, Any]:
    """`SCHEMA.load(params)`: the same dict, or the same ValidationError."""
    if SHORTCUT is not None:
        text, required = SHORTCUT
        amount, status, number = params.get("amount"), params.get("status"), params.get("mchOrderNo")
        if (
            isinstance(amount, str)
            and isinstance(status, str)
            and isinstance(number, str)
            and _DIGITS.fullmatch(amount)
            and _DIGITS.fullmatch(status)
            and int(amount) <= schemas.MAX_AMOUNT
            and 0 < len(number) <= _NUMBER_MAX
            and required <= params.keys()
            and all(isinstance(params[key], str) for key, _ in text if key in params)
        ):
            loaded: dict[str, Any] = {attribute: params[key] for key, attribute in text if key in params}
            loaded["amount"], loaded["status"] = int(amount), int(status)
            return loaded
    loaded_by_schema: dict[str, Any] = SCHEMA.load(params)
    return loaded_by_schema
