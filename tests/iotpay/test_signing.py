"""IOTPay MD5 signing, pinned by known answers from IOTPay's own PHP demo routine.

tests/iotpay/sign-vectors.json is a copy of shared/iotpay/sign-vectors.json: each `sign` was
computed by IOTPay's published arg_sort/create_linkstring/build_mysign under PHP 8.2, not by
this project's code, so a round trip through our own code can never make these pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gateway_iotpay import signing

VECTORS = json.loads((Path(__file__).parent / "sign-vectors.json").read_text())["vectors"]
BY_NAME = {vector["name"]: vector for vector in VECTORS}


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_canonical_string_matches_the_php_demo(vector: dict) -> None:
    assert signing.canonical_string(vector["params"], vector["key"]) == vector["string"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_sign_matches_the_php_demo(vector: dict) -> None:
    assert signing.sign(vector["params"], vector["key"]) == vector["sign"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_received_params_with_the_known_sign_verify(vector: dict) -> None:
    received = {**vector["params"], "sign": vector["sign"]}
    assert signing.is_valid(received, vector["key"])
    assert signing.is_valid({**received, "sign": vector["sign"].lower()}, vector["key"])


def test_notify_with_one_field_changed_does_not_verify() -> None:
    vector = BY_NAME["notify_paid"]
    received = {**vector["params"], "sign": vector["sign"]}
    for name in vector["params"]:
        if vector["params"][name] == "":
            continue
        tampered = {**received, name: str(vector["params"][name]) + "0"}
        assert not signing.is_valid(tampered, vector["key"]), name


def test_a_field_added_after_signing_breaks_the_signature() -> None:
    vector = BY_NAME["notify_paid"]
    received = {**vector["params"], "sign": vector["sign"], "refundAmount": "1"}
    assert not signing.is_valid(received, vector["key"])


def test_wrong_key_missing_sign_and_garbage_sign_do_not_verify() -> None:
    vector = BY_NAME["notify_paid"]
    assert not signing.is_valid({**vector["params"], "sign": vector["sign"]}, vector["key"] + "x")
    assert not signing.is_valid(dict(vector["params"]), vector["key"])
    assert not signing.is_valid({**vector["params"], "sign": ""}, vector["key"])
    assert not signing.is_valid({**vector["params"], "sign": "é" * 32}, vector["key"])


def test_empty_and_none_values_are_left_out_of_the_signature() -> None:
    key = BY_NAME["docs_abc"]["key"]
    assert signing.sign({"a": "apple", "b": "boat", "c": "cat", "d": "", "e": None}, key) == BY_NAME["docs_abc"]["sign"]


def test_values_are_signed_raw_without_url_encoding() -> None:
    assert signing.canonical_string({"subject": "Tea & cake 100%+"}, "k") == "subject=Tea & cake 100%+&key=k"


@pytest.mark.parametrize("value", [True, 1.5, {"type": "apppay"}, ["x"]])
def test_values_that_are_not_text_or_int_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        signing.sign({"x": value}, "k")
