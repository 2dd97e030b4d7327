"""The garbled answers the kit plays back (`answer_fields.garbled`): every field, every kind, signed again.

The built-in providers answer JSON; a form answer is covered here, where no simulator needs to send one.
"""

from __future__ import annotations

import json
from typing import Any, cast
from urllib.parse import parse_qsl

from gateway.testing.answer_fields import OVERLONG, garbled
from gateway.testing.harness import ProviderHarness


class Resigning:
    """Signs as a provider whose answers carry `sign`: over every other field, here made visible."""

    def signed_answer(self, answer: dict[str, Any]) -> dict[str, Any]:
        if "sign" not in answer:
            return answer
        return {**answer, "sign": "|".join(f"{name}={answer[name]}" for name in sorted(answer) if name != "sign")}


HARNESS = cast(ProviderHarness, Resigning())


def variants(body: bytes, content_type: str = "application/json") -> dict[str, Any]:
    return {variant.what: variant for variant in garbled(body, content_type, HARNESS)}


def test_each_field_of_a_json_answer_is_garbled_in_every_way() -> None:
    found = variants(b'{"amount": 1000, "status": "paid", "payer": {"id": "u1"}}')
    assert {
        "'amount' left out",
        "'amount' null",
        "'amount' as text",
        "'amount' negative",
        "'amount' zero",
        "'amount' huge",
        "'amount' an object",
        "'amount' a list",
        "'amount' true",
        "'amount' spelt 'AMOUNT'",
        "'status' as a number",
        "'status' empty",
        "'status' over-long",
        "'payer.id' null",
        "'payer.id' spelt 'ID'",
    } <= set(found)
    assert json.loads(found["'amount' negative"].body) == {"amount": -1000, "status": "paid", "payer": {"id": "u1"}}
    assert json.loads(found["'amount' huge"].body)["amount"] == 2**63
    assert len(json.loads(found["'status' over-long"].body)["status"]) == len("paid") + OVERLONG
    assert list(json.loads(found["'amount' spelt 'AMOUNT'"].body)) == ["AMOUNT", "status", "payer"]
    assert [what for what, variant in found.items() if variant.zero] == ["'amount' zero"]


def test_a_number_in_text_is_made_negative_zero_and_huge_as_text() -> None:
    found = variants(b'{"amount": "12.50"}')
    assert json.loads(found["'amount' as a number"].body) == {"amount": 12.5}
    assert json.loads(found["'amount' negative"].body) == {"amount": "-12.5"}
    assert json.loads(found["'amount' zero"].body) == {"amount": "0"}


def test_a_signed_answer_is_signed_again_after_each_change() -> None:
    for variant in variants(b'{"amount": 1000, "sign": "genuine"}').values():
        answer = json.loads(variant.body)
        if "sign" in answer:
            assert answer["sign"] == "|".join(f"{k}={answer[k]}" for k in sorted(answer) if k != "sign"), variant


def test_a_form_answer_is_garbled_field_by_field_and_signed_again() -> None:
    found = variants(b"amount=1000&status=paid&sign=genuine", "application/x-www-form-urlencoded; charset=utf-8")
    assert dict(parse_qsl(found["'amount' negative"].body.decode())) == {
        "amount": "-1000",
        "status": "paid",
        "sign": "amount=-1000|status=paid",
    }
    assert "status" not in dict(parse_qsl(found["'status' left out"].body.decode()))
    assert "STATUS" in dict(parse_qsl(found["'status' spelt 'STATUS'"].body.decode()))


def test_an_answer_neither_json_nor_a_form_has_nothing_to_garble() -> None:
    assert variants(b"<html>busy</html>", "text/html") == {}
