"""Stripe's webhook signature scheme, pinned by answers computed outside this code.

PINNED_V1 was computed with OpenSSL from Stripe's documented recipe (HMAC-SHA256 over
"<t>.<raw body>", keyed with the endpoint secret), not by gateway_stripe:

    printf '%s' "1492774577.$BODY" | openssl dgst -sha256 -hmac whsec_test_secret

1492774577 is the timestamp of the example header in Stripe's webhook docs, and
whsec_test_secret the dummy secret of stripe-python's own webhook tests.
"""

from __future__ import annotations

import pytest
from gateway_stripe import signing

from tests.stripe.harness import stripe_v1 as independent_v1

SECRET = "whsec_test_secret"
ROLLED_SECRET = "whsec_rolled_secret"
T = 1492774577
BODY = b'{"id":"evt_1Mq3ZVLkdIwHu7ixk4XzZ8Gq","object":"event","type":"payment_intent.succeeded"}'
PINNED_V1 = "edf24a4ba34e9fb19007f3d7966f311257938c1a2f62d10cbe043afe55522f20"
PINNED_ROLLED_V1 = "1308e7e57943219772cb8c128fe6545f2a013171e4f1fa24c8366c91d639448f"


def test_the_recipe_the_tests_sign_with_matches_openssl() -> None:
    # tests.stripe.harness.stripe_v1 signs every known answer and test event: pinned here.
    assert independent_v1(SECRET, T, BODY) == PINNED_V1
    assert independent_v1(ROLLED_SECRET, T, BODY) == PINNED_ROLLED_V1


def test_compute_matches_openssl() -> None:
    assert signing.compute(SECRET, T, BODY) == PINNED_V1


def test_the_pinned_header_verifies_at_its_own_time() -> None:
    assert signing.verify(f"t={T},v1={PINNED_V1}", BODY, SECRET, now=T) == T


@pytest.mark.parametrize(
    "header",
    [
        f"t={T},v1={PINNED_V1}",
        f"t={T},v1={'0' * 64},v1={PINNED_V1}",  # the other signature is for a secret being rolled
        f"t={T},v1={PINNED_V1},v1={PINNED_ROLLED_V1}",
        f"t={T},v1={PINNED_V1},v0={'f' * 64}",  # test-mode v0 signatures are ignored
        f"v1={PINNED_V1}, t={T}",  # order and spaces do not matter
    ],
    ids=["one", "wrong-then-right", "right-then-rolled", "with-v0", "reordered"],
)
def test_any_matching_v1_is_enough(header: str) -> None:
    assert signing.verify(header, BODY, SECRET, now=T) == T


def test_while_rolling_each_of_the_two_secrets_verifies_the_same_header() -> None:
    header = f"t={T},v1={PINNED_V1},v1={PINNED_ROLLED_V1}"
    assert signing.verify(header, BODY, ROLLED_SECRET, now=T) == T
    assert signing.header([SECRET, ROLLED_SECRET], BODY, T) == header


@pytest.mark.parametrize(("drift", "accepted"), [(0, True), (300, True), (-300, True), (301, False), (-301, False)])
def test_timestamps_more_than_five_minutes_away_are_refused(drift: int, accepted: bool) -> None:
    header = f"t={T},v1={PINNED_V1}"
    if accepted:
        assert signing.verify(header, BODY, SECRET, now=T + drift) == T
    else:
        with pytest.raises(signing.SignatureError, match="timestamp"):
            signing.verify(header, BODY, SECRET, now=T + drift)


def test_an_old_request_signed_correctly_for_its_time_is_still_refused() -> None:
    old = T - 3600
    header = f"t={old},v1={independent_v1(SECRET, old, BODY)}"
    with pytest.raises(signing.SignatureError, match="timestamp"):
        signing.verify(header, BODY, SECRET, now=T)


@pytest.mark.parametrize(
    ("header", "body", "secret"),
    [
        (f"t={T},v1={PINNED_V1}", BODY.replace(b"succeeded", b"Succeeded"), SECRET),
        (f"t={T},v1={PINNED_V1}", BODY + b"\n", SECRET),
        (f"t={T + 1},v1={PINNED_V1}", BODY, SECRET),  # the timestamp is signed too
        (f"t={T},v1={PINNED_V1}", BODY, "whsec_another"),
        (f"t={T},v1={PINNED_V1.upper()}", BODY, SECRET),
        (f"t={T},v0={PINNED_V1}", BODY, SECRET),  # only v1 counts
        (f"t={T},v1=", BODY, SECRET),
        (f"t={T},v1=é{PINNED_V1[1:]}", BODY, SECRET),
    ],
    ids=["tampered", "appended", "other-time", "wrong-secret", "upper-hex", "v0-only", "empty-v1", "non-ascii"],
)
def test_anything_else_is_refused(header: str, body: bytes, secret: str) -> None:
    with pytest.raises(signing.SignatureError):
        signing.verify(header, body, secret, now=T)


@pytest.mark.parametrize(
    "header",
    [None, "", "   ", "garbage", f"v1={PINNED_V1}", f"t=,v1={PINNED_V1}", f"t=abc,v1={PINNED_V1}",
     f"t={T},t={T},v1={PINNED_V1}", f"t=²,v1={PINNED_V1}", f"t={T}"],
    ids=["missing", "empty", "blank", "garbage", "no-t", "empty-t", "text-t", "two-t", "unicode-digit", "no-v1"],
)  # fmt: skip
def test_missing_or_malformed_headers_are_refused(header: str | None) -> None:
    with pytest.raises(signing.SignatureError):
        signing.verify(header, BODY, SECRET, now=T)


def test_header_signs_with_the_current_time_by_default() -> None:
    header = signing.header(SECRET, BODY)
    timestamp = int(header.split(",")[0].removeprefix("t="))
    assert header == f"t={timestamp},v1={independent_v1(SECRET, timestamp, BODY)}"
    assert signing.verify(header, BODY, SECRET) == timestamp
