"""Kit checks of notifications whose fields arrive in a form body (`ProviderHarness.form_body_notifications`).

Part of `ProviderConformance`, for a harness that declares its provider may send a notification's
fields in an `application/x-www-form-urlencoded` body instead of the query string. Each check
moves the fields of the harness's own query-string notification, signature unchanged: all of them
into the body (a media type in any case, with a charset), or half of them; a body of another
media type beside them is not fields. The genuine fields are
the genuine notification wherever they are: applied, acknowledged as the provider needs. A field
sent in both places with two values, and a form body whose fields were moved about, are refused
or mean exactly what the genuine notification means.

A form body is read exactly as the gateway reads a query string (and as the URL standard reads a form):
the genuine notification's text with an empty pair (`&&`), a `&` at either end, a blank field or a bare
name added is judged the same in a form body as in the query string. A plugin whose own form parser is
stricter refuses in the body what it applies in the query string; one that drops blank fields applies in
the body what it refuses in the query string.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from urllib.parse import urlencode

import pytest

from gateway.plugin.provider import NotificationRejected, Verdict
from gateway.testing.field_variants import variants
from gateway.testing.harness import HttpRequest
from gateway.testing.hostile import REFUSED, signature_of
from gateway.testing.live import LiveGateway

FORM = "application/x-www-form-urlencoded"
# Media types ignore case (RFC 9110, 8.3.1), and a sender may name the charset.
CONTENT_TYPES = {"plain": FORM, "other_case_with_charset": "Application/X-WWW-Form-URLEncoded; charset=UTF-8"}


# The genuine notification's urlencoded text, with what a form or query string may hold besides its pairs.
ARTEFACTS: dict[str, Callable[[str], str]] = {
    "an empty pair (`&&`) inside": lambda text: text.replace("&", "&&", 1),
    "a `&` at the end": lambda text: text + "&",
    "a `&` at the start": lambda text: "&" + text,
    "a blank field of another name (`gatewaykit=`)": lambda text: text + "&gatewaykit=",
    "a bare name (`gatewaykit`, no `=`)": lambda text: text + "&gatewaykit",
}


def in_form_body(request: HttpRequest, keep_in_query: int = 0, content_type: str = FORM) -> HttpRequest:
    """`request` with its query string's fields, but the first `keep_in_query`, moved into a form body."""
    query = list(request.query)
    headers = {name: value for name, value in request.headers.items() if name.lower() != "content-type"}
    return dataclasses.replace(
        request,
        method="POST",
        query=tuple(query[:keep_in_query]),
        headers={**headers, "Content-Type": content_type},
        body=urlencode(query[keep_in_query:]).encode(),
    )


class FormNotificationChecks:
    @pytest.fixture
    def form_gateway(self, gateway_under_test: LiveGateway) -> LiveGateway:
        harness = gateway_under_test.harness
        if not harness.form_body_notifications:
            pytest.skip("the harness does not declare form_body_notifications")
        return gateway_under_test

    @pytest.mark.parametrize("content_type", sorted(CONTENT_TYPES))
    def test_a_notification_in_a_form_body_is_applied(self, form_gateway: LiveGateway, content_type: str) -> None:
        gateway = form_gateway
        order = gateway.new_order()
        genuine = gateway.paid_notification(order)
        assert genuine.query, "form_body_notifications: the harness's paid notification has no query string to move"
        moved = in_form_body(genuine, content_type=CONTENT_TYPES[content_type])
        reply = gateway.notify(moved)
        assert gateway.verdicts() == [Verdict.APPLIED], (
            f"the genuine paid notification, its fields in a form body ({CONTENT_TYPES[content_type]}), was "
            f"judged {gateway.verdicts()} ({reply}): read the fields of a form body as those of the query string"
        )
        assert reply == gateway.ack(Verdict.APPLIED), f"acknowledged with {reply}"
        assert gateway.order(order["id"])["status"] == "paid"

    def test_a_notification_split_between_query_and_form_body_is_applied(self, form_gateway: LiveGateway) -> None:
        gateway = form_gateway
        order = gateway.new_order()
        genuine = gateway.paid_notification(order)
        split = in_form_body(genuine, keep_in_query=len(genuine.query) // 2)
        reply = gateway.notify(split)
        assert gateway.verdicts() == [Verdict.APPLIED], (
            f"the genuine paid notification, half its fields in the query string and half in a form body, was "
            f"judged {gateway.verdicts()} ({reply})"
        )
        assert gateway.order(order["id"])["status"] == "paid"

    def test_a_body_that_is_not_a_form_is_not_read_as_fields(self, form_gateway: LiveGateway) -> None:
        gateway = form_gateway
        order = gateway.new_order()
        genuine = gateway.paid_notification(order)
        with_json = dataclasses.replace(
            genuine, method="POST", headers={**genuine.headers, "Content-Type": "application/json"}, body=b"{}"
        )
        reply = gateway.notify(with_json)
        assert gateway.verdicts() == [Verdict.APPLIED], (
            f"the genuine paid notification, with a JSON body `{{}}` beside its query string, was judged "
            f"{gateway.verdicts()} ({reply}): only a body whose Content-Type says it is a form holds fields"
        )

    def test_a_form_body_tampered_or_contradicting_the_query_is_never_applied(self, form_gateway: LiveGateway) -> None:
        gateway, harness = form_gateway, form_gateway.harness
        order = gateway.new_order()
        genuine = gateway.paid_notification(order)
        tampered = harness.tamper(genuine)
        forgeries = {"tampered, in a form body": in_form_body(tampered)}
        changed = [field for field in tampered.query if field not in list(genuine.query)]
        if changed:
            # The genuine fields in the query string; one of them again in the body, with the tampered value.
            forgeries["with a field also in a form body, another value"] = dataclasses.replace(
                genuine, headers={**genuine.headers, "Content-Type": FORM}, body=urlencode(changed[:1]).encode()
            )
        for what, forged in forgeries.items():
            reply = gateway.notify(forged)
            assert gateway.verdicts()[-1] in REFUSED, (
                f"a paid notification {what} was judged {gateway.verdicts()[-1]} ({reply}): only the exact "
                "signature of the exact fields is a notification, wherever its fields arrive"
            )
            assert gateway.order(order["id"])["status"] == "pending", f"{what}: the order was paid"
        gateway.notify(in_form_body(genuine))
        assert gateway.verdicts()[-1] == Verdict.APPLIED, f"the genuine one in a form body, after: {gateway.verdicts()}"

    def test_a_form_body_with_its_fields_moved_is_refused_or_means_the_same(self, form_gateway: LiveGateway) -> None:
        gateway, harness = form_gateway, form_gateway.harness
        order = gateway.new_order()
        genuine = gateway.paid_notification(order)
        found = signature_of(genuine, harness.unsigned(genuine))
        signature_field = next((name for name, value in genuine.query if found and value == found[0]), None)
        moved = in_form_body(genuine)
        meaning = gateway.provider.verify_notification(gateway.inbound(moved))
        for what, variant in variants(moved, in_form_body(harness.tamper(genuine)), signature_field):
            try:
                read = gateway.provider.verify_notification(gateway.inbound(variant))
            except NotificationRejected:
                continue
            assert read == meaning, (
                f"the genuine paid notification in a form body with its {what}, signature unchanged, was read as "
                f"{read}, not refused and not as the genuine one ({meaning})"
            )

    def test_a_form_body_is_read_as_the_query_string_is(self, form_gateway: LiveGateway) -> None:
        gateway = form_gateway
        for what, change in ARTEFACTS.items():
            judged: dict[str, tuple[str, int]] = {}
            for where in ("the query string", "a form body"):
                order = gateway.new_order()
                genuine = gateway.paid_notification(order)
                text = change(urlencode(list(genuine.query)))
                before = len(gateway.verdicts())
                headers = {name: value for name, value in genuine.headers.items() if name.lower() != "content-type"}
                if where == "the query string":  # sent raw: the gateway's own parser reads it
                    response = gateway.client.open(
                        gateway.notify_path, method=genuine.method, query_string=text, headers=genuine.headers
                    )
                else:
                    response = gateway.client.open(
                        gateway.notify_path, method="POST", headers={**headers, "Content-Type": FORM}, data=text
                    )
                verdicts = gateway.verdicts()
                recorded = verdicts[-1] if len(verdicts) > before else "nothing recorded"
                judged[where] = (recorded, response.status_code)
            assert judged["the query string"] == judged["a form body"], (
                f"the genuine paid notification's fields with {what} were judged {judged['the query string']} "
                f"(verdict, status) in the query string and {judged['a form body']} in a form body: read a form "
                "body as the query string is read (empty pairs skipped, blank and bare names kept as blank fields)"
            )
