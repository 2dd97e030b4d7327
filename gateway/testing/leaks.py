"""Whether a text shows a secret: whole, or a piece of it long enough to matter.

A plugin that shows "the first eight characters, to help the operator" has handed out eight characters
of a key; the kit looks for any run of eight or more characters of a secret standing as a word of its own
(letters, digits, `_` and `-`), beside the secret whole. The type marker that providers print openly and
that carries nothing secret (`sk_test_`, `whsec_`) is not a piece.
"""

from __future__ import annotations

import re

SHORTEST_PIECE = 8
_WORD = re.compile(rf"[A-Za-z0-9_-]{{{SHORTEST_PIECE},}}")
_MARKER = re.compile(r"[a-z]+_(?:test_|live_)?")  # a key's type, as providers print it: sk_test_, whsec_


def shown(secret: str, text: str) -> str | None:
    """What of `secret` `text` shows (the whole secret, or a word of it of SHORTEST_PIECE characters or
    more beyond its type marker), or None."""
    if not secret:
        return None
    if secret in text:
        return secret
    marker = _MARKER.match(secret)
    public = marker.group(0) if marker else ""
    return next((word for word in _WORD.findall(text) if word in secret and word not in public), None)
