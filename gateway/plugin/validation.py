"""marshmallow's error messages, flattened: the one walk every part of the gateway and its plugins uses.

marshmallow reports problems as a tree: `{"field": ["text"], "nested": {"sub": ["text"]},
"items": {0: ["text"]}, "_schema": ["text"]}`. The API names fields by dotted path
(`provider_options.app_id`), simulators answer one line of text, and some callers want the
texts alone: three views of the same walk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """`{"field": {"sub": ["text"]}}` -> `{"field.sub": ["text"]}`, under `prefix` when given.

    Schema-level messages (`_schema`) belong to the field that holds the schema (`prefix`), or
    stay `_schema` at the top. A bare text or list becomes `{prefix or "_schema": [...]}`.
    """
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for name, value in messages.items():
            key = str(name) if not prefix else f"{prefix}.{name}"
            if key == "_schema" or key.endswith("._schema"):
                key = prefix or "_schema"
            for field_name, texts in flatten_messages(value, key).items():
                flat.setdefault(field_name, []).extend(texts)
        return flat
    if isinstance(messages, (list, tuple)):
        if all(isinstance(item, str) for item in messages):
            return {prefix or "_schema": list(messages)}
        flat = {}
        for item in messages:
            for field_name, texts in flatten_messages(item, prefix).items():
                flat.setdefault(field_name, []).extend(texts)
        return flat
    return {prefix or "_schema": [str(messages)]}


def message_texts(messages: Any) -> list[str]:
    """Every text in `messages`, in order, without the fields they are about."""
    return [text for texts in flatten_messages(messages).values() for text in texts]


def describe_messages(messages: Any) -> str:
    """One line naming every field at fault: `amount: Not a valid integer.; notifyUrl: Missing data ...`."""
    return "; ".join(f"{name}: {' '.join(texts)}" for name, texts in flatten_messages(messages).items())
