"""Kit checks of what the provider sees back: the reply to its notifications, and every declared channel.

Part of `ProviderConformance`.

- With `ProviderHarness.accepted_reply` declared, every notification the gateway accepts (applied,
  duplicate, ignored) is answered with exactly that status and body, and a refused one never is: the
  kit otherwise compares replies with the provider's own `acknowledge`, which cannot catch an
  acknowledgement the provider would not understand (and so re-send for days).
- Every declared channel that needs no `provider_options` (or has them in `channel_options`), and each
  of `more_channel_options`, creates an order, with a next action of a type the channel declares: a
  channel (or a channel's option) declared and never driven is one whose code no test runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from gateway.plugin.provider import NextActionType, Verdict
from gateway.testing.live import LiveGateway, Reply
from gateway.testing.not_created import default_options


class ReplyChecks:
    def test_accepted_notifications_get_the_reply_the_provider_needs(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        expected = harness.accepted_reply
        if expected is None:
            pytest.skip("harness.accepted_reply is not declared: the reply your provider needs to stop re-sending")
        order = gateway.new_order()
        replies: dict[str, Reply] = {}
        replies[Verdict.IGNORED] = gateway.notify(harness.unpaid_notification(order))
        paid = gateway.paid_notification(order)
        replies[Verdict.BAD_SIGNATURE] = gateway.notify(harness.tamper(paid))
        replies[Verdict.APPLIED] = gateway.notify(paid)
        replies[Verdict.DUPLICATE] = gateway.notify(paid)
        assert gateway.verdicts() == [Verdict.IGNORED, Verdict.BAD_SIGNATURE, Verdict.APPLIED, Verdict.DUPLICATE]
        wanted = Reply(expected.status, expected.body)
        for verdict, reply in replies.items():
            if Verdict(verdict).accepted:
                assert reply == wanted, (
                    f"a notification judged {verdict} was answered {reply}, not {wanted} (harness.accepted_reply): "
                    "the provider would take it for a failure and send it again"
                )
            else:
                assert reply != wanted, f"a notification judged {verdict} was answered as an accepted one: {reply}"

    def test_every_declared_channel_creates_an_order(self, gateway_under_test: LiveGateway) -> None:
        gateway, harness = gateway_under_test, gateway_under_test.harness
        info, created, skipped = gateway.provider.info, [], []
        ways = [(name, None) for name in info.channels] + [
            (name, options) for name, options in harness.more_channel_options if name in info.channels
        ]
        for name, options in ways:
            channel = info.channel(name)
            fields = channel_fields(harness, channel.name, channel.required_fields, channel.currencies, options)
            if fields is None:
                skipped.append(name)
                continue
            response = gateway.post_order(**fields)
            assert response.status_code == 201, (
                f"an order in declared channel {name} ({fields}) answered {response.status_code}: {response.get_json()}"
            )
            action = response.get_json().get("next_action") or {}
            assert action.get("type") in channel.next_actions, (
                f"channel {name} declares next actions {[str(a) for a in channel.next_actions]}, its order has {action}"
            )
            if action.get("type") == NextActionType.REDIRECT_TO_URL:
                assert str(action.get("url", "")).startswith(("https://", "http://")), action
            created.append(name)
        if not created:
            pytest.skip(f"every declared channel needs provider_options (declare channel_options): {skipped}")


def channel_fields(
    harness: Any,
    name: str,
    required: tuple[str, ...],
    currencies: tuple[str, ...],
    given: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """`post_order` fields for an order in channel `name` (with the options `given`, else the harness's own
    or `channel_options`), or None when the kit lacks its options."""
    options = dict(given if given is not None else default_options(harness, name))
    needed = [field.removeprefix("provider_options.") for field in required if field.startswith("provider_options.")]
    if any(option not in options for option in needed):
        return None
    currency = harness.currency if harness.currency in currencies else currencies[0]
    fields: dict[str, Any] = {"channel": name, "currency": currency, "provider_options": options}
    if "return_url" in required:
        fields["return_url"] = "https://shop.example/orders/42/return"
    return fields
