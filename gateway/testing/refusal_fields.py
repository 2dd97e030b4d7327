"""Kit checks of the provider's own refusals with garbage beside them: a refusal stays a refusal.

Part of `ProviderConformance`. The kit records the provider's genuine answer to a create and to a
refund, then puts each declared refusal (`refusal_answers`) in its place, played back to the
provider's own method without reaching the simulator, with one field added: a field of the genuine
answer that no declared refusal carries (IOTPay's `payOrderId`, `payParams`, `sign`; a refund's
ids and amounts), garbled as `answer_fields.py` garbles answers (null, another type, empty,
10,000 characters ...), and signed again by `harness.signed_answer` where the result carries a
signature. Each must fail the call exactly as the plain refusal does: the same kind of error
(`Refused`), with the same code.

Why refused, and not unknown: what says "refused, nothing done" is the refusal's own fields, the
provider's error format as its documentation shows it. A field beside them that is garbage (an
empty order id, an object where text belongs) concludes nothing: no real provider answer uses
garbage to say it acted. Read as unknown instead, an order the provider turned down waits as
`pending` for ever, the merchant is told "we do not know" where the provider said "no", and routing
never moves on to the merchant's next account. The fields any declared refusal carries (IOTPay's
`resCode`, `errCode`) are the provider's refusal vocabulary and are not garbled here: garbage in
those may well make a refusal unclear, and `answer_fields.py` judges that. Undeclared, skipped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gateway.plugin.provider import Operation, OutcomeUnknown, ProviderError, RefundRequest, Refused
from gateway.testing.answer_fields import LEFT_OUT, changes, order_ref, played_back, recorded_call
from gateway.testing.harness import ProviderAnswer, ProviderHarness
from gateway.testing.live import LiveGateway
from gateway.testing.not_created import order_request
from gateway.testing.wire import intercepted

Recorded = tuple[int, bytes, str]


def refusal_vocabulary(harness: ProviderHarness) -> set[str]:
    """Every top-level field some declared JSON refusal carries."""
    carried: set[str] = set()
    for refusal in harness.refusal_answers:
        parsed = _object(refusal.body.encode())
        carried.update(parsed or ())
    return carried


def with_garbage_beside(
    refusal: ProviderAnswer, genuine: bytes, harness: ProviderHarness
) -> Iterator[tuple[str, bytes]]:
    """(how, body) for `refusal` with one field of the `genuine` answer it lacks added, garbled, signed again."""
    parsed, answered = _object(refusal.body.encode()), _object(genuine)
    if parsed is None or answered is None:
        return  # not JSON objects: nothing to put beside the refusal
    vocabulary = refusal_vocabulary(harness)
    seen: set[bytes] = set()
    for name, value in answered.items():
        if name in vocabulary:
            continue
        for what, garbage in changes(value):
            if garbage is LEFT_OUT:
                continue  # the plain refusal: RefusalChecks judges it
            body = json.dumps(harness.signed_answer({**parsed, name: garbage})).encode()
            if body not in seen:
                seen.add(body)
                yield f"{name!r} {what}", body


def _object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class RefusalFieldChecks:
    @pytest.mark.parametrize("operation", ["create_order", "refund"])
    def test_a_refusal_of_the_provider_with_garbage_beside_it_still_fails_the_call(
        self, gateway_under_test: LiveGateway, operation: str
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.refusal_answers:
            pytest.skip("harness.refusal_answers is empty: declare the provider's own refusals as they are sent")
        if operation == "refund" and Operation.REFUND not in gateway.provider.operations:
            pytest.skip("the provider does not declare the refund operation")
        call = self.create_call(gateway) if operation == "create_order" else self.refund_call(gateway)
        _, recorded = recorded_call(gateway, call)
        if not recorded:
            pytest.skip(f"the provider made no call over `requests` for {operation}")
        acting = len(recorded) - 1  # the last call acts; earlier ones look things up
        found, judged = [], 0
        for refusal in harness.refusal_answers:
            plain = self.outcome(gateway, call, recorded, acting, refusal.body.encode(), refusal)
            if not isinstance(plain, Refused):
                continue  # not read as a refusal even plain: RefusalChecks says so
            for what, body in with_garbage_beside(refusal, recorded[acting][1], harness):
                judged += 1
                read = self.outcome(gateway, call, recorded, acting, body, refusal)
                if type(read) is not type(plain) or read.code != plain.code:
                    found.append(f"{refusal.body} with {what}: {said(read)}")
        if not judged:
            pytest.skip(f"no declared refusal read as one, or no field beside it to garble, for {operation}")
        assert not found, (
            f"the provider's declared refusals of {operation} were read as refusals, but with a garbled field of the "
            f"genuine answer beside them, {len(found)} were read otherwise: {'; '.join(found[:20])}. The refusal's "
            "own fields say nothing was done, and garbage beside them says nothing at all: raise the same Refused "
            "with the provider's code (read as unknown, an order the provider turned down waits for ever and routing "
            "never moves on)"
        )

    @staticmethod
    def create_call(gateway: LiveGateway) -> Callable[[], Any]:
        request = order_request(gateway)
        return lambda: gateway.provider.create_order(request)

    @staticmethod
    def refund_call(gateway: LiveGateway) -> Callable[[], Any]:
        paid = gateway.paid_order()
        request = RefundRequest(str(uuid.uuid4()), order_ref(paid), paid["amount"], paid["currency"], None)
        return lambda: gateway.provider.refund(request)

    @staticmethod
    def outcome(
        gateway: LiveGateway,
        call: Callable[[], Any],
        recorded: list[Recorded],
        acting: int,
        body: bytes,
        refusal: ProviderAnswer,
    ) -> Any:
        """What `call` makes of `body` in place of the acting call's answer: its result or what it raised."""
        changed = {acting: (refusal.status, body, refusal.content_type)}
        with intercepted(played_back(recorded, changed), spare=gateway.url):
            try:
                return call()
            except Exception as error:  # what the plugin raised is the finding
                return error


def said(read: Any) -> str:
    if isinstance(read, ProviderError):
        kind = "unclear" if isinstance(read, OutcomeUnknown) or type(read) is ProviderError else type(read).__name__
        return f"{kind} {read.code!r} ({read.message[:120]})"
    return repr(read)[:200]
