"""Kit checks with a genuine notification's fields moved about: repeated, reordered, re-split.

Part of `ProviderConformance`. Each variant is built from the harness's own paid notification,
with its signature left as it was, so no provider writes them. A variant is judged by
`verify_notification` itself: it must either be refused (any `NotificationRejected`), or mean
exactly what the genuine notification means (an equal `Notification`). A signature scheme that
joins fields with `&` and `=` (IOTPay's MD5 over `a=1&b=2`) cannot tell `a=1&b=2` from one
field `a` holding `1&b=2`: the plugin must then refuse what it cannot read, never read it otherwise.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from gateway.plugin.provider import NotificationRejected, Verdict
from gateway.testing.harness import HttpRequest
from gateway.testing.hostile import _form, _json, signature_of
from gateway.testing.live import LiveGateway

Fields = list[tuple[str, str]]


def variants(
    genuine: HttpRequest, tampered: HttpRequest, signature_field: str | None
) -> Iterator[tuple[str, HttpRequest]]:
    """(what was done, the variant) for the fields of `genuine`'s query string, form or JSON body."""
    if genuine.query:
        for what, fields in field_variants(list(genuine.query), list(tampered.query), signature_field):
            yield f"query string {what}", dataclasses.replace(genuine, query=fields)
    form = _form(genuine.body)
    if form:
        for what, fields in field_variants(form, _form(tampered.body) or [], signature_field):
            yield f"form body {what}", dataclasses.replace(genuine, body=_encoded(fields))
    body = _json(genuine.body)
    if body is not None:
        yield "JSON body with its keys reversed", dataclasses.replace(genuine, body=_json_text(reversed(body.items())))
        first = next(iter(body), None)
        if first is not None:
            repeated = [(first, body[first]), *body.items()]
            yield f"JSON body with {first!r} repeated", dataclasses.replace(genuine, body=_json_text(repeated))


def field_variants(fields: Fields, tampered: Fields, signature_field: str | None) -> Iterator[tuple[str, Fields]]:
    signed = [(name, value) for name, value in fields if name != signature_field]
    yield "reversed", list(reversed(fields))
    if signed:
        yield f"with {signed[0][0]!r} repeated (same value)", [signed[0], *fields]
    for name, value in tampered:
        if (name, value) not in fields and name != signature_field:
            # The other value first: a plugin that checks the signature over one copy and reads the other.
            yield f"with {name!r} sent twice, another value first", [(name, value), *fields]
            break
    # Re-split: two neighbours (in the order sent, and in name order, as signature schemes sort them)
    # become one field holding `a&b=c`, or one name holding `a=b`: `a=1&b=2` stays the same text.
    orders = [signed, sorted(signed)]
    seen: set[tuple[str, str]] = set()
    for order in orders:
        for (left, left_value), (right, right_value) in itertools.pairwise(order):
            if (left, right) in seen:
                continue
            seen.add((left, right))
            rest = [field for field in fields if field not in ((left, left_value), (right, right_value))]
            yield (
                f"with {left!r} and {right!r} joined at '&'",
                [(left, f"{left_value}&{right}={right_value}"), *rest],
            )
            yield f"with {left!r} and {right!r} re-split at '='", [(f"{left}={left_value}&{right}", right_value), *rest]


def _encoded(fields: Fields) -> bytes:
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in fields).encode()


def _json_text(items: Any) -> bytes:
    # Repeated keys are legal JSON text; json.dumps of a dict could not write them.
    return ("{" + ", ".join(f"{json.dumps(key)}: {json.dumps(value)}" for key, value in items) + "}").encode()


class FieldVariantChecks:
    def test_a_notification_with_its_fields_moved_is_refused_or_means_the_same(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = gateway.new_order()
        genuine = gateway.paid_notification(order)
        meaning = gateway.provider.verify_notification(gateway.inbound(genuine))
        found = signature_of(genuine, harness.unsigned(genuine))
        signature_field = self.field_named(genuine, found[0]) if found else None
        judged = 0
        for what, variant in variants(genuine, harness.tamper(genuine), signature_field):
            judged += 1
            try:
                read = gateway.provider.verify_notification(gateway.inbound(variant))
            except NotificationRejected:
                continue
            assert read == meaning, (
                f"the genuine paid notification with its {what}, signature unchanged, was read as {read}, "
                f"not refused and not as the genuine one ({meaning}): read fields exactly as the signature "
                "covered them, and refuse (MALFORMED or BAD_SIGNATURE) a message that can be read two ways"
            )
        if not judged:
            pytest.skip("the notification has no query string, form or JSON body fields to move")
        reply = gateway.notify(genuine)
        assert gateway.verdicts() == [Verdict.APPLIED], f"the genuine notification, after them: {reply}"

    @staticmethod
    def field_named(request: HttpRequest, signature: str) -> str | None:
        """The name of the query or form field that holds `signature` (None: a header or JSON)."""
        for name, value in [*request.query, *(_form(request.body) or [])]:
            if value == signature:
                return name
        return None
