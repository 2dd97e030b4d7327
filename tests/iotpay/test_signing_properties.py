"""Hypothesis properties of IOTPay signing and notify parsing, over what strangers can send.

The known-answer tests (test_signing.py) pin the exact bytes; these check the rules hold for any
input: field order never matters, empty values and `sign` are never signed, every non-empty
change breaks the signature, a notify signed over any Unicode (with `+`, `%`, `&`, `=`)
survives the trip through a query string or a form body unchanged, and no other split of a
genuine notify's signed text is ever taken for a notification.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode

from gateway_iotpay import signing, splitting
from gateway_iotpay.client import IotPayClient
from gateway_iotpay.config import IotPayConfig
from gateway_iotpay.provider import IotPayProvider
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.plugin import InboundRequest, NotificationRejected, Verdict

KEY = "9a7c3e1f5b2d4c6e8f0a1b3c5d7e9f01"
FORM = "application/x-www-form-urlencoded"
NASTY = "+%&= \u00e9\u4e2d\U0001f600\x00\n"  # what breaks naive encoders: keep it in every alphabet

# Any text that UTF-8 can carry (no lone surrogates), leaning on the characters that break encoders.
text = st.text(alphabet=st.one_of(st.sampled_from(NASTY), st.characters(blacklist_categories=("Cs",))))
names = text.filter(lambda name: name != signing.SIGN_FIELD and name != "")
values = st.one_of(text, st.integers(min_value=0, max_value=2**53))
params = st.dictionaries(names, values, max_size=12)


@given(params)
def test_field_order_never_changes_the_signature(fields: dict[str, Any]) -> None:
    reordered = dict(reversed(list(fields.items())))
    assert signing.sign(reordered, KEY) == signing.sign(fields, KEY)


@given(params, st.sampled_from(["", None]), names)
def test_empty_values_and_the_sign_field_are_never_signed(fields: dict[str, Any], empty: Any, name: str) -> None:
    assume(name not in fields)
    expected = signing.sign(fields, KEY)
    assert signing.sign({**fields, name: empty}, KEY) == expected
    assert signing.sign({**fields, signing.SIGN_FIELD: "anything"}, KEY) == expected


@given(params)
def test_the_signature_is_upper_case_md5_of_the_canonical_string_ending_with_the_key(fields: dict[str, Any]) -> None:
    canonical = signing.canonical_string(fields, KEY)
    assert canonical.endswith(f"key={KEY}")
    assert signing.sign(fields, KEY) == hashlib.md5(canonical.encode()).hexdigest().upper()
    # Every non-empty field appears once, as name=value, in code point (= UTF-8 byte) order of names.
    signed = [name for name in sorted(fields) if str(fields[name]) != ""]
    prefix = "&".join(f"{name}={fields[name]}" for name in signed)
    assert canonical == (f"{prefix}&key={KEY}" if prefix else f"key={KEY}")


@given(params, st.booleans())
def test_a_signed_set_verifies_in_either_case_of_hex(fields: dict[str, Any], lower: bool) -> None:
    sign = signing.sign(fields, KEY)
    assert signing.is_valid({**fields, signing.SIGN_FIELD: sign.lower() if lower else sign}, KEY)


@given(params.filter(lambda fields: any(str(value) != "" for value in fields.values())), st.data())
def test_changing_any_signed_value_breaks_the_signature(fields: dict[str, Any], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(n for n, value in fields.items() if str(value) != "")))
    other = data.draw(text.filter(lambda value: value not in ("", str(fields[name]))))
    received = {**fields, signing.SIGN_FIELD: signing.sign(fields, KEY)}
    assert not signing.is_valid({**received, name: other}, KEY)
    assert not signing.is_valid({**received, signing.SIGN_FIELD: signing.sign(fields, KEY + "x")}, KEY)


@given(params, text)
def test_is_valid_never_raises_on_what_a_stranger_sends(fields: dict[str, Any], sign: str) -> None:
    assert signing.is_valid({**fields, signing.SIGN_FIELD: sign}, KEY) in (True, False)


# -- notify parsing: query strings and form bodies -------------------------------------------------

REQUIRED = {
    "payOrderId": "P01",
    "mchId": "10000701",
    "mchOrderNo": "20260509123456abcdef",
    "currency": "CAD",
    "amount": "2856",
    "status": "2",
    "backType": "2",
}
# The other fields IOTPay documents for its notify, with any value the gateway could have sent (none
# holds '&' followed by a name and '=': create refuses those, see test_a_value_holding_a_pair...).
OPTIONAL = sorted(splitting.NOTIFY_FIELDS - set(REQUIRED) - {signing.SIGN_FIELD})
extra_fields = st.dictionaries(
    st.sampled_from(OPTIONAL), text.filter(lambda value: value != "" and not splitting.holds_a_pair(value)), max_size=8
)


def provider() -> IotPayProvider:
    config = IotPayConfig(
        mch_id="10000701", secret_key=KEY, api_url="https://iotpay.invalid/v1", job_no=None, wx_app_id=None, timeout=2
    )
    return IotPayProvider(config, IotPayClient(config.api_url, 2))


def notify(fields: dict[str, str], how: str, method: str = "POST") -> InboundRequest:
    items = list(fields.items())
    if how == "query":
        query, body = items, []
    elif how == "form":
        query, body = [], items
    else:  # some fields in the query string, the rest in the form body
        query, body = items[::2], items[1::2]
    encoded = urlencode(body).encode()
    headers = {"content-type": FORM} if body else {}
    return InboundRequest(method=method, path="/notify/iotpay", headers=headers, query=query, body=encoded)


@given(extra_fields, st.sampled_from(["query", "form", "split"]))
def test_a_notify_signed_over_any_unicode_survives_query_strings_and_form_bodies(
    extra: dict[str, str], how: str
) -> None:
    fields = {**REQUIRED, **extra}
    fields["sign"] = signing.sign(fields, KEY)

    notification = provider().verify_notification(notify(fields, how))

    assert (notification.merchant_order_no, notification.amount, notification.currency) == (
        "20260509123456abcdef",
        2856,
        "CAD",
    )
    assert notification.paid


@given(extra_fields.filter(bool), st.sampled_from(["query", "form", "split"]), st.data())
def test_a_notify_with_any_value_changed_on_the_way_is_refused(
    extra: dict[str, str], how: str, data: st.DataObject
) -> None:
    fields = {**REQUIRED, **extra}
    fields["sign"] = signing.sign(fields, KEY)
    name = data.draw(st.sampled_from(sorted(extra)))
    fields[name] = data.draw(text.filter(lambda value: value not in ("", extra[name])))

    try:
        provider().verify_notification(notify(fields, how))
    except NotificationRejected as rejected:
        assert rejected.verdict is Verdict.BAD_SIGNATURE
    else:
        raise AssertionError("a tampered notify was accepted")


@given(st.binary(max_size=512), st.lists(st.tuples(text, text), max_size=6), st.sampled_from([FORM, "text/plain", ""]))
def test_whatever_arrives_is_a_notification_or_a_rejection(
    body: bytes, query: list[tuple[str, str]], content_type: str
) -> None:
    request = InboundRequest(
        method="POST", path="/notify/iotpay", headers={"content-type": content_type}, query=query, body=body
    )
    try:
        provider().verify_notification(request)
    except NotificationRejected as rejected:
        assert rejected.verdict in (Verdict.BAD_SIGNATURE, Verdict.MALFORMED)


@settings(max_examples=300)
@given(extra_fields.filter(bool), st.data())
def test_no_other_split_of_a_signed_notify_is_ever_accepted(extra: dict[str, str], data: st.DataObject) -> None:
    """What an attacker holding one genuine signed set can send: the same signed text cut into other
    fields (anywhere an `&` and an `=` allow), plus any empty fields, which are never signed."""
    genuine = {**REQUIRED, **extra}
    signed = signing.canonical_string(genuine, KEY).removesuffix(f"&key={KEY}")
    amps = [i for i, char in enumerate(signed) if char == "&"]
    # Where the genuine pairs meet, and where else an `&` is: keep some of the first, add some of the second.
    joints = {len("&".join(f"{n}={v}" for n, v in sorted(genuine.items())[:i])) for i in range(1, len(genuine))}
    dropped = data.draw(st.sets(st.sampled_from(sorted(joints)), max_size=2))
    others = sorted(set(amps) - joints)
    added = data.draw(st.sets(st.sampled_from(others), max_size=2)) if others else set()
    cuts = sorted((joints - dropped) | added)
    pieces = [
        signed[start + 1 if start >= 0 else 0 : end]
        for start, end in zip([-1, *cuts], [*cuts, len(signed)], strict=True)
    ]
    fields: list[tuple[str, str]] = []
    for piece in pieces:
        equals = [i for i, char in enumerate(piece) if char == "="]
        assume(equals)
        at = data.draw(st.sampled_from(equals))
        fields.append((piece[:at], piece[at + 1 :]))
    empties = data.draw(st.lists(st.sampled_from([*REQUIRED, *OPTIONAL, "zzz"]), max_size=3))
    fields += [(name, "") for name in empties]
    assume(len({name for name, _ in fields}) == len(fields))  # the same name twice is refused anyway
    # Only a re-cut of the text counts: an empty optional field added to the genuine split changes nothing.
    assume(sorted((name, value) for name, value in fields if value) != sorted(genuine.items()))
    sent = dict(fields)
    sent["sign"] = signing.sign(genuine, KEY)
    # Only cuts that keep the signed text (and so the signature) are forgeries worth trying: a name
    # holding `&` can sort elsewhere, and then the signature alone refuses it.
    assume(signing.canonical_string(sent, KEY) == signing.canonical_string(genuine, KEY))

    try:
        provider().verify_notification(notify(sent, data.draw(st.sampled_from(["query", "form", "split"]))))
    except NotificationRejected as rejected:
        assert rejected.verdict is Verdict.MALFORMED, rejected.reason
    else:
        raise AssertionError(f"another split of a signed notify was accepted: {fields}")
