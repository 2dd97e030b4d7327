"""Kit check of a signed answer changed after the provider signed it: never believed, whatever the settings.

Part of `ProviderConformance`. Where a provider signs its answers (IOTPay signs its successful ones), the
signature is all that says an answer is the provider's own: a TLS-terminating proxy, a cache or one
corrupted byte can change a status, an id or an amount on the way. The kit records the genuine answers to
a create, to a query about a paid order and to a refund, changes one signed field of one answer at a time,
and plays each back to the provider's own method **without signing it again**. A field counts as signed
when `harness.signed_answer` would give the changed answer another signature; where it would not (a field
outside the signature, or a provider that signs no answer), the change is not judged.

Each changed answer must be unclear (`OutcomeUnknown`, or a bare `ProviderError`): never a created order,
a notification or a refund result, and never a refusal, a failed refund or "no such order" either, each of
which the core acts on (a refund settled failed is made again; an order not found expires).
The gateway runs on the harness's settings, which leave every optional setting at its default: a plugin
that only logs a wrong signature unless a strict setting is on believes a forged answer wherever nobody
set it. Whatever the plugin logs meanwhile holds none of `harness.secrets()`: the text a plugin signed,
logged to compare with the provider's, ends with the key on a provider that signs "...&key=<key>".

Without `harness.signed_answer` (the default leaves answers as they are): skipped.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from gateway.plugin.provider import Operation, OutcomeUnknown, ProviderError, RefundRequest, Refused
from gateway.testing.answer_fields import FORM, _short, order_ref, played_back, recorded_call
from gateway.testing.check_checks import HTTP
from gateway.testing.harness import ProviderAnswer, ProviderHarness
from gateway.testing.leaks import shown
from gateway.testing.live import LiveGateway
from gateway.testing.misconfiguration import call_of
from gateway.testing.not_created import order_request
from gateway.testing.refusal_fields import RefusalFieldChecks, said
from gateway.testing.wire import intercepted


class AnswerSignatureChecks:
    def test_a_signed_answer_changed_after_it_was_signed_is_never_believed(
        self, gateway_under_test: LiveGateway, caplog: pytest.LogCaptureFixture
    ) -> None:
        gateway = gateway_under_test
        caplog.set_level(logging.DEBUG)
        found: list[str] = []
        coded: list[str] = []  # the signature changed: unclear, but with another code than wrong_signature_code
        code = gateway.harness.wrong_signature_code
        judged = 0
        for method, call in _calls(gateway):
            _, recorded = recorded_call(gateway, call)
            for index, (status, body, content_type) in enumerate(recorded):
                for what, changed, signature in unsigned_changes(body, content_type, gateway.harness):
                    judged += 1
                    replay = played_back(recorded, {index: (status, changed, content_type)})
                    with intercepted(replay, spare=gateway.url):
                        try:
                            read = call()
                        except ProviderError as error:
                            if isinstance(error, OutcomeUnknown) or type(error) is ProviderError:
                                # Only the signature's own change is certainly one: another field changed may
                                # also make the answer unusable, and a plugin may find that first.
                                if code is not None and signature and error.code != code:
                                    coded.append(f"{method} (call {index + 1}), {what}: {error.code!r}")
                                continue  # unclear: not believed
                            read = error
                        except Exception as error:  # what the plugin raised is the finding
                            read = error
                    found.append(f"{method} (call {index + 1}), {what}: {_short(repr(read))}")
        if not judged:
            pytest.skip("harness.signed_answer signs none of the provider's answers: no signature to break")
        assert not found, (
            f"{len(found)} answers changed after the provider signed them, not signed again, were read as answers: "
            f"{'; '.join(found[:20])}. An answer whose signature does not verify is not the provider's word: raise "
            "OutcomeUnknown, under every setting (the kit's gateway leaves optional settings at their defaults)"
        )
        assert not coded, (
            f"{len(coded)} answers whose signature was changed after the provider signed them were unclear with "
            f"another code than {code!r} (harness.wrong_signature_code): {'; '.join(coded[:20])}. The code tells the "
            "operator the answer was changed on the way, not that the provider sent something unreadable"
        )
        # What a plugin logs about a signature that does not verify (the text it signed, to compare with the
        # provider's) must not hand the key to whoever reads the log: its lines and tracebacks, not the HTTP
        # libraries' own request lines.
        lines = [caplog.handler.format(record) for record in caplog.records if not record.name.startswith(HTTP)]
        secrets = [secret for secret in gateway.harness.secrets() if secret]
        leaked = next(((n, line) for line in lines for n, secret in enumerate(secrets) if shown(secret, line)), None)
        if leaked is not None:
            pytest.fail(
                f"harness.secrets()[{leaked[0]}] is in the log while answers whose signature does not verify were "
                f"read: {_short(leaked[1])}"
            )

    @pytest.mark.parametrize("operation", ["create_order", "refund"])
    def test_a_signed_refusal_altered_on_the_way_is_unclear(
        self, gateway_under_test: LiveGateway, operation: str
    ) -> None:
        # A refusal is acted on too (the order failed, routing tried elsewhere): a "refused" changed on the way
        # fails an order the provider created, which the payer may still pay. Each declared refusal is given the
        # signature the provider's genuine answer carries (its fields that `signed_answer` rewrites), signed.
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.refusal_answers:
            pytest.skip("harness.refusal_answers is empty: declare the provider's own refusals as it sends them")
        call = call_of(gateway, operation)
        _, recorded = recorded_call(gateway, call)
        acting = len(recorded) - 1
        signed = [
            (refusal, body)
            for refusal in harness.refusal_answers
            if recorded and (body := signed_like(refusal, recorded[acting][1], harness)) is not None
        ]
        if not signed:
            pytest.skip(f"the genuine answer to {operation} carries no signature (harness.signed_answer) to give")
        found: list[str] = []
        for refusal, body in signed:
            plain = RefusalFieldChecks.outcome(gateway, call, recorded, acting, body, refusal)
            assert isinstance(plain, Refused), f"{operation}: {body.decode()}, signed, was read as {said(plain)}"
            for what, changed, _ in unsigned_changes(body, refusal.content_type, harness):
                read = RefusalFieldChecks.outcome(gateway, call, recorded, acting, changed, refusal)
                if not (isinstance(read, OutcomeUnknown) or type(read) is ProviderError):
                    found.append(f"{refusal.body}, {what}: {said(read)}")
        assert not found, (
            f"{len(found)} of the provider's refusals to {operation}, signed (harness.signed_answer) and then changed, "
            f"were read as answers: {'; '.join(found[:20])}. A signature that does not verify makes the whole answer "
            "unclear, a refusal too: raise OutcomeUnknown"
        )


def signature_fields(body: bytes, harness: ProviderHarness) -> set[str]:
    """The top-level fields of a JSON answer that `harness.signed_answer` rewrites when another changes: its
    signature. Empty for an answer it does not sign."""
    parsed = _object(body) or {}
    for name, value in parsed.items():
        if value is None or isinstance(value, (dict, list)):
            continue
        variant = {**parsed, name: _changed(value)}
        resigned = harness.signed_answer(dict(variant))
        if resigned != variant:
            return {key for key in resigned if resigned.get(key) != variant.get(key)}
    return set()


def signed_like(refusal: ProviderAnswer, genuine: bytes, harness: ProviderHarness) -> bytes | None:
    """`refusal` (a JSON object) with the signature fields of the `genuine` answer, signed as the provider signs
    its answers; None when either is not a JSON object or the genuine answer carries no signature."""
    parsed, answered = _object(refusal.body.encode()), _object(genuine)
    fields = signature_fields(genuine, harness)
    if parsed is None or answered is None or not fields:
        return None
    return json.dumps(harness.signed_answer({**parsed, **{key: answered[key] for key in fields}})).encode()


def _object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _calls(gateway: LiveGateway) -> Iterator[tuple[str, Callable[[], Any]]]:
    """Each provider method whose answers the kit changes, ready to call again with the same request."""
    provider, harness = gateway.provider, gateway.harness
    yield "create_order", functools.partial(provider.create_order, order_request(gateway))
    if Operation.QUERY in provider.operations:
        order = gateway.new_order()
        harness.pay_without_notifying(order)
        yield "query_order", functools.partial(provider.query_order, order_ref(gateway.order(order["id"])))
    if Operation.REFUND in provider.operations:
        paid = gateway.paid_order()
        request = RefundRequest(str(uuid.uuid4()), order_ref(paid), paid["amount"], paid["currency"], None)
        yield "refund", functools.partial(provider.refund, request)


def unsigned_changes(body: bytes, content_type: str, harness: ProviderHarness) -> Iterator[tuple[str, bytes, bool]]:
    """(what was changed, the answer with it changed) for each top-level field of a JSON or form answer
    whose change the harness would sign again differently: the answer's signed fields, its signature too,
    and in a JSON answer the signature made a number, `true`, a list, an object and text ending in a lone
    surrogate; and whether the change
    was to the signature itself (the field the harness writes again)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        if FORM not in content_type:
            return
        pairs = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        for name, value in pairs.items():
            variant = {**pairs, name: _changed(value)}
            signed = harness.signed_answer(dict(variant))
            if signed != variant:
                what = f"{name!r} {value!r} made {variant[name]!r}"
                yield what, urlencode(list(variant.items())).encode(), signed.get(name) != variant[name]
        return
    if not isinstance(parsed, dict):
        return
    for name, value in parsed.items():
        if value is None or isinstance(value, (dict, list)):
            continue
        variant = {**parsed, name: _changed(value)}
        signed = harness.signed_answer(dict(variant))
        signature = signed.get(name) != variant[name]  # the harness wrote this field again: it is the signature
        if signed != variant:
            yield f"{name!r} {value!r} made {variant[name]!r}", json.dumps(variant).encode(), signature
        if signature:
            for other in (1, True, [value], {name: value}):
                what = f"the signature {name!r} made {json.dumps(other)}"
                yield what, json.dumps({**parsed, name: other}).encode(), True
            # Text no encoder can write (a lone surrogate, which JSON's `\ud800` escape gives): a plugin that
            # encodes the received signature to compare it must not crash on it. Not judged for its code: JSON
            # leaves such text undefined, and a parser may refuse the whole answer as unreadable.
            text = str(value)[:-1] + "\ud800"
            yield f"the signature {name!r} made {json.dumps(text)}", json.dumps({**parsed, name: text}).encode(), False


def _changed(value: Any) -> Any:
    """`value` changed as a byte on the way would change it: a flag flipped, a number one more, text's
    first character another (a last one may carry only bits that unpadded base64 ignores)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    text = str(value)
    return ("0" if text[:1] != "0" else "1") + text[1:] if text else "0"
