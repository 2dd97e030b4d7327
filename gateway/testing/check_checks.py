"""Kit checks of `Provider.check`, what `gateway check` runs before an operator trusts a deployment.

Part of `ProviderConformance`, for a provider that implements `check` (others skip). With the
harness's settings it answers; with the first of `secrets()` replaced by another value of the same
shape it raises `ProviderMisconfigured` (the gateway itself refused): a check that passes whatever the
key is tells the operator nothing. The refused secret appears nowhere: not in the error, not in a log line,
not in the API's answer to an order made with it. A plugin that shows the key it sent, to help an operator
compare it with the provider's dashboard, hands it to whoever reads the logs.

A check told that its order that cannot exist does exist (the kit answers its last call with the
provider's genuine answer to a query of a real order) never passes: the provider said something the check cannot
explain, which is `OutcomeUnknown`, with the harness's `invalid_answer_code` where it declares one
(`gateway check` shows the code to the operator). A check that took any readable answer for a working
connection would pass whatever the provider said.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import requests

from gateway.plugin.provider import Operation, OutcomeUnknown, Provider, ProviderError, ProviderMisconfigured
from gateway.testing.answer_fields import order_ref
from gateway.testing.harness import ProviderHarness
from gateway.testing.leaks import shown
from gateway.testing.live import LiveGateway
from gateway.testing.wire import answer, intercepted

HTTP = ("urllib3", "werkzeug")  # the loggers of the HTTP client and of the simulator's server


class CheckChecks:
    def test_the_connection_check_passes_and_fails_a_wrong_secret(
        self,
        gateway_harness: ProviderHarness,
        gateway_factory: Callable[..., LiveGateway],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        gateway = gateway_factory()
        if type(gateway.provider).check is Provider.check:
            pytest.skip("the provider implements no check() (`gateway check` says so)")
        said = gateway.provider.check()
        assert isinstance(said, str) and said, f"check() with the harness's settings returned {said!r}"
        settings = dict(gateway_harness.settings(gateway.url))
        secret = next((s for s in gateway_harness.secrets() if s), None)
        name = next((key for key, value in settings.items() if value == secret), None)
        if name is None:
            pytest.skip("no setting holds harness.secrets()[0] as its whole value")
        assert secret is not None
        wrong = secret[:-4] + ("0000" if not secret.endswith("0000") else "1111")
        misconfigured = gateway_factory({name: wrong})
        try:
            answer = misconfigured.provider.check()
        except ProviderError as error:
            assert isinstance(error, ProviderMisconfigured), (
                f"with {name} wrong, check() raised {type(error).__name__} ({error.code}): the provider refused the "
                "gateway's credentials, which is ProviderMisconfigured (operators are alerted, `gateway check` "
                "names it), not a plain refusal of one request nor an unclear answer"
            )
            order_answer = misconfigured.post_order().get_data(as_text=True)
            for where, text in (
                ("check()'s error", f"{error} {error.code} {error.message}"),
                ("an order's answer", order_answer),
            ):
                piece = shown(wrong, text)
                assert piece is None, (
                    f"the refused {name} ({'whole' if piece == wrong else repr(piece)}) is in {where}: {text[:300]}"
                )
            # The plugin's and the gateway's lines, tracebacks included; not the HTTP libraries' own request lines,
            # which show a URL as it was sent (a provider may take its credential there) and the simulator's.
            lines = [caplog.handler.format(record) for record in caplog.records if not record.name.startswith(HTTP)]
            leaked = [line for line in lines if shown(wrong, line)]
            assert not leaked, f"the refused {name} is in the log: {leaked[0][:300]}"
            return
        pytest.fail(f"with {name} wrong, check() still said {answer!r}: it must make a call the secret is checked on")

    def test_a_connection_check_told_its_impossible_order_exists_never_passes(
        self, gateway_under_test: LiveGateway
    ) -> None:
        gateway = gateway_under_test
        if type(gateway.provider).check is Provider.check:
            pytest.skip("the provider implements no check() (`gateway check` says so)")
        if Operation.QUERY not in gateway.provider.operations:
            pytest.skip("the provider does not declare the query operation, whose answer the kit replays")
        order = gateway.paid_order()
        answers: list[requests.Response] = []

        def keep(
            index: int, request: requests.PreparedRequest, send: Callable[[], requests.Response]
        ) -> requests.Response:
            answers.append(send())
            return answers[-1]

        with intercepted(keep, spare=gateway.url):
            gateway.provider.query_order(order_ref(gateway.order(order["id"])))
        assert answers, "the provider's query_order made no call over `requests`, so the kit has no answer to replay"
        genuine = answers[-1]

        with intercepted(lambda index, request, send: send(), spare=gateway.url) as made:
            gateway.provider.check()
        if not made:
            pytest.skip("check() made no call over `requests`, whose answer the kit could replace")
        asking = len(made) - 1  # the call that asks about the order; earlier ones (a token, say) are left alone

        def found(
            index: int, request: requests.PreparedRequest, send: Callable[[], requests.Response]
        ) -> requests.Response:
            answered = send()  # the provider hears the check's call; what comes back is about a real order
            if index != asking:
                return answered
            content_type = genuine.headers.get("Content-Type", "application/json")
            return answer(request, genuine.status_code, genuine.content, content_type)

        with intercepted(found, spare=gateway.url):
            try:
                said = gateway.provider.check()
            except ProviderError as error:
                raised: ProviderError | None = error
            else:
                raised = None
        assert raised is not None, (
            f"check() was answered with the provider's genuine answer about order {order['merchant_order_no']} "
            f"(a query of a real, paid order) and still said {said!r}: a check must pass only on the answer that "
            'proves its own call was taken ("no such order", say), never on any readable answer'
        )
        assert isinstance(raised, OutcomeUnknown), (
            f"check() answered about a real order raised {type(raised).__name__} ({raised.code}): the provider took "
            "the call and said something the check cannot explain, which is OutcomeUnknown, not a refusal of the "
            "gateway's credentials"
        )
        code = gateway.harness.invalid_answer_code
        assert code is None or raised.code == code, (
            f"check() answered about a real order raised OutcomeUnknown with the code {raised.code!r}, not "
            f"{code!r} (harness.invalid_answer_code), which `gateway check` shows the operator"
        )
