"""Kit checks of a genuine paid notification with one field garbled and signed again: refused, or read
as before, never a crash or a conclusion it does not carry.

Part of `ProviderConformance`; runs when the harness implements `signed_notification` (the kit cannot
sign your notifications itself). The kit takes your genuine paid notification for an order and changes
one field of its body at a time, nested ones too, in every way `answer_fields.py` changes an answer's
(left out, null, another type, empty, over-long, a number negative, zero or huge, its name in another
case); each variant, signed again, goes to `verify_notification`. A provider never sends most of
these, but a plugin must not crash on them (the notify endpoint would answer 500 and the provider
re-send for days) nor read garbage as money or time. Each must be:

- refused (`NotificationRejected`, any verdict), or
- read as the genuine `Notification`, or with what the contract lets a plugin leave unsaid (`None`), or
- read with another order number, amount or currency (the core refuses those itself, as an unknown
  order or a mismatch), or as not paid (no conclusion at all).

Another paid time, another provider order id, or a paid notification read as cancelled is a
conclusion the provider never signed. Only a JSON or form body is garbled.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gateway.plugin.provider import Notification, NotificationRejected
from gateway.testing.answer_fields import MAX_VARIANTS, OPTIONAL, garbled
from gateway.testing.live import LiveGateway

# What the core compares with the order itself: read otherwise, the notification is refused there.
CHECKED_BY_THE_CORE = ("merchant_order_no", "amount", "currency")


def wrong(read: Any, genuine: Notification) -> str | None:
    """What is wrong with `read`, a reading of a garbled copy of the notification read as `genuine`."""
    if not isinstance(read, Notification):
        return repr(read)
    if read == genuine or not read.paid:
        return None
    unsaid = {name: getattr(genuine, name) for name in OPTIONAL if getattr(read, name, 0) is None}
    checked = {name: getattr(genuine, name) for name in CHECKED_BY_THE_CORE}
    if dataclasses.replace(read, **unsaid, **checked) == genuine:
        return None
    return repr(read)


class NotificationFieldChecks:
    def test_a_paid_notification_with_a_field_garbled_is_refused_or_read_as_before(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order = gateway.new_order()
        request = gateway.paid_notification(order)
        try:
            harness.signed_notification(request)
        except NotImplementedError:
            pytest.skip("harness.signed_notification() is not implemented: the kit cannot sign a changed notification")
        provider = gateway.provider
        genuine = provider.verify_notification(gateway.inbound(request))
        content_type = next((value for name, value in request.headers.items() if name.lower() == "content-type"), "")
        found, judged = [], 0
        for number, variant in enumerate(garbled(request.body, content_type, harness)):
            if number >= MAX_VARIANTS:
                break
            judged += 1
            changed = harness.signed_notification(dataclasses.replace(request, body=variant.body))
            try:
                read: Any = provider.verify_notification(gateway.inbound(changed))
            except NotificationRejected:
                continue
            except Exception as error:  # what the plugin raised is the finding: the notify endpoint answers 500
                read = error
            if problem := wrong(read, genuine):
                found.append(f"{variant.what}: {problem[:300]}")
        if not judged:
            pytest.skip("the paid notification has no JSON or form body to garble")
        assert not found, (
            f"your genuine paid notification is read as {genuine!r}; with one field garbled and signed again, "
            f"{len(found)} were read as neither that nor refused: {'; '.join(found[:30])}. Refuse what you cannot "
            "read (NotificationRejected(Verdict.MALFORMED)): never raise anything else, never read garbage as a time "
            "or an id"
        )
