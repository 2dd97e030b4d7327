"""Kit checks of the provider's genuine paid notification with one field garbled and signed again.

Part of `ProviderConformance`. Needs `harness.signed_notification`; skipped without it.

A notification is the one message an outsider can send the gateway, and the provider's own
signature is what makes it the provider's word. Signed again by the harness, each garbled
variant reaches what the plugin makes of its fields, past the signature check: the case of a
provider that sends a field the plugin did not expect (a new format, a bug of theirs), or of a
plugin whose parser is looser than its signature. Every field of the genuine paid notification
(its query string's, its form body's, its JSON body's, nested ones too) is changed in each of the
ways `answer_fields.py` changes answers: left out, null, of another type, empty, 10,000
characters long, a number made negative, zero and 2**63, its name in another case.

Each variant must be, for `verify_notification`:
- refused (`NotificationRejected`, any verdict);
- or read as the genuine notification, with something the contract makes optional left unsaid
  (the event id, the provider's order id, the paid time: `None`, never another value);
- or read as the genuine one with another amount that is a real amount (0 to 2**63 - 1 minor
  units): the core refuses it as a `mismatch`, and the discrepancy stays visible.

Anything else (a crash, which the provider sees as a 500 and re-sends forever, a negative
amount, another order, another paid time) is a plugin that believes garbage. Each variant that
is not read as the genuine one is then delivered to the gateway, to one order: none may be
answered a 5xx or pay it, and after all of them the genuine notification must still pay it
(a refused variant must not have used up its event id).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from gateway.plugin.provider import Notification, NotificationRejected
from gateway.testing.answer_fields import Garbled, _short, json_variants, pair_variants, same_or_safe
from gateway.testing.harness import HttpRequest, ProviderHarness
from gateway.testing.live import LiveGateway

# What the core compares with the order, refusing the notification where it differs.
REFUSED_BY_THE_CORE = ("merchant_order_no", "amount", "currency", "account_id")
RECORDABLE = 2**63 - 1  # the largest amount a record holds (a signed 64-bit integer)
FORM = "application/x-www-form-urlencoded"
MAX_VARIANTS = 600  # a notification with hundreds of fields is judged on its first ones


def garbled_notifications(genuine: HttpRequest, harness: ProviderHarness) -> Iterator[tuple[str, HttpRequest, bool]]:
    """(what was changed, the variant signed again, whether it put a zero) for every field of `genuine`."""
    if genuine.query:
        for what, pairs, zero in pair_variants(list(genuine.query)):
            variant = harness.signed_notification(dataclasses.replace(genuine, query=pairs))
            yield f"query string {what}", variant, zero
    content_type = next((v for k, v in genuine.headers.items() if k.lower() == "content-type"), "")
    if genuine.body and FORM in content_type:
        form = parse_qsl(genuine.body.decode("utf-8", "replace"), keep_blank_values=True)
        for what, pairs, zero in pair_variants(form):
            variant = dataclasses.replace(genuine, body=urlencode(pairs).encode())
            yield f"form body {what}", harness.signed_notification(variant), zero
        return
    try:
        parsed = json.loads(genuine.body) if genuine.body else None
    except ValueError:
        return
    if isinstance(parsed, (dict, list)):
        for what, value, zero in json_variants(parsed):
            variant = dataclasses.replace(genuine, body=json.dumps(value).encode())
            yield f"JSON body {what}", harness.signed_notification(variant), zero


def amount_fields(genuine: HttpRequest, again: HttpRequest, other: HttpRequest) -> Iterator[tuple[str, HttpRequest]]:
    """(the field, `genuine` with a fraction of a minor unit added to it, not yet signed) for each field
    that holds the amount: the fields that differ in `other`, the same notification claiming another
    amount, and not in `again`, the same one built a second time (a time, an event id)."""
    for where, ours, twice, theirs in _field_lists(genuine, again, other):
        for (name, value), (_, same), (_, changed) in zip(ours, twice, theirs, strict=False):
            if value != changed and value == same and _number_text(value):
                pairs = [(n, finer(v) if n == name else v) for n, v in ours]
                field = f"{where} {name!r}"
                if where == "query string":
                    yield field, dataclasses.replace(genuine, query=tuple(pairs))
                else:
                    yield field, dataclasses.replace(genuine, body=urlencode(pairs).encode())
    try:
        ours_json, twice_json, theirs_json = (json.loads(r.body) for r in (genuine, again, other))
    except ValueError:
        return
    moving = {path for path, _ in _differing(ours_json, twice_json, ())}
    for path, value in _differing(ours_json, theirs_json, ()):
        if path in moving:
            continue
        variant = json.loads(genuine.body)
        parent = variant
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = float(finer(str(value))) if isinstance(value, int) else finer(value)
        field = f"JSON body {'.'.join(map(str, path))!r}"
        yield field, dataclasses.replace(genuine, body=json.dumps(variant).encode())


def _field_lists(*requests: HttpRequest) -> Iterator[tuple[Any, ...]]:
    """("query string", each request's query) and ("form body", each request's form), where the first has one."""
    if requests[0].query:
        yield ("query string", *(list(r.query) for r in requests))
    content_type = next((v for k, v in requests[0].headers.items() if k.lower() == "content-type"), "")
    if requests[0].body and FORM in content_type:
        yield ("form body", *(parse_qsl(r.body.decode("utf-8", "replace")) for r in requests))


def finer(text: str) -> str:
    """A decimal text with one more digit: a fraction of what its last digit counts ("12.50" -> "12.501")."""
    return text + "1" if "." in text else text + ".1"


def _number_text(value: str) -> bool:
    return value.replace(".", "", 1).isdigit()


def _differing(
    ours: Any, theirs: Any, path: tuple[Any, ...], *, numbers: bool = True
) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, our value) of every value that differs between two JSON values (`numbers`: only numbers,
    and texts holding one)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in ours.keys() & theirs.keys():
            yield from _differing(ours[key], theirs[key], (*path, key), numbers=numbers)
    elif isinstance(ours, list) and isinstance(theirs, list):
        for index, (mine, other) in enumerate(zip(ours, theirs, strict=False)):
            yield from _differing(mine, other, (*path, index), numbers=numbers)
    elif ours != theirs and (
        not numbers
        or (isinstance(ours, int) and not isinstance(ours, bool))
        or (isinstance(ours, str) and _number_text(ours))
    ):
        yield path, ours


def mixed(paid: HttpRequest, unpaid: HttpRequest) -> Iterator[tuple[str, HttpRequest]]:
    """(the field, `paid` with that one field as `unpaid` has it, not yet signed) for each field the two
    genuine notifications about one order hold differently (a status, an event type, a time)."""
    for where, ours, theirs in _field_lists(paid, unpaid):
        others = dict(theirs)
        for name, value in ours:
            if name in others and others[name] != value:
                pairs = [(n, others[name] if n == name else v) for n, v in ours]
                if where == "query string":
                    yield f"{where} {name!r}", dataclasses.replace(paid, query=tuple(pairs))
                else:
                    yield f"{where} {name!r}", dataclasses.replace(paid, body=urlencode(pairs).encode())
    try:
        ours_json, theirs_json = json.loads(paid.body), json.loads(unpaid.body)
    except ValueError:
        return
    for path, _ in _differing(ours_json, theirs_json, (), numbers=False):
        variant = json.loads(paid.body)
        parent, source = variant, theirs_json
        for part in path[:-1]:
            parent, source = parent[part], source[part]
        parent[path[-1]] = source[path[-1]]
        yield f"JSON body {'.'.join(map(str, path))!r}", dataclasses.replace(paid, body=json.dumps(variant).encode())


def wrong_reading(read: Any, genuine: Notification, zero: bool) -> str | None:
    """What is wrong with `read`, a reading of a garbled variant of `genuine`; None: nothing. `zero`:
    the variant put a zero in a field, which may be a value the provider really uses (IOTPay's status 0)."""
    if not isinstance(read, Notification):
        return f"read as {type(read).__name__}, not a payment notification"
    if not (isinstance(read.amount, int) and not isinstance(read.amount, bool) and 0 <= read.amount <= RECORDABLE):
        return f"an amount of {read.amount!r}, which no order holds"
    if genuine.paid and not read.paid and not read.cancelled:
        # It concludes less (not paid, the verdict `ignored`): that changes nothing.
        read = dataclasses.replace(read, paid=True, paid_at=genuine.paid_at)
    # What differs from the order in these, the core refuses (a mismatch, an unknown order): no harm done.
    refused = {name: getattr(genuine, name) for name in REFUSED_BY_THE_CORE}
    if same_or_safe(dataclasses.replace(read, **refused), genuine, Garbled("", b"", zero=zero)) is None:
        return None
    return repr(read)


def pays_as_genuine(read: Notification, genuine: Notification) -> bool:
    return read.paid and all(getattr(read, name) == getattr(genuine, name) for name in REFUSED_BY_THE_CORE)


class NotificationFieldChecks:
    def test_a_notification_garbled_field_by_field_is_refused_or_read_as_the_genuine_one(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order, genuine = self.signable(gateway)
        meaning = gateway.provider.verify_notification(gateway.inbound(genuine))
        found: list[str] = []
        delivered = 0
        for number, (what, variant, zero) in enumerate(garbled_notifications(genuine, harness)):
            if number >= MAX_VARIANTS:
                break
            problem = self.read(gateway, variant, meaning, zero)
            if problem == "genuine":
                continue  # it would pay the order, as the genuine one does
            if problem is not None:
                found.append(f"{what}: {problem}")
                continue
            delivered += 1
            try:
                reply = gateway.notify(variant)
            except Exception as error:  # what the gateway raised is the finding
                found.append(f"{what}: the gateway raised {error!r}")
                continue
            if reply.status >= 500:
                found.append(f"{what}: the gateway answered {reply.status}")
            elif gateway.order(order["id"])["status"] == "paid":
                found.append(f"{what}: it paid the order")
                break
        assert not found, (
            f"the genuine paid notification is read as {meaning!r}; signed again with one field garbled, "
            f"{len(found)} variants were neither refused nor read as it: {_short('; '.join(found[:30]))}. A field that "
            "is garbage says nothing sure: raise NotificationRejected(Verdict.MALFORMED)"
        )
        if not delivered:
            pytest.skip("the notification has no query string, form or JSON fields to garble")
        status = gateway.order(order["id"])["status"]
        assert status == "pending", (
            f"after {delivered} garbled variants were refused or ignored, the order is {status!r}, not pending: "
            "a garbled notification closed or failed it, and the genuine payment can no longer be recorded"
        )

    def test_an_amount_with_a_fraction_of_a_minor_unit_is_never_read_as_the_order_amount(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order, genuine = self.signable(gateway)
        again = gateway.paid_notification(order)
        other = gateway.paid_notification(order, amount=order["amount"] + 1)
        judged = 0
        for field, unsigned in amount_fields(genuine, again, other):
            judged += 1
            variant = harness.signed_notification(unsigned)
            try:
                read = gateway.provider.verify_notification(gateway.inbound(variant))
            except NotificationRejected:
                continue
            assert not (isinstance(read, Notification) and read.amount == order["amount"]), (
                f"a paid notification whose amount ({field}) has a fraction of a minor unit more than the "
                f"order's {order['amount']} was read as {read!r}: rounded or cut into the order's amount, it "
                "pays an order with money that was not paid. Refuse digits the currency cannot hold (MALFORMED)"
            )
            gateway.notify(variant)
            assert gateway.order(order["id"])["status"] != "paid", f"the notification with {field} paid the order"
        if not judged:
            pytest.skip("no field of the paid notification holds its amount as a number")

    def test_a_paid_notification_with_one_field_of_the_unpaid_one_is_refused_or_read_as_either(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        order, paid = self.signable(gateway)
        unpaid = harness.unpaid_notification(order)
        meaning = gateway.provider.verify_notification(gateway.inbound(paid))
        assert isinstance(meaning, Notification), f"the paid notification was read as {meaning!r}"
        found: list[str] = []
        judged = 0
        for field, unsigned in mixed(paid, unpaid):
            judged += 1
            variant = harness.signed_notification(unsigned)
            try:
                read = gateway.provider.verify_notification(gateway.inbound(variant))
            except NotificationRejected:
                read = None
            except Exception as error:  # a crash is the finding: the provider would get a 500 for ever
                found.append(f"{field}: verify_notification raised {error!r}")
                continue
            if isinstance(read, Notification) and pays_as_genuine(read, meaning):
                continue  # read as the payment (the field does not decide it)
            if read is not None and not (isinstance(read, Notification) and not read.paid and not read.cancelled):
                found.append(f"{field}: read as {read!r}")
                continue
            reply = gateway.notify(variant)
            if reply.status >= 500 or gateway.order(order["id"])["status"] == "paid":
                found.append(f"{field}: the gateway answered {reply.status}, the order {gateway.order(order['id'])}")
        assert not found, (
            f"the paid notification with one field as the unpaid one has it, signed again, must be refused, "
            f"read as not paid, or read as the payment; {_short('; '.join(found))}. A message that says "
            "paid in one field and not in another says nothing sure: raise NotificationRejected(MALFORMED)"
        )
        if not judged:
            pytest.skip("the paid and unpaid notifications hold no field differently")

    @staticmethod
    def signable(gateway: LiveGateway) -> tuple[dict[str, Any], HttpRequest]:
        """A new order and its genuine paid notification; skips where the harness cannot sign one again."""
        order = gateway.new_order()
        genuine = gateway.paid_notification(order)
        try:
            gateway.harness.signed_notification(genuine)
        except NotImplementedError:
            pytest.skip("harness.signed_notification is not implemented: notifications cannot be signed again")
        return order, genuine

    @staticmethod
    def read(gateway: LiveGateway, variant: HttpRequest, meaning: Any, zero: bool) -> str | None:
        """None: to be delivered (refused, or read as what pays nothing); "genuine": read as what pays the
        order, as `meaning` does; else what is wrong."""
        try:
            read = gateway.provider.verify_notification(gateway.inbound(variant))
        except NotificationRejected:
            return None
        except Exception as error:  # a crash is the finding
            return f"verify_notification raised {error!r}"
        problem = wrong_reading(read, meaning, zero)
        if problem is not None:
            return problem
        return "genuine" if isinstance(read, Notification) and pays_as_genuine(read, meaning) else None
