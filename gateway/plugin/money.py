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
_GROUPED = re.compile(r"\d{1,3}(,\d{3})*(\.\d{1,12})?", re.ASCII)  # format_money's thousands


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
    """2856 CAD -> '28.56': plain decimal text that `parse_major_units` reads back exactly."""
    return str(Decimal(minor).scaleb(-(exponent(currency) if places is None else places)))


def format_money(minor: int, currency: str, places: int | None = None) -> str:
    """How a person reads an amount: 2856 CAD -> '28.56 CAD', 500 JPY -> '500 JPY', 12345 KWD -> '12.345 KWD'.

    Major units from the ISO 4217 exponent (or `places`, for a provider that counts otherwise),
    grouped in thousands ('1,234.56 CAD'), then the code: a code, not a symbol, because ¥ is both
    JPY and CNY and $ a dozen currencies. A currency the gateway does not know is shown as what it
    is, minor units, rather than guessed at.
    """
    if places is None and currency not in CURRENCY_EXPONENTS:
        return f"{minor} {currency} (minor units)"
    return f"{Decimal(minor).scaleb(-(exponent(currency) if places is None else places)):,} {currency}"


def parse_money(text: str) -> tuple[int, str]:
    """'1,234.56 CAD' -> (123456, 'CAD'): the inverse of `format_money` for ISO currencies."""
    amount, _, currency = text.rpartition(" ")
    if not _GROUPED.fullmatch(amount):
        raise InvalidAmount("must be an amount such as 1,234.56 followed by a currency code")
    return parse_major_units(amount.replace(",", ""), currency), currency
