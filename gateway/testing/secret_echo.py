"""Kit check of a provider's error that quotes the gateway's own secret back: it is shown nowhere.

Part of `ProviderConformance`. Some providers echo the request in their errors, credential included
(an API key in "Invalid API Key provided: sk_live_..."), and a plugin passes the provider's words on:
to the merchant in `provider_error.message`, to the order's record, to the log. Each of the harness's
`refusal_answers` (a JSON body) is given in answer to a create with one text in it at a time followed by
the first of `secrets()`, whole; whatever the plugin makes of it (a refusal, an unclear answer), the
secret appears in neither the API's answer, nor the order as the API shows it, nor a log line
(tracebacks included; the HTTP libraries' own lines aside, which show requests as sent), nor anything
the gateway stores. A refusal of another form than JSON is not changed. Undeclared, skipped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gateway.testing.harness import ProviderAnswer, ProviderHarness
from gateway.testing.leaks import shown
from gateway.testing.live import LiveGateway
from gateway.testing.refusals import acting_call, refused_by

HTTP = ("urllib3", "werkzeug")  # the HTTP client's and the simulator's loggers: requests as sent


def quoting(refusal: ProviderAnswer, secret: str) -> Iterator[tuple[str, ProviderAnswer]]:
    """`refusal` with each text of its JSON body in turn followed by `secret`: (where, the answer)."""
    try:
        body = json.loads(refusal.body)
    except ValueError:
        return
    for path in _text_paths(body):
        changed = json.loads(refusal.body)
        holder = changed
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = f"{holder[path[-1]]} (sent with key {secret})"
        yield ".".join(map(str, path)), dataclasses.replace(refusal, body=json.dumps(changed, ensure_ascii=False))


def _text_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str) and path:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _text_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _text_paths(item, (*path, index))


class SecretEchoChecks:
    def test_a_provider_error_that_quotes_the_secret_never_shows_it(
        self,
        gateway_harness: ProviderHarness,
        gateway_factory: Callable[..., LiveGateway],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        harness = gateway_harness
        if not harness.refusal_answers:
            pytest.skip("harness.refusal_answers is empty: declare the provider's own refusals as it sends them")
        secret = next((value for value in harness.secrets() if value), None)
        assert secret, "harness.secrets() is empty"
        # A refusal whose words now quote a key may read as the gateway's settings refused: with the account's
        # breaker shut for good, every variant still reaches the plugin.
        gateway = gateway_factory({"GATEWAY_BREAKER_FAILURES": "0"})
        caplog.set_level(logging.DEBUG)
        acting = acting_call(gateway, gateway.post_order)
        tried = 0
        for refusal in harness.refusal_answers:
            for where, quoted in quoting(refusal, secret):
                tried += 1
                with refused_by(quoted, gateway, acting):
                    response = gateway.post_order()
                answer = response.get_json(silent=True) or {}
                assert response.status_code != 201 and answer.get("provider_error"), (
                    f"the provider's refusal {quoted.body} answered {response.status_code}: {answer}; the kit meant it "
                    "for the call that creates the order, and expected a refusal or an unclear answer"
                )
                order_id = answer.get("order_id")
                the_order = gateway.client.get(f"/v1/orders/{order_id}").get_data(as_text=True) if order_id else ""
                places = (
                    ("the API's answer", response.get_data(as_text=True)),
                    ("the order as the API shows it", the_order),
                )
                for what, text in places:
                    assert shown(secret, text) is None, (
                        f"the provider's refusal {refusal.body} with its {where} quoting harness.secrets()[0] back "
                        f"(as a provider that echoes the request's credential does): the secret is in {what}: "
                        f"{text[:300]}; take the secret out of the provider's words before they go anywhere"
                    )
        if not tried:
            pytest.skip("no refusal_answers body is JSON with text in it")
        assert shown(secret, gateway.stored_text()) is None, (
            "a provider refusal quoting harness.secrets()[0] back put it in what the gateway stores"
        )
        lines = [caplog.handler.format(record) for record in caplog.records if not record.name.startswith(HTTP)]
        leaked = [line for line in lines if shown(secret, line)]
        assert not leaked, (
            f"a provider refusal quoting harness.secrets()[0] back put it in the log: {leaked[0][:300]}; take the "
            "secret out of the provider's words before they are logged"
        )
