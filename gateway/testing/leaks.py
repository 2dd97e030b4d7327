"""Whether a text shows a secret: whole, or a piece of it long enough to matter.

A plugin that shows "the first characters, to help the operator" has handed out part of a key; the kit
looks for the secret whole, and for any word (letters, digits, `_` and `-`) that is a piece of it holding
eight or more of its characters past the type marker that providers print openly (`sk_test_`, `whsec_`: a
dashboard shows them), six of them letters or digits (so that the dashes of a PEM armour line are no piece).
Case is ignored: a key upper-cased is the key.
"""

from __future__ import annotations

import re

SHORTEST_PIECE = 8  # characters of a secret past its type marker
_WORD = re.compile(rf"[A-Za-z0-9_-]{{{SHORTEST_PIECE},}}")
_MARKER = re.compile(r"[a-z]+_(?:test_|live_)?")  # a key's type, as providers print it: sk_test_, whsec_


def shown(secret: str, text: str) -> str | None:
    """What of `secret` `text` shows (the whole secret, or a word of it holding SHORTEST_PIECE or more of its
    characters past its type marker), or None."""
    if not secret:
        return None
    lowered, haystack = secret.lower(), text.lower()
    if lowered in haystack:
        return secret
    marker = _MARKER.match(secret)
    past = marker.end() if marker else 0
    word: str
    for word in _WORD.findall(haystack):
        at = lowered.find(word)
        while at != -1:
            private = word[max(0, past - at) :]  # the part of the word past the marker, where it sits
            if len(private) >= SHORTEST_PIECE and sum(char.isalnum() for char in private) >= 6:
                return word
            at = lowered.find(word, at + 1)
    return None
