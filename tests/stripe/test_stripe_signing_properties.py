"""Hypothesis properties of Stripe-Signature headers, and of the gateway's own Gateway-Signature."""

from __future__ import annotations

import pytest
from gateway_stripe import signing
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain import webhooks

secrets = st.text(min_size=1, max_size=40)
bodies = st.binary(max_size=2048)
timestamps = st.integers(min_value=0, max_value=10**11)
header_text = st.text(alphabet=st.sampled_from("tv01=,. -\u00e9abcdef9"), max_size=200) | st.text(max_size=200)


@given(st.lists(secrets, min_size=1, max_size=3), bodies, timestamps)
def test_a_header_signed_with_any_of_the_secrets_verifies_and_yields_its_timestamp(
    chosen: list[str], body: bytes, at: int
) -> None:
    header = signing.header(chosen, body, timestamp=at)
    for secret in chosen:
        assert signing.verify(header, body, secret, now=at) == at


@given(secrets, bodies, timestamps, st.binary(min_size=1, max_size=8))
def test_a_changed_body_never_verifies(secret: str, body: bytes, at: int, extra: bytes) -> None:
    header = signing.header(secret, body, timestamp=at)
    with pytest.raises(signing.SignatureError):
        signing.verify(header, body + extra, secret, now=at)


@given(secrets, bodies, timestamps, st.integers(min_value=301, max_value=10**6), st.booleans())
def test_a_timestamp_outside_the_tolerance_is_refused(
    secret: str, body: bytes, at: int, drift: int, later: bool
) -> None:
    header = signing.header(secret, body, timestamp=at)
    with pytest.raises(signing.SignatureError):
        signing.verify(header, body, secret, now=at + drift if later else at - drift)


@given(secrets, bodies, timestamps, st.lists(st.sampled_from(["v0=abc", "v1=" + "0" * 64, "x=1", " v1 = zz "])))
def test_extra_entries_around_a_good_v1_do_not_matter(secret: str, body: bytes, at: int, extra: list[str]) -> None:
    header = ",".join([signing.header(secret, body, timestamp=at), *extra])
    assert signing.verify(header, body, secret, now=at) == at


@given(header_text, bodies, secrets)
def test_any_stripe_signature_header_verifies_or_raises_signature_error(header: str, body: bytes, secret: str) -> None:
    try:
        timestamp = signing.verify(header, body, secret, now=1_700_000_000)
    except signing.SignatureError:
        return
    assert abs(timestamp - 1_700_000_000) <= signing.TOLERANCE  # only a header that really signs this body


# Timestamps of any size: hundreds of digits overflow a float, thousands exceed int()'s digit limit.
digit_counts = st.sampled_from([1, 10, 12, 13, 40, 309, 400, 4300, 5000])
absurd_timestamps = digit_counts.flatmap(lambda n: st.text("123456789", min_size=n, max_size=n))
headers_with_any_timestamp = st.builds(
    lambda t, v1, rest: f"t={t},v1={v1}{rest}", absurd_timestamps, st.text("0123456789abcdef", max_size=64), header_text
)


@given(header_text | headers_with_any_timestamp, bodies, secrets)
def test_any_gateway_signature_header_is_simply_valid_or_not(header: str, body: bytes, secret: str) -> None:
    assert webhooks.verify_signature(secret, header, body, now=1_700_000_000) in (True, False)


@given(headers_with_any_timestamp, bodies, secrets)
def test_any_stripe_header_with_any_timestamp_verifies_or_raises_signature_error(
    header: str, body: bytes, secret: str
) -> None:
    with pytest.raises(signing.SignatureError):
        signing.verify(header, body, secret, now=1_700_000_000)


@given(secrets, bodies, timestamps)
def test_the_gateway_signs_what_it_verifies(secret: str, body: bytes, at: int) -> None:
    assert webhooks.verify_signature(secret, webhooks.sign_payload(secret, at, body), body, now=at)
