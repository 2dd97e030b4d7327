"""What keeps one signed IOTPay text from being read as another set of fields.

IOTPay signs `name=value` pairs sorted and joined with `&`, empty values left out, nothing
escaped. So the signed text alone does not say where one field ends: a value holding
`&name=` can be cut into two fields, and two fields can be glued into one (a value that then
holds `&name=`, or a name that holds `&` and `=`). The split is the genuine one only when

- every name received is one IOTPay documents (so none holds `&` or `=`),
- no value holds `&` followed by a name and `=` (`PAIR_INSIDE`): the gateway never sends IOTPay
  a value it echoes that does (checked at create), and IOTPay's own values never do,
- no field the decision reads is empty (an empty field is not signed: it proves nothing).

A lone `&` ("Tea & cake") cannot start another pair and is fine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# `&`, then a name, then `=`: what would start another pair if the signed text were split there.
# Names are matched as IOTPay's are spelt and more loosely (any run of characters but `&` and
# `=`), so that no spelling of a name, case or otherwise, slips through.
PAIR_INSIDE = re.compile(r"&[^&=]+=")

# The fields of IOTPay's payment notify, as documented (and `sign`).
NOTIFY_FIELDS = frozenset(
    {
        "payOrderId", "mchId", "mchOrderNo", "channelId", "currency", "amount", "status", "clientIp",
        "device", "subject", "body", "channelOrderNo", "param1", "param2", "paySuccTime", "backType", "sign",
    }
)  # fmt: skip
# Fields a payment decision reads: each must be present and non-empty.
DECIDING_FIELDS = ("payOrderId", "mchId", "mchOrderNo", "currency", "amount", "status", "backType", "sign")

# The create_order / payForSubmit fields IOTPay sends back in its notify.
ECHOED_FIELDS = ("subject", "body", "clientIp", "device", "param1", "param2")
ECHO_MESSAGE = "must not hold '&' followed by a name and '=' (IOTPay echoes it in the signed notify)"


def holds_a_pair(value: object) -> bool:
    """True when `value`, in IOTPay's signed text, could be read as ending in another pair."""
    return isinstance(value, str) and PAIR_INSIDE.search(value) is not None


def echo_problems(params: Mapping[str, object]) -> list[str]:
    """The wire names of the echoed fields in a request whose value holds another pair."""
    return [name for name in ECHOED_FIELDS if holds_a_pair(params.get(name))]


def notify_problem(params: Mapping[str, str]) -> str | None:
    """Why a received notify cannot be the genuine split of its signed text, or None."""
    for name in params:
        if name not in NOTIFY_FIELDS:
            return f"field {name[:40]!r} is not one IOTPay's notify documents"
    for name in DECIDING_FIELDS:
        if not params.get(name):
            return f"{name} is missing or empty"
    for name, value in params.items():
        if holds_a_pair(value):
            return f"{name} holds another name=value pair"
    return None
