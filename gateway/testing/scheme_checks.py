"""Kit check of a plain http address in the answer of a provider served over https.

Part of `ProviderConformance`. `url_checks.py` downgrades the https addresses of a provider's answer
to plain http; a simulator served over plain http answers none, so there that check has nothing to
downgrade. With `api_url_setting` declared, the kit sets that setting to the https:// form of the
simulator's address and carries each call over plain http itself: the plugin then believes its
provider is served over https, as in production, and the plain http addresses the simulator
answers (built from the address it was called at) are downgrades. One of them must never reach
`next_action.url`; the same answer with its addresses made https must (the plugin is not merely
refusing everything).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from gateway.testing.harness import ProviderHarness
from gateway.testing.live import LiveGateway
from gateway.testing.outcomes import is_unknown
from gateway.testing.url_checks import redirect_order_fields
from gateway.testing.wire import intercepted

PLAIN, SECURE = "http://", "https://"


class SchemeChecks:
    def test_a_plain_http_address_from_a_provider_served_over_https_never_reaches_the_payer(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        setting = gateway_harness.api_url_setting
        if not setting:
            pytest.skip("harness.api_url_setting is not declared (url_checks downgrades https answers itself)")
        served = gateway_harness.settings("http://127.0.0.1:9/unused").get(setting, "")
        assert served, f"harness.api_url_setting names {setting!r}, which harness.settings() does not set"
        if not served.startswith(PLAIN):
            pytest.skip(f"{setting} is already {served!r}: url_checks downgrades its answers")
        secure = SECURE + served.removeprefix(PLAIN)
        gateway = gateway_factory({setting: secure})
        fields = redirect_order_fields(gateway)

        def over_plain_http(upgrade: bool) -> Callable[..., requests.Response]:
            def change(index: int, request: requests.PreparedRequest, send: Callable[[], Any]) -> requests.Response:
                if (request.url or "").startswith(secure):
                    request.url = served + (request.url or "").removeprefix(secure)
                answered: requests.Response = send()
                if upgrade:  # the control: the same answer, every plain http address made https
                    try:
                        body = answered.json()
                    except ValueError:
                        return answered
                    answered._content = json.dumps(with_secure_urls(body)).encode()
                return answered

            return change

        with intercepted(over_plain_http(upgrade=True), spare=gateway.url) as sent:
            control = gateway.post_order(**fields, return_url="https://shop.example/back")
        assert sent, f"with {setting}={secure!r} the provider sent nothing: does it read {setting}?"
        assert control.status_code == 201, (
            f"with {setting}={secure!r} and the simulator's answer addresses made https, POST /v1/orders answered "
            f"{control.status_code}: {control.get_json()}"
        )
        control_url = (control.get_json().get("next_action") or {}).get("url") or ""
        if not control_url.startswith(SECURE):
            pytest.skip("the order's next action carries no https address from the provider's answer")

        with intercepted(over_plain_http(upgrade=False), spare=gateway.url):
            response = gateway.post_order(**fields, return_url="https://shop.example/back")
        assert response.status_code == 201 or is_unknown(response), (
            f"with a plain http address in the answer, POST /v1/orders answered {response.status_code}: "
            f"{response.get_json()}; such an answer is unclear (raise OutcomeUnknown), never a crash"
        )
        if response.status_code == 201:
            url = (response.get_json().get("next_action") or {}).get("url") or ""
            assert not url.startswith(PLAIN), (
                f"the provider is configured at {secure}, its answer gave {url!r}, and the order sends the payer's "
                "browser there: accept plain http only where the provider's own address is plain http"
            )


def with_secure_urls(value: Any) -> Any:
    """`value` (a JSON answer) with every plain http address in it made https."""
    if isinstance(value, dict):
        return {key: with_secure_urls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [with_secure_urls(item) for item in value]
    if isinstance(value, str) and value.startswith(PLAIN):
        return SECURE + value.removeprefix(PLAIN)
    return value
