"""The kit's test orders carry what their channel requires: a harness whose channel is a redirect
checkout (`return_url` among its required fields) gets orders the gateway accepts, in every kit check
that creates one (`LiveGateway.post_order`, and the two-account check)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gateway.plugin import ChannelInfo, NextActionType, ProviderInfo, iso_currencies
from gateway.testing.live import LiveGateway

INFO = ProviderInfo(
    name="hosted",
    display_name="Hosted",
    channels=("cashier", "app"),
    currencies=iso_currencies("USD"),
    channel_info=(ChannelInfo("cashier", (NextActionType.REDIRECT_TO_URL,), required_fields=("return_url",)),),
)


def fields(harness_channel: str, **overrides: object) -> dict[str, object]:
    harness = SimpleNamespace(provider_name="hosted", channel=harness_channel, amount=1000, currency="USD")
    harness.order_options = dict
    live = SimpleNamespace(harness=harness, provider=SimpleNamespace(info=INFO))
    return LiveGateway.order_fields(live, **overrides)  # type: ignore[arg-type]


def test_an_order_in_a_channel_that_requires_return_url_carries_one() -> None:
    assert str(fields("cashier")["return_url"]).startswith("https://")


@pytest.mark.parametrize("channel", ["app", "cashier"])
def test_a_given_return_url_is_kept_and_none_is_added_where_not_required(channel: str) -> None:
    assert fields(channel, return_url="https://shop.example/back")["return_url"] == "https://shop.example/back"
    assert "return_url" not in fields("app")
    assert "return_url" in fields("app", channel="cashier")  # the channel an override names decides
