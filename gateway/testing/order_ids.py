"""Kit checks that an order created in every channel names the provider's order where the answer did.

Part of `ProviderConformance`. Some channels' create answers need not name the provider's order (a
redirect whose page the provider builds later), so a created order may have no `provider_order_id`;
but one whose create answer named it, and the plugin dropped it, leaves the merchant an order with no
provider id to quote (support, disputes, the provider's dashboard) until a notification arrives, and a
provider whose calls need that id cannot query or refund it before then.

With `queries_find_orders_by_reference` declared and the query operation, the kit creates an order in
every channel it can order in (`channel_options`, `more_channel_options`), calling the provider's
`create_order` as the gateway does and recording the answer; where the created order names no provider
order, the provider's own query by reference says which order it is, and that id must not be one the
create answer already held. Undeclared, skipped.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import requests

from gateway.plugin.provider import Operation, OrderRef
from gateway.testing.live import LiveGateway
from gateway.testing.not_created import order_request, orderable
from gateway.testing.wire import intercepted


class OrderIdChecks:
    def test_an_order_in_every_channel_names_the_provider_order_its_create_answer_named(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        if not harness.queries_find_orders_by_reference or Operation.QUERY not in gateway.provider.operations:
            pytest.skip("needs queries_find_orders_by_reference and the query operation, to ask which order it is")
        dropped, unnamed = [], 0
        for name, options in orderable(gateway):
            request = order_request(gateway, name, options)
            answers: list[str] = []
            with intercepted(functools.partial(recorded_into, answers), spare=gateway.url):
                created = gateway.provider.create_order(request)
            if created.provider_order_id is not None:
                continue
            unnamed += 1
            draft = request.draft
            ref = OrderRef(request.merchant_order_no, None, draft.amount, draft.currency, draft.client_ip)
            found = gateway.provider.query_order(ref).provider_order_id
            if found and any(f'"{found}"' in text or f"={found}" in text for text in answers):
                dropped.append(f"{name} with {dict(options)}: {found!r}")
        if not unnamed:
            pytest.skip("every created order names the provider's order")
        assert not dropped, (
            f"orders created in {dropped} name no provider order, though the create answer held the id the "
            "provider's query then gave: read it from the answer (CreatedOrder.provider_order_id), so the merchant "
            "sees which order it is from the start"
        )


def recorded_into(answers: list[str], index: int, sent: requests.PreparedRequest, send: Any) -> requests.Response:
    """Each answer's text appended to `answers`, the answer itself passed on."""
    response: requests.Response = send()
    answers.append(response.text)
    return response
