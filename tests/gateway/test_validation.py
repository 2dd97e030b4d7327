"""gateway.plugin.validation: marshmallow's error tree flattened, as field paths, texts or one line."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gateway.plugin.validation import describe_messages, flatten_messages, message_texts


class Options(Schema):
    app_id = fields.String(required=True, validate=validate.Length(max=4))

    @validates_schema
    def _whole(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("app_id") == "bad":
            raise ValidationError("these options do not go together")


class Order(Schema):
    amount = fields.Integer(required=True, strict=True)
    options = fields.Nested(Options)
    channels = fields.List(fields.String(validate=validate.OneOf(["card"])))


def messages(data: dict[str, Any]) -> Any:
    return Order().validate(data)


def test_nested_fields_become_dotted_paths_and_list_items_their_index() -> None:
    problems = messages({"amount": "12", "options": {"app_id": "toolong"}, "channels": ["card", "cash"]})
    assert flatten_messages(problems) == {
        "amount": ["Not a valid integer."],
        "options.app_id": ["Longer than maximum length 4."],
        "channels.1": ["Must be one of: card."],
    }


def test_a_schema_level_message_belongs_to_the_field_holding_the_schema() -> None:
    problems = messages({"amount": 1, "options": {"app_id": "bad"}})
    assert flatten_messages(problems) == {"options": ["these options do not go together"]}
    assert flatten_messages(problems, "provider") == {"provider.options": ["these options do not go together"]}


@pytest.mark.parametrize(
    ("problems", "flat"),
    [
        (["one", "two"], {"_schema": ["one", "two"]}),
        ("alone", {"_schema": ["alone"]}),
        ({"_schema": ["whole"]}, {"_schema": ["whole"]}),
    ],
)
def test_messages_without_a_field_are_the_schemas(problems: Any, flat: dict[str, list[str]]) -> None:
    assert flatten_messages(problems) == flat


def test_the_texts_alone_and_one_line_naming_every_field() -> None:
    problems = messages({"options": {"app_id": "toolong"}})
    assert message_texts(problems) == ["Missing data for required field.", "Longer than maximum length 4."]
    assert describe_messages(problems) == (
        "amount: Missing data for required field.; options.app_id: Longer than maximum length 4."
    )
