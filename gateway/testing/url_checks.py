"""Kit checks of addresses: a hostile `return_url` going out, and hostile addresses coming back.

Part of `ProviderConformance`, for a provider with a channel that sends the payer's browser
somewhere (`redirect_to_url`, or `return_url` among its required fields); without one they skip.

- A `return_url` with `&`, `=`, `?`, `#` and quotes in it reaches the provider as one value, exactly:
  a plugin that builds a query string or form by hand would let `&gw_kit_injected=1` become a field
  of its own, and break its signature. The order keeps the address as given.
- An address in the provider's answer that is not a web page (`javascript:`, `javascript://`, `data:`),
  or a plain `http://` one (`HTTP://` too) where the provider's own was `https://`, never reaches
  `next_action.url`, where a checkout would send the payer's browser: the answer (signed again, where
  the provider signs its answers in the body) is unclear (unknown), or the order carries no such
  address.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests

from gateway.plugin.provider import ChannelInfo, NextActionType
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import is_unknown
from gateway.testing.wire import fields_of, intercepted

INJECTED = "gw_kit_injected"
HOSTILE_RETURN_URL = f'https://shop.example/back?order=1&{INJECTED}=1&q="it\'s"&eq==#frag?x=1&y=2'
HOSTILE_SCHEMES = {
    "javascript": "javascript:alert(document.domain)//",
    "data": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "plain_http": "http://",  # the provider's own https address, downgraded
    "plain_http_in_capitals": "HTTP://",  # the same, where a check looks for "http://" only
    "javascript_with_slashes": "javascript://shop.example/%0aalert(document.domain)",  # holds "://"
}


class UrlChecks:
    def test_a_hostile_return_url_reaches_the_provider_as_one_exact_value(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway = gateway_under_test
        fields = redirect_order_fields(gateway)
        with intercepted(lambda index, request, send: send(), spare=gateway.url) as sent:
            response = gateway.post_order(**fields, return_url=HOSTILE_RETURN_URL)
        assert response.status_code == 201, (
            f"an order with return_url {HOSTILE_RETURN_URL!r} answered {response.status_code}: "
            f"{response.get_json()}; encode it as one value (urlencode, json), and sign what you send"
        )
        sent_fields = [field for call in sent for field in fields_of(call)]
        injected = [name for name, _ in sent_fields if INJECTED in name]
        assert not injected, (
            f"the return_url's `&{INJECTED}=1` reached the provider as a field of its own ({injected}): "
            "build requests with urlencode or json, never by joining strings"
        )
        if any(INJECTED in call.text or INJECTED in unquote(call.text) for call in sent):
            values = [value for _, value in sent_fields]
            assert any(HOSTILE_RETURN_URL in value for value in values), (
                f"the return_url reached the provider altered: none of the values sent holds {HOSTILE_RETURN_URL!r}"
            )
        order = gateway.order(response.get_json()["id"])
        assert order.get("return_url") == HOSTILE_RETURN_URL, f"the order keeps return_url {order.get('return_url')!r}"

    @pytest.mark.parametrize("scheme", sorted(HOSTILE_SCHEMES))
    def test_a_hostile_address_in_the_providers_answer_never_reaches_the_payer(
        self, gateway_under_test: LiveGateway, scheme: str
    ) -> None:
        gateway = gateway_under_test
        fields = redirect_order_fields(gateway)
        rewritten: list[str] = []
        plain_api: list[bool] = []

        def hostile_addresses(index: int, request: requests.PreparedRequest, send: Any) -> requests.Response:
            answered: requests.Response = send()
            try:
                body = answered.json()
            except ValueError:
                return answered
            before = len(rewritten)
            hostile = with_hostile_urls(body, HOSTILE_SCHEMES[scheme], rewritten)
            if len(rewritten) == before:
                return answered
            plain_api.append((request.url or "").startswith("http://"))
            # Signed again where the provider signs its answers in the body: what is judged is the address.
            answered._content = json.dumps(
                gateway.harness.signed_answer(hostile) if isinstance(hostile, dict) else hostile
            ).encode()
            return answered

        with intercepted(hostile_addresses, spare=gateway.url):
            response = gateway.post_order(**fields, return_url="https://shop.example/back")
        if not rewritten:
            why = "https address" if scheme.startswith("plain_http") else "http(s) address"
            pytest.skip(f"the provider's answer to create holds no {why} to replace")
        assert response.status_code == 201 or is_unknown(response), (
            f"with {scheme} addresses in the provider's answer, POST /v1/orders answered {response.status_code}: "
            f"{response.get_json()}; such an answer is unclear (raise OutcomeUnknown), never a crash"
        )
        if response.status_code != 201:
            return
        url = (response.get_json().get("next_action") or {}).get("url") or ""
        if scheme.startswith("plain_http") and all(plain_api):
            return  # a plain http API (a local sandbox): plain http pages may come from it too
        given = {address.lower() for address in rewritten}
        assert url.lower() not in given and urlsplit(url).scheme.lower() not in ("javascript", "data"), (
            f"the provider's answer gave {url!r}, and the order sends the payer's browser there: "
            "accept only https:// addresses (plain http only where the provider's own sandbox uses it)"
        )


def redirect_order_fields(gateway: LiveGateway) -> dict[str, Any]:
    """`post_order` fields for a channel whose orders send the payer's browser to an address."""
    harness, info = gateway.harness, gateway.provider.info
    candidates = [
        channel
        for channel in (info.channel(name) for name in info.channels)
        if NextActionType.REDIRECT_TO_URL in channel.next_actions or "return_url" in channel.required_fields
    ]
    if not candidates:
        pytest.skip("no channel sends the payer's browser to an address (redirect_to_url, or return_url required)")

    def needs_options(channel: ChannelInfo) -> bool:
        return any(field.startswith("provider_options.") for field in channel.required_fields)

    usable = [c for c in candidates if c.name == harness.channel] + [c for c in candidates if not needs_options(c)]
    if not usable:
        pytest.skip(f"every such channel needs provider_options; the harness gives them only for {harness.channel}")
    chosen = usable[0]
    currency = harness.currency if harness.currency in chosen.currencies else chosen.currencies[0]
    options = dict(harness.order_options()) if chosen.name == harness.channel else {}
    return {"channel": chosen.name, "currency": currency, "provider_options": options}


def with_hostile_urls(value: Any, hostile: str, rewritten: list[str]) -> Any:
    """`value` (a JSON answer) with every web address in it replaced by a `hostile` one."""
    if isinstance(value, dict):
        return {key: with_hostile_urls(item, hostile, rewritten) for key, item in value.items()}
    if isinstance(value, list):
        return [with_hostile_urls(item, hostile, rewritten) for item in value]
    if isinstance(value, str):
        if hostile.lower() == "http://":
            if value.startswith("https://"):
                rewritten.append(hostile + value.removeprefix("https://"))
                return rewritten[-1]
        elif value.startswith(("https://", "http://")):
            rewritten.append(hostile)
            return hostile
    return value
