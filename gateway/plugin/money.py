"""Money is an int of minor units plus an ISO-4217 code; never a float.

Decimal text from a user ("28.56") goes through `parse_major_units`, which refuses any
digit the currency cannot hold instead of rounding it away.
"""

from __future__ import annotations

import re
from decimal import Decimal

from gateway.plugin.iso4217 import EXPONENTS

# ISO 4217 minor-unit exponents: a currency missing there is unknown to the gateway.
CURRENCY_EXPONENTS = EXPONENTS

MAX_MINOR_UNITS = 2**31 - 1  # amounts travel as 32-bit ints at several providers

_PLAIN_DECIMAL = re.compile(r"\d{1,12}(\.\d{1,12})?", re.ASCII)


class InvalidAmount(ValueError):
    """The text is not an amount this currency can hold; the message says why."""


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise InvalidAmount(f"unknown currency {currency!r}") from None


def iso_currencies(*codes: str) -> dict[str, int]:
    """{code: ISO exponent} for a provider that counts minor units as ISO 4217 does."""
    return {code: exponent(code) for code in codes}


def parse_major_units(text: str, currency: str, places: int | None = None) -> int:
    """'28.56' CAD -> 2856. Plain digits only: no sign, exponent, NaN, spaces or thousands separators.

    `places` overrides the ISO exponent when a provider counts the currency differently.
    """
    places = exponent(currency) if places is None else places
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise InvalidAmount("must be plain decimal text such as 28.56")
    value = Decimal(text)
    fraction_digits = -value.as_tuple().exponent  # type: ignore[operator]
    if fraction_digits > places:
        raise InvalidAmount(f"{currency} has at most {places} decimal places")
    minor = int(value.scaleb(places))
    if not 0 < minor <= MAX_MINOR_UNITS:
        largest = Decimal(MAX_MINOR_UNITS).scaleb(-places)
        raise InvalidAmount(f"must be more than 0 and at most {largest}")
    return minor


def format_major_units(minor: int, currency: str, places: int | None = None) -> str:
    """2856 CAD -> '28.56' (for humans; never parsed back)."""
    return str(Decimal(minor).scaleb(-(exponent(currency) if places is None else places)))
