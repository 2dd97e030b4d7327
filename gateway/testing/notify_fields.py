"""Kit checks of a genuine paid notification with one field garbled and signed again: refused, or read.

Part of `ProviderConformance`. A notification the provider signed is trusted past its signature; what
the plugin makes of each field is then all that stands between a garbled one and the record. The
kit changes one field at a time of the harness's genuine paid notification (of its query string, form
body or JSON body), in the ways `answer_fields.py` garbles answers (left out, empty, over-long, a
number negative, zero or huge, text where JSON was, its name in another case), has the harness sign
it again (`ProviderHarness.signed_notification`), and hands it to `Provider.verify_notification`.

Each must be refused (`NotificationRejected`, any verdict) or read as a `Notification` whose amount is
a whole number of minor units and whose currency and order reference are text: never a crash, which
the API answers with a 500 (the provider re-sends it for days, and the field at fault is never named).
What an amount that disagrees with the order means is the core's to judge (a mismatch).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from gateway.plugin.provider import Notification, NotificationRejected
from gateway.testing.answer_fields import FORM, LEFT_OUT, _at, _other_case, _paths, _replaced, changes
from gateway.testing.harness import HttpRequest
from gateway.testing.live import LiveGateway

MAX_VARIANTS = 400  # a notification with hundreds of fields is judged on its first ones
Pairs = Sequence[tuple[str, str]]


def text_changes(value: str) -> Iterator[tuple[str, str | None]]:
    """(how, the text put in its place) for a text field; None removes it."""
    for what, changed in changes(value):
        if changed is LEFT_OUT:
            yield what, None
        elif isinstance(changed, str):
            yield what, changed
        elif isinstance(changed, (int, float)) and not isinstance(changed, bool):
            yield what, str(changed)


def _garbled_pairs(pairs: Pairs) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    for index, (name, value) in enumerate(pairs):
        before, after = list(pairs[:index]), list(pairs[index + 1 :])
        for what, text in text_changes(value):
            if text != value:
                yield f"{name!r} {what}", before + ([(name, text)] if text is not None else []) + after
        other = _other_case(name)
        if other is not None:
            yield f"{name!r} spelt {other!r}", [*before, (other, value), *after]


def garbled_notifications(request: HttpRequest) -> Iterator[tuple[str, HttpRequest]]:
    """`request` with one field of its query string, form body or JSON body changed at a time (unsigned)."""
    for what, query in _garbled_pairs(list(request.query)):
        yield f"query {what}", replace(request, query=tuple(query))
    content_type = {name.lower(): value for name, value in request.headers.items()}.get("content-type", "")
    if not request.body:
        return
    if FORM in content_type.lower():
        pairs = parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        for what, form in _garbled_pairs(pairs):
            yield f"form {what}", replace(request, body=urlencode(form).encode())
        return
    try:
        parsed = json.loads(request.body)
    except ValueError:
        return
    for path in _paths(parsed, ()):
        name = ".".join(str(part) for part in path)
        for what, value in changes(_at(parsed, path)):
            yield f"body {name!r} {what}", replace(request, body=json.dumps(_replaced(parsed, path, value)).encode())


def what_is_wrong(read: Notification) -> str | None:
    """What a notification read from a garbled one holds that no record can take."""
    if isinstance(read.amount, bool) or not isinstance(read.amount, int) or read.amount < 0:
        return f"amount {read.amount!r}, not a whole number of minor units"
    if not isinstance(read.currency, str) or not read.currency:
        return f"currency {read.currency!r}"
    if not isinstance(read.merchant_order_no, str) or not read.merchant_order_no:
        return f"merchant_order_no {read.merchant_order_no!r}"
    return None


class NotificationFieldChecks:
    def test_a_paid_notification_with_a_field_garbled_and_signed_again_is_refused_or_read_never_a_crash(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = gateway.new_order()
        genuine = harness.paid_notification(order)
        try:
            signed = harness.signed_notification(genuine)
        except NotImplementedError:
            pytest.skip("harness.signed_notification() is not implemented: no garbled notification can be signed")
        provider = gateway.provider
        expected = provider.verify_notification(gateway.inbound(genuine))
        assert provider.verify_notification(gateway.inbound(signed)) == expected, (
            "harness.signed_notification(genuine) is not read as the genuine notification: sign as your provider does"
        )
        found: list[str] = []
        for number, (what, variant) in enumerate(garbled_notifications(genuine)):
            if number >= MAX_VARIANTS:
                break
            try:
                read: Any = provider.verify_notification(gateway.inbound(harness.signed_notification(variant)))
            except NotificationRejected:
                continue
            except Exception as error:  # what the plugin raised is the finding
                found.append(f"{what}: raised {error!r}"[:300])
                continue
            problem = what_is_wrong(read) if isinstance(read, Notification) else f"returned {read!r}"
            if problem:
                found.append(f"{what}: read with {problem}"[:300])
        assert not found, (
            f"a signed paid notification with one field garbled was neither refused (NotificationRejected) nor "
            f"read as a notification a record can take, {len(found)} times: {'; '.join(found[:20])}. A crash is "
            "a 500 your provider re-sends for days: refuse what your schema cannot read as Verdict.MALFORMED"
        )
