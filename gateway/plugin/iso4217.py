"""ISO 4217: every active currency code with its minor-unit exponent (the digits after the point).

The gateway counts money in these minor units. A provider that counts a currency otherwise must
say why (`ProviderInfo.exponent_notes`), or start-up refuses it: a wrong exponent moves money by a
factor of 100. Funds codes (BOV, CHE, ...) are listed because ISO lists them; precious metals and
testing codes (XAU, XTS, ...) have no minor unit and are not money the gateway takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE "
    "CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD "
    "HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP "
    "MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD "
    "SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS "
    "VED VES WST XCD XCG YER ZAR ZMW ZWG"
)

EXPONENTS: Mapping[str, int] = MappingProxyType(
    {code: places for codes, places in ((_ZERO, 0), (_TWO, 2), (_THREE, 3), (_FOUR, 4)) for code in codes.split()}
)


def disagreement(code: str, exponent: int) -> str | None:
    """Why counting `code` with `exponent` decimals is not ISO 4217; None when it is."""
    expected = EXPONENTS.get(code)
    if expected is None:
        return f"{code!r} is not an ISO 4217 currency code"
    if exponent != expected:
        return f"{code} has {expected} decimals in ISO 4217, not {exponent}"
    return None
