"""gateway.plugin.lean_schema: the API schemas load and dump exactly as marshmallow's own code does.

Each case runs twice on the same schema instance: once as it is, once with marshmallow's own
`_deserialize` / `_serialize` put back on that instance. Results and errors must be equal.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_dump, validates

from gateway.domain.schemas import NextActionSchema, OrderCreateSchema, OrderSchema
from gateway.plugin.lean_schema import LeanSchema

VALID = {"channel": "WX_APP", "amount": 2856, "currency": "CAD", "subject": "Coffee", "body": "1kg"}


def marshmallows(schema: Schema) -> Schema:
    """The same instance, loading and dumping with marshmallow's own code."""
    schema._deserialize = functools.partial(Schema._deserialize, schema)  # type: ignore[method-assign]
    schema._serialize = functools.partial(Schema._serialize, schema)  # type: ignore[method-assign]
    return schema


def outcome(load: Any, data: Any) -> Any:
    try:
        return "loaded", load(data)
    except ValidationError as error:
        return "refused", error.messages, error.valid_data


LOADS = [
    VALID,
    {**VALID, "metadata": {"cart": "42", "n": [1, {"a": None}]}, "provider_options": {"app_id": "x"}},
    {**VALID, "client_ip": "10.0.0.1", "merchant_reference": "r-1", "return_url": "https://a.example/r"},
    {**VALID, "provider": "iotpay", "account": "main"},
    {},
    {**VALID, "amount": True},
    {**VALID, "amount": 10.0},
    {**VALID, "amount": "2856"},
    {**VALID, "amount": 0},
    {**VALID, "currency": "cad"},
    {**VALID, "subject": "   "},
    {**VALID, "subject": None},
    {**VALID, "body": 5},
    {**VALID, "unknown": 1},
    {**VALID, "metadata": {"x": float("nan")}},
    {**VALID, "metadata": {"x": "y" * 5000}},
    {**VALID, "metadata": {1: "integer key"}},
    {**VALID, "metadata": ["not", "a", "dict"]},
    {**VALID, "provider_options": None},
    {k: v for k, v in VALID.items() if k != "channel"},
    ["a list"],
    "text",
]


@pytest.mark.parametrize("data", LOADS, ids=range(len(LOADS)))
def test_an_order_body_loads_as_marshmallow_loads_it(data: Any) -> None:
    lean = outcome(OrderCreateSchema().load, data)
    assert lean == outcome(marshmallows(OrderCreateSchema()).load, data)
    assert outcome(OrderCreateSchema(partial=True).load, data) == outcome(
        marshmallows(OrderCreateSchema(partial=True)).load, data
    )


def test_the_lean_load_gives_a_new_dict_of_what_was_given() -> None:
    metadata = {"cart": "42"}
    loaded = OrderCreateSchema().load({**VALID, "metadata": metadata})
    assert loaded == {**VALID, "metadata": metadata, "provider_options": {}}
    assert loaded["metadata"] is not metadata  # Dict(keys=String()) builds its own, as marshmallow does


NOW = datetime(2026, 12, 6, 10, 0, 0, 123456, tzinfo=UTC)


def order(**changes: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "id": "5f0e", "merchant_id": "default", "account_id": "iotpay", "provider": "iotpay", "channel": "WX_APP",
        "amount": 2856, "currency": "CAD", "status": "pending", "merchant_order_no": "20261206100000ab",
        "provider_order_id": "P1", "pay_params": {"appId": "wx", "sign": "s"},
        "payer_next_action": {"type": "sdk_params", "params": {"appId": "wx"}}, "return_url": None,
        "merchant_reference": None, "order_metadata": {}, "refunded_amount": 0, "paid_after_expiry": False,
        "sandbox": True, "created_at": NOW, "expires_at": NOW.replace(tzinfo=None) + timedelta(hours=2),
        "paid_at": None, "routing_rule": None, "routing_version": None,
        "attempt_list": [{"position": 1, "account": "iotpay", "outcome": "created", "started_at": NOW}],
    }  # fmt: skip
    values.update(changes)
    return SimpleNamespace(**values)


DUMPS = [
    order(),
    order(payer_next_action=None, pay_params=None, provider_order_id=None),
    order(created_at=NOW.astimezone(timezone(timedelta(hours=-5))), paid_at=NOW, status="paid"),
    order(amount=True, sandbox=0, routing_version="3"),
    {"id": "from a dict", "amount": 1, "payer_next_action": {"type": "display_qr_code", "data": "weixin://x"}},
    {"items": "a key that is also a dict method"},
]


@pytest.mark.parametrize("obj", DUMPS, ids=range(len(DUMPS)))
def test_an_order_dumps_as_marshmallow_dumps_it(obj: Any) -> None:
    assert OrderSchema().dump(obj) == marshmallows(OrderSchema()).dump(obj)
    assert OrderSchema(only=("id", "amount")).dump(obj) == marshmallows(OrderSchema(only=("id", "amount"))).dump(obj)
    assert OrderSchema(many=True).dump([obj]) == marshmallows(OrderSchema(many=True)).dump([obj])


def test_missing_attributes_are_left_out_or_take_their_dump_default() -> None:
    class Thing(LeanSchema):
        name = fields.String()
        kind = fields.String(dump_default="plain")

    assert Thing().dump(SimpleNamespace()) == {"kind": "plain"} == marshmallows(Thing()).dump(SimpleNamespace())
    assert NextActionSchema().dump({"type": "redirect_to_url", "url": "https://x"}) == {
        "type": "redirect_to_url",
        "url": "https://x",
    }


def test_hooks_still_run_as_marshmallow_runs_them() -> None:
    class Hooked(LeanSchema):
        name = fields.String()

        @validates("name")
        def _not_admin(self, value: str, **_: Any) -> None:
            if value == "admin":
                raise ValidationError("taken")

        @post_dump
        def _shout(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
            return {key: value.upper() for key, value in data.items()}

    with pytest.raises(ValidationError) as refused:
        Hooked().load({"name": "admin"})
    assert refused.value.messages == {"name": ["taken"]}
    assert Hooked().dump(SimpleNamespace(name="ann")) == {"name": "ANN"}


class Answer(LeanSchema):
    """A provider's answer: its own names, unknown fields tolerated."""

    class Meta:
        unknown = EXCLUDE

    code = fields.String(data_key="retCode", required=True, validate=lambda text: text != "odd")
    note = fields.String(data_key="retMsg", load_default="")
    amount = fields.Integer(data_key="amount", allow_none=True)


ANSWERS = [
    {"retCode": "SUCCESS"},
    {"retCode": "SUCCESS", "retMsg": "ok", "amount": "12", "new": [1]},
    {"retCode": "odd"},  # a validator returning False refuses, as marshmallow's And says
    {"retCode": 5, "amount": None},
    {"retMsg": "no code"},
]


@pytest.mark.parametrize("data", ANSWERS, ids=range(len(ANSWERS)))
def test_an_answer_with_unknown_fields_loads_as_marshmallow_loads_it(data: Any) -> None:
    assert outcome(Answer().load, data) == outcome(marshmallows(Answer()).load, data)
