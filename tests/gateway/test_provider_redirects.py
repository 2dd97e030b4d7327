"""A provider's URL that answers a redirect: never followed, always an unknown outcome (gateway.plugin.http).

Real sockets throughout: the gateway's provider URL is a local server that either passes calls to
the provider's simulator or answers 307 to a second local server, the simulator again, which would
answer "success". Following the redirect would re-send the signed request there and believe it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Response

from gateway.testing.harness import ProviderHarness
from gateway.testing.live import LiveGateway, LiveServer
from tests.iotpay.harness import IotPayHarness
from tests.stripe.harness import StripeHarness


class Redirector:
    """The provider's URL as the gateway knows it: passes calls to the simulator, or answers `status`
    with a Location on `target`, a server that records every call and then lets the simulator answer."""

    def __init__(self, simulator: Callable[..., Any], status: int = 307) -> None:
        self.simulator = simulator
        self.status = status
        self.redirecting = False
        self.followed: list[str] = []  # requests that reached the redirect's target
        self._lock = threading.Lock()
        self.target = LiveServer(self._target)
        self.server = LiveServer(self._front)

    def _front(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not self.redirecting:
            return self.simulator(environ, start_response)
        query = environ.get("QUERY_STRING", "")
        location = f"{self.target.url}{environ['PATH_INFO']}" + (f"?{query}" if query else "")
        return Response("", self.status, headers={"Location": location})(environ, start_response)

    def _target(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._lock:
            self.followed.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return self.simulator(environ, start_response)

    def stop(self) -> None:
        self.server.stop()
        self.target.stop()


@pytest.fixture(params=[IotPayHarness, StripeHarness], ids=["iotpay", "stripe"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> ProviderHarness:
    harness: ProviderHarness = request.param(tmp_path)
    return harness


@pytest.fixture
def redirector(gateway_harness: Any) -> Iterator[Redirector]:
    # Both harnesses serve their simulator through an Interceptor: the WSGI app behind their URL.
    redirector = Redirector(gateway_harness._interceptor)
    yield redirector
    redirector.stop()


@pytest.fixture
def gateway(
    gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway], redirector: Redirector
) -> LiveGateway:
    """A gateway whose provider URL is the redirector's (every setting that named the simulator's URL)."""
    simulator_url = gateway_harness.url  # type: ignore[attr-defined]
    through = {
        name: value.replace(simulator_url, redirector.server.url)
        for name, value in gateway_harness.settings("http://127.0.0.1:9/unused").items()
        if value.startswith(simulator_url)
    }
    assert through, "no setting names the simulator's URL"
    return gateway_factory(through)


def assert_logged_as_an_error(caplog: pytest.LogCaptureFixture, status: int) -> None:
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert any(f"HTTP {status}, a redirect" in message for message in errors), errors


@pytest.mark.parametrize("status", [307, 308, 302, 301])
def test_a_redirected_create_is_unknown_and_the_other_host_is_never_called(
    gateway: LiveGateway, redirector: Redirector, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    redirector.redirecting, redirector.status = True, status

    response = gateway.post_order()

    answer = response.get_json()
    assert (response.status_code, answer["error"]) == (502, "provider_outcome_unknown"), answer
    assert answer["provider_error"]["code"] == "redirect"
    assert gateway.order(answer["order_id"])["status"] == "pending"  # never failed, never paid
    assert redirector.followed == []
    assert_logged_as_an_error(caplog, status)
    secrets = gateway.harness.secrets()
    assert not [secret for secret in secrets if secret in caplog.text or secret in response.get_data(as_text=True)]


def test_a_redirected_query_is_unknown_and_leaves_the_order_as_it_was(
    gateway: LiveGateway, redirector: Redirector, caplog: pytest.LogCaptureFixture
) -> None:
    order = gateway.new_order()
    gateway.harness.pay_without_notifying(order)  # paid at the provider: the target would answer "paid"
    redirector.redirecting = True

    response = gateway.refresh(order["id"])

    answer = response.get_json()
    assert (response.status_code, answer["error"]) == (502, "provider_outcome_unknown"), answer
    assert gateway.order(order["id"])["status"] == "pending"
    assert redirector.followed == []
    assert_logged_as_an_error(caplog, 307)


def test_a_redirected_refund_is_unknown_and_never_reaches_the_other_host(
    gateway: LiveGateway, redirector: Redirector, caplog: pytest.LogCaptureFixture
) -> None:
    order = gateway.paid_order()
    redirector.redirecting = True

    response = gateway.refund(order["id"], order["amount"])

    answer = response.get_json()
    assert (response.status_code, answer["error"]) == (502, "provider_outcome_unknown"), answer
    assert [refund["status"] for refund in gateway.refunds(order["id"])] == ["unknown"]
    assert redirector.followed == []
    assert gateway.harness.refunded_amount(order) == 0
    assert_logged_as_an_error(caplog, 307)
