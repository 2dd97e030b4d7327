"""notify_load.load answers exactly as schemas.PaymentNotify().load does: the same dict for any notify it
takes a shortcut for, the same error for any it does not, whatever a stranger sends."""

from __future__ import annotations

from typing import Any

import pytest
from gateway_iotpay import notify_load, schemas
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

WIRE_NAMES = [field.data_key or name for name, field in schemas.PaymentNotify().load_fields.items()]
# Numbers and near-numbers: what int() and marshmallow read differently from plain digits, or not at all.
NUMBERS = st.sampled_from(
    ["0", "2", "2856", "0012", str(schemas.MAX_AMOUNT), str(schemas.MAX_AMOUNT + 1), "99999999999", "", " 12",
     "12 ", "1_000", "+5", "-1", "1.0", "1e3", "\u0663", "\uff11", "0x1f", "nan", "12\n"]
)  # fmt: skip
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", "x" * 30, "x" * 31, "M-1", "ÿ中"]))
VALUES = st.one_of(NUMBERS, TEXT)
NOTIFIES = st.dictionaries(st.one_of(st.sampled_from(WIRE_NAMES), st.text(max_size=8)), VALUES, max_size=16)


def outcome(load: Any, params: dict[str, str]) -> tuple[str, Any]:
    try:
        return "loaded", load(params)
    except ValidationError as error:
        return "refused", error.messages


def genuine() -> dict[str, str]:
    return {
        "payOrderId": "P0123", "mchId": "10000701", "mchOrderNo": "M20260509123456", "channelId": "WX_APP",
        "currency": "CAD", "amount": "2856", "status": "2", "backType": "2", "paySuccTime": "1715258096789",
        "subject": "Coffee", "sign": "0" * 32,
    }  # fmt: skip


def test_the_shortcut_is_on_for_the_schema_as_it_is() -> None:
    # Else every notify goes through marshmallow: still right, but this module would be dead weight.
    assert notify_load.SHORTCUT is not None


@settings(max_examples=600)
@given(NOTIFIES)
def test_any_notify_loads_as_the_schema_loads_it(params: dict[str, str]) -> None:
    assert outcome(notify_load.load, params) == outcome(schemas.PaymentNotify().load, params)


@settings(max_examples=300)
@given(st.fixed_dictionaries({}, optional={name: VALUES for name in WIRE_NAMES}))
def test_a_notify_with_any_of_its_fields_changed_loads_as_the_schema_loads_it(changes: dict[str, str]) -> None:
    params = {**genuine(), **changes}
    assert outcome(notify_load.load, params) == outcome(schemas.PaymentNotify().load, params)


@pytest.mark.parametrize("missing", ["payOrderId", "mchId", "mchOrderNo", "currency", "amount", "status", "sign"])
def test_a_notify_without_a_required_field_is_refused_as_the_schema_refuses_it(missing: str) -> None:
    params = genuine()
    del params[missing]
    assert outcome(notify_load.load, params)[0] == "refused"
    assert outcome(notify_load.load, params) == outcome(schemas.PaymentNotify().load, params)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": str(schemas.MAX_AMOUNT)}, {"amount": str(schemas.MAX_AMOUNT + 1)}, {"amount": "0"},
        {"amount": "-1"}, {"amount": " 12"}, {"amount": "1_000"}, {"amount": "\u0663"}, {"amount": ""},
        {"status": "99999999999"}, {"status": "+2"}, {"mchOrderNo": "x" * 30}, {"mchOrderNo": "x" * 31},
        {"mchOrderNo": ""}, {"backType": ""}, {"param1": "a&b=c"}, {"unknown": "x"},
    ],
)  # fmt: skip
def test_the_edges_load_as_the_schema_loads_them(change: dict[str, str]) -> None:
    params = {**genuine(), **change}
    assert outcome(notify_load.load, params) == outcome(schemas.PaymentNotify().load, params)
