"""Kit checks that a provider's not-created outcomes of `create_order` are truly not-created.

Part of `ProviderConformance`. Routing (docs/routing.md) tries an order at the merchant's next
account only after an outcome of `create_order` that leaves nothing at the provider: a definite
refusal (`Refused`, `NotFound`) or a request never sent (`NotSent`). A provider that reports one of
those when its service may have created the order lets the gateway create the payer's order twice,
at two accounts: a double charge. So the kit calls the provider itself, as the gateway does, and
checks:

- after a refusal (`harness.fail_next`), the provider's own query finds no such order;
- a time-out (`harness.delay_next`: the simulator still creates the order, late) is never
  not-created;
- an unclear answer (`harness.garble_next`: a 500, an HTML page) is never not-created;
- a refusal that can follow acceptance is never not-created: the same request again, after the
  provider created the order, answers the order or an unclear outcome, never a refusal; and each of
  the harness's `existing_order_answers` (the provider's "this order number exists", in each shape it
  may take), given in answer to a create, is never not-created either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from gateway.domain.orders import new_merchant_order_no
from gateway.domain.provider_failures import created_nothing
from gateway.plugin.provider import QUERY, NotFound, OrderDraft, OrderRef, OrderRequest, ProviderError
from gateway.testing.harness import ProviderHarness
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import UNCLEAR_REPLIES
from gateway.testing.refusals import acting_call, refused_by

TIMEOUT = 1.0  # the provider's time-out here (timeout_settings)
DELAY = 2.5  # the simulator's answer comes this late, after creating the order


def order_request(
    gateway: LiveGateway, channel: str | None = None, options: Mapping[str, Any] | None = None
) -> OrderRequest:
    """What the gateway hands the provider for a new order of the harness's channel (or `channel`, with
    `options` or else its `channel_options`) and currency (or the channel's first, where it does not take
    the harness's)."""
    harness, provider = gateway.harness, gateway.provider
    name = channel or harness.channel
    declared = provider.info.channel(name)
    given = options if options is not None else default_options(harness, name)
    schema = provider.options_schema()
    options = schema.load(dict(given)) if schema is not None else {}
    required = declared.required_fields
    currencies = declared.currencies or (harness.currency,)
    draft = OrderDraft(
        channel=name,
        amount=harness.amount,
        currency=harness.currency if harness.currency in currencies else currencies[0],
        subject="Conformance test",
        body="gateway.testing",
        client_ip="127.0.0.1",
        options=options,
        return_url="https://shop.example/return" if "return_url" in required else None,
    )
    provider.validate_order(draft)
    number = new_merchant_order_no()
    return OrderRequest(
        draft, order_id=f"kit-{number}", merchant_order_no=number, notify_url=gateway.url + gateway.notify_path
    )


def default_options(harness: ProviderHarness, channel: str) -> Mapping[str, Any]:
    """The `provider_options` the kit orders in `channel` with: the harness's own for its channel, else
    `channel_options`."""
    return harness.order_options() if channel == harness.channel else harness.channel_options.get(channel, {})


def orderable(gateway: LiveGateway, *, others_only: bool = False) -> list[tuple[str, Mapping[str, Any]]]:
    """Every (channel, provider_options) the kit can order in: each declared channel whose required options
    it has (`channel_options`, or none required), then each of `more_channel_options`."""
    harness, info = gateway.harness, gateway.provider.info
    pairs = [(name, default_options(harness, name)) for name in info.channels]
    pairs += [(name, options) for name, options in harness.more_channel_options if name in info.channels]
    return [
        (name, options)
        for name, options in pairs
        if not (others_only and name == harness.channel and options == default_options(harness, name))
        and all(
            field.removeprefix("provider_options.") in options
            for field in info.channel(name).required_fields
            if field.startswith("provider_options.")
        )
    ]


def failure_of(gateway: LiveGateway, request: OrderRequest) -> ProviderError | None:
    try:
        gateway.provider.create_order(request)
    except ProviderError as exc:
        return exc
    return None


def query(gateway: LiveGateway, request: OrderRequest) -> ProviderError | None:
    """The provider's query about the order the request named: None when it found it."""
    ref = OrderRef(request.merchant_order_no, None, request.draft.amount, request.draft.currency, "127.0.0.1")
    try:
        gateway.provider.query_order(ref)
    except ProviderError as exc:
        return exc
    return None


class NotCreatedChecks:
    def test_a_refused_create_leaves_nothing_at_the_provider(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        request = order_request(gateway)
        gateway.harness.fail_next("create_order")
        refused = failure_of(gateway, request)
        assert refused is not None and created_nothing(refused), (
            f"after fail_next('create_order') create_order raised {refused!r}: the provider refused and did "
            "nothing, so raise Refused"
        )
        if QUERY in gateway.provider.operations:
            found = query(gateway, request)
            assert isinstance(found, NotFound), (
                f"create_order said Refused, yet the provider's query of the order answered {found!r}: a "
                "refusal must mean no order exists, or routing creates it twice at two accounts"
            )
            codes = gateway.harness.not_found_codes
            assert not codes or found.code in codes, (
                f"the query of an order the provider refused raised NotFound with the code {found.code!r}, not one "
                f"of {list(codes)} (harness.not_found_codes): give NotFound the code your provider's page documents"
            )

    def test_a_create_time_out_is_never_not_created(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        gateway = gateway_factory(gateway_harness.timeout_settings(TIMEOUT))
        request = order_request(gateway)
        gateway_harness.delay_next("create_order", DELAY)
        timed_out = failure_of(gateway, request)
        assert timed_out is not None and not created_nothing(timed_out), (
            f"create_order timed out (delay_next('create_order', {DELAY}), timeout {TIMEOUT}s) and raised "
            f"{timed_out!r}: the provider may have created the order, so raise ProviderTimeout, never a refusal"
        )

    @pytest.mark.parametrize("reply", UNCLEAR_REPLIES)
    def test_an_unclear_create_answer_is_never_not_created(self, gateway_under_test: LiveGateway, reply: str) -> None:
        gateway = gateway_under_test
        request = order_request(gateway)
        try:
            gateway.harness.garble_next("create_order", reply)
        except NotImplementedError:
            pytest.fail("implement harness.garble_next(operation, reply): a 500 and an HTML page")
        unclear = failure_of(gateway, request)
        assert unclear is not None and not created_nothing(unclear), (
            f"after garble_next('create_order', {reply!r}) create_order raised {unclear!r}: such an answer says "
            "nothing about whether the order exists, so it is OutcomeUnknown, never a refusal"
        )

    def test_a_refusal_after_acceptance_is_never_not_created(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        request = order_request(gateway)
        first = failure_of(gateway, request)
        assert first is None, f"create_order of a new order raised {first!r}"
        again = failure_of(gateway, request)  # a retry of a request that did reach the provider, say
        assert again is None or not created_nothing(again), (
            f"create_order of an order the provider had already created raised {again!r}, a not-created "
            "outcome: routing would then create it again at another account. Answer the existing order, or "
            "raise OutcomeUnknown for a 'duplicate order number' answer"
        )

    def test_an_answer_that_the_order_number_exists_is_never_not_created(self, gateway_under_test: LiveGateway) -> None:
        gateway = gateway_under_test
        answers = gateway.harness.existing_order_answers
        if not answers:
            pytest.skip('harness.existing_order_answers is empty: declare your provider\'s "order number exists"')
        acting = acting_call(gateway, lambda: failure_of(gateway, order_request(gateway)))
        for given in answers:
            with refused_by(given, gateway, acting):
                outcome = failure_of(gateway, order_request(gateway))
            assert outcome is not None, (
                f"create_order answered {given.status} {given.body} (harness.existing_order_answers) created an order "
                "from it: the answer says only that an order under this number exists. Raise OutcomeUnknown"
            )
            assert not created_nothing(outcome), (
                f"create_order answered {given.status} {given.body} (harness.existing_order_answers: the provider has "
                f"an order under this number, perhaps this very one) raised {outcome!r}, a not-created outcome: "
                "routing would then create it again at another account. Raise OutcomeUnknown"
            )
