"""Kit check of a provider's refund listing past its first page (`ProviderHarness.refunds_per_page`).

Part of `ProviderConformance`. A plugin that finds a refund by listing the payment's refunds (Stripe:
`GET /v1/refunds?payment_intent=...`, newest first, `limit` at most 100, then `has_more` and
`starting_after`) and reads only the first page never sees an older refund once a payment has more
refunds than a page holds. Reconciliation then asks about a refund whose answer was lost, is told
there is none, and refunds it again: the payer is paid back twice. Only an order with more refunds
than a page shows it, so the kit makes one with two pages of refunds above the oldest.

Before any listing, one refund whose answer was lost is asked about by the gateway's refund id alone
(`query_refund` with no `provider_refund_id`): the provider made it, so "no such refund" is wrong. The
other way round, a refund the provider refused is asked about the same way: it never made it, so the
answer is never succeeded or pending, and a "no such refund" (`NotFound`) carries one of the harness's
`not_found_codes` (a failed refund one of its `failed_refund_codes`).

A listing that never ends (each address's first answer, a first page that says there are more, given
again to every later call there: a provider's bug or a loop in its paging) is unclear: asked about a
refund past the first page, the plugin stops within `LISTING_CALLS_BOUND` calls and raises an error
that concludes nothing (OutcomeUnknown, Refused), never "no such refund" (reconciliation would send
the refund again), failed, or a result.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from gateway.plugin.provider import NotFound, Operation, ProviderError, RefundFailed, RefundRef
from gateway.testing.answer_fields import order_ref
from gateway.testing.answers import garbled
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import refunded_at_provider
from gateway.testing.refusals import acting_call
from gateway.testing.wire import answer, intercepted

# Calls of one listing after which a plugin still asking would never stop: 100,000 refunds of one
# payment at Stripe's 100 a page, far past any real order.
LISTING_CALLS_BOUND = 1_000


@contextmanager
def answer_lost(gateway: LiveGateway, acting: int) -> Iterator[None]:
    """Meanwhile, the call at index `acting` reaches the simulator, which acts; its answer is an HTML 500."""

    def change(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
        answered: requests.Response = send()
        return garbled(request, "html_500", answered) if index == acting else answered

    with intercepted(change, spare=gateway.url):
        yield


def _query(gateway: LiveGateway, asked: RefundRef, *, replay: bool) -> tuple[Any, list[tuple[str, str]], int]:
    """`query_refund(asked)`: what it gave, the (method, path) of each call, and how many were answered again.

    With `replay`, every call to an address (method and path) already called is answered as the first call
    there was, every header included: a listing whose every page is its first. Past `LISTING_CALLS_BOUND`
    calls the check fails from inside the call, where no `except Exception` of the plugin's stops it.
    """
    first: dict[tuple[str, str], requests.Response] = {}
    paths: list[tuple[str, str]] = []
    replayed = 0

    def change(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
        nonlocal replayed
        if index >= LISTING_CALLS_BOUND:
            pytest.fail(
                f"a refund listing whose every page was its first (more to come, the refund not on it) was still "
                f"being read after {LISTING_CALLS_BOUND} calls: bound the pages one lookup reads, and raise "
                "OutcomeUnknown past the bound",
                pytrace=False,
            )
        path = (request.method or "", urlsplit(request.url or "").path)
        paths.append(path)
        if replay and path in first:
            replayed += 1
            genuine = first[path]
            again = answer(request, genuine.status_code, genuine.content, genuine.headers.get("Content-Type", ""))
            again.headers = CaseInsensitiveDict(genuine.headers)
            return again
        response: requests.Response = send()
        first.setdefault(path, response)
        return response

    with intercepted(change, spare=gateway.url):
        try:
            read: Any = gateway.provider.query_refund(asked)
        except ProviderError as error:
            read = error
    return read, paths, replayed


class RefundPageChecks:
    def test_a_refund_whose_answer_was_lost_is_found_by_its_refund_id(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        if not {Operation.REFUND, Operation.QUERY_REFUND} <= set(gateway.provider.operations):
            pytest.skip("the provider does not declare refund and query_refund")
        probe = gateway.paid_order()
        acting = acting_call(gateway, lambda: gateway.refund(probe["id"], probe["amount"]))
        order = gateway.paid_order()
        with answer_lost(gateway, acting):  # made at the provider, its answer lost
            gateway.refund(order["id"], order["amount"])
        [refund] = gateway.refunds(order["id"])
        asked = RefundRef(refund["id"], None, order_ref(gateway.order(order["id"])), order["amount"], order["currency"])
        try:
            gateway.provider.query_refund(asked)
        except (NotFound, RefundFailed, ProviderError) as exc:
            pytest.fail(
                f"a refund the simulator made, whose answer was lost, asked about by its refund id alone (no provider "
                f"refund id yet): query_refund raised {exc!r}. The provider has it: find it by the refund id every "
                "RefundRequest for it carried, or the gateway takes it for never made (or, unclear, never settles it)"
            )

    def test_a_refund_older_than_a_page_of_the_listing_is_found_not_made_again(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        per_page = harness.refunds_per_page
        if per_page is None:
            pytest.skip("the harness declares no refunds_per_page")
        needed = {Operation.REFUND, Operation.PARTIAL_REFUND, Operation.MULTIPLE_REFUNDS}
        if not needed <= set(gateway.provider.operations):
            pytest.skip("the provider does not declare partial and multiple refunds")
        step = 10 if gateway.provider.info.currencies.get(harness.currency) == 3 else 1  # a three-decimal unit
        # Two full pages above the oldest: a plugin that pages on from the wrong refund (the first of a page,
        # not the last) still reaches the second page's end, never the third page.
        refunds = 2 * per_page + 1
        assert harness.amount >= refunds * step, (
            f"harness.amount ({harness.amount}) must allow {refunds} refunds of {step}: two refunds_per_page and one"
        )
        probe = gateway.paid_order()
        acting = acting_call(gateway, lambda: gateway.refund(probe["id"], step))
        order = gateway.paid_order()
        with answer_lost(gateway, acting):  # the oldest refund: made at the provider, its answer lost
            gateway.refund(order["id"], step)
        for number in range(refunds - 1):  # two full pages of newer refunds on top of it
            response = gateway.refund(order["id"], step)
            assert response.status_code == 201, f"refund {number + 2} of {step} answered {response.get_json()}"
        # A day later, at a provider whose keys lapse: only finding the refund keeps it from being made again.
        with suppress(NotImplementedError):
            harness.forget_idempotency_keys()
        gateway.expire_refund_leases(order["id"])
        gateway.reconcile()
        statuses = sorted(refund["status"] for refund in gateway.refunds(order["id"]))
        assert statuses == ["succeeded"] * refunds, (
            f"{refunds} refunds of {step}, the oldest with its answer lost, then reconciled: the API shows {statuses}; "
            "page through the provider's listing from the last refund of each page"
        )
        made = refunded_at_provider(gateway, order)
        assert made == refunds * step, (
            f"the simulator refunded {made} for {refunds} refunds of {step}: the refund whose answer was lost, "
            f"listed after {refunds - 1} newer ones (harness.refunds_per_page is {per_page}), was not found by the "
            "query and was made again; read every page of the provider's listing"
        )

    def test_a_refund_listing_that_never_ends_is_unclear(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        per_page = harness.refunds_per_page
        if per_page is None:
            pytest.skip("the harness declares no refunds_per_page")
        needed = {Operation.REFUND, Operation.QUERY_REFUND, Operation.PARTIAL_REFUND, Operation.MULTIPLE_REFUNDS}
        if not needed <= set(gateway.provider.operations):
            pytest.skip("the provider does not declare query_refund, and partial and multiple refunds")
        step = 10 if gateway.provider.info.currencies.get(harness.currency) == 3 else 1  # a three-decimal unit
        assert harness.amount >= (per_page + 1) * step, (
            f"harness.amount ({harness.amount}) must allow {per_page + 1} refunds of {step}: refunds_per_page and one"
        )
        order = gateway.paid_order()
        for number in range(per_page + 1):  # one page and one more: the first page says there are more
            response = gateway.refund(order["id"], step)
            assert response.status_code == 201, f"refund {number + 1} of {step} answered {response.get_json()}"
        made = gateway.refunds(order["id"])
        paged: RefundRef | None = None
        for refund in (made[0], made[-1]):  # whichever way the provider lists them, one is past the first page
            asked = RefundRef(refund["id"], None, order_ref(gateway.order(order["id"])), step, order["currency"])
            read, paths, _ = _query(gateway, asked, replay=False)
            if isinstance(read, ProviderError):
                pytest.fail(f"the query of refund {refund['id']}, which the simulator made, by its refund id: {read!r}")
            if len(set(paths)) < len(paths):  # the same address asked twice: the refund was past the first page
                paged = asked
                break
        if paged is None:
            pytest.skip(
                f"neither the oldest nor the newest of {per_page + 1} refunds took a second call to one address: no "
                f"listing went past its first page (is harness.refunds_per_page, {per_page}, what your plugin asks "
                "for?)"
            )
        read, paths, replayed = _query(gateway, paged, replay=True)
        if not replayed:
            pytest.skip("the plugin made no second call to any address this time: nothing was answered again")
        assert isinstance(read, ProviderError) and not isinstance(read, (NotFound, RefundFailed)), (
            f"a refund listing whose every page was its first (more to come, the refund not on it): query_refund "
            f"gave {read!r} after {len(paths)} calls, {replayed} of them answered again with the first page. The "
            "listing never said it ended, so whether the refund exists is unclear: raise OutcomeUnknown (or "
            "Refused). NotFound would have reconciliation send the refund again; a result or RefundFailed is about "
            "a refund the listing never showed"
        )

    def test_the_query_of_a_refund_the_provider_refused_never_says_made(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        codes = gateway.harness.not_found_codes
        if not codes:
            pytest.skip("harness.not_found_codes is empty: no code declared for NotFound")
        if not {Operation.REFUND, Operation.QUERY_REFUND} <= set(gateway.provider.operations):
            pytest.skip("the provider does not declare refund and query_refund")
        order = gateway.paid_order()
        gateway.harness.fail_next("refund")
        gateway.refund(order["id"], order["amount"])
        [refund] = gateway.refunds(order["id"])
        assert refund["status"] == "failed", f"after fail_next('refund') the refund is {refund['status']!r}"
        asked = RefundRef(refund["id"], None, order_ref(gateway.order(order["id"])), order["amount"], order["currency"])
        try:
            read: Any = gateway.provider.query_refund(asked)
        except ProviderError as error:
            read = error
        # A provider may keep the refused refund as a failed one, or answer its number with an error that says
        # nothing for certain (Refused, OutcomeUnknown: the contract's answer then). Never succeeded or pending;
        # and "no such refund" carries a code the provider's page documents.
        assert isinstance(read, ProviderError), (
            f"the query of a refund the provider refused, by its refund id, gave {read!r}: the provider never made it"
        )
        assert not isinstance(read, NotFound) or read.code in codes, (
            f"the query of a refund the provider refused, by its refund id, raised NotFound with the code "
            f"{read.code!r}, not one of {list(codes)} (harness.not_found_codes): give NotFound the code your "
            "provider's page documents"
        )
        failed = gateway.harness.failed_refund_codes
        assert not isinstance(read, RefundFailed) or not failed or read.code in failed, (
            f"the query of a refund the provider refused raised RefundFailed with the code {read.code!r}, not one of "
            f"{list(failed)} (harness.failed_refund_codes)"
        )
