"""Kit checks of a plugin's start-up: each required setting missing in turn is refused, by name; each
optional one left out still takes every channel's orders.

Part of `ProviderConformance`. A plugin that starts without its key (or with a sandbox key in
its place) signs and verifies with a secret everyone knows; one that silently disables itself
turns a typo into lost payments. The harness declares its `required_settings`.

An optional setting (IOTPay: `IOTPAY_WX_APP_ID`, the WeChat app every WX_APP order is for) has a
place an order fills when it is left out (the order's `app_id`). The code for that case runs only
without the setting, which the kit's gateway otherwise always has: the harness declares its
`optional_settings`, and the kit starts a gateway without each.

A setting's default is a promise too: IOTPay confirms every paying notify by query unless told not to. A
plugin whose default changed passes every check that confirmation would make, skipped as "does not
confirm". The harness declares `confirms_notifications`, and the kit compares it with the plugin's
`info.confirm_notifications` on the harness's settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from gateway.plugin import ConfigError
from gateway.plugin.provider import ChannelInfo
from gateway.testing.harness import ProviderHarness
from gateway.testing.live import LiveGateway
from gateway.testing.not_created import default_options
from gateway.testing.reply_checks import channel_fields


class SettingsChecks:
    def test_each_required_setting_missing_is_refused_at_start_by_name(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        required = list(gateway_harness.required_settings)
        if not required:
            pytest.skip("harness.required_settings declares none")
        problems: dict[str, str] = {}
        for name in required:
            try:
                gateway_factory(without=[name])
            except Exception as refusal:  # ConfigError is expected; whatever it is, it must name it
                if name not in str(refusal):
                    problems[name] = f"refused without naming it: {str(refusal).splitlines()[0]}"
                continue
            problems[name] = "the gateway started with the provider enabled (a default or a sandbox secret?)"
        assert not problems, f"with one required setting missing, start-up must raise ConfigError naming it: {problems}"

    def test_each_optional_setting_left_out_every_channel_still_takes_its_orders(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway]
    ) -> None:
        optional = gateway_harness.optional_settings
        if not optional:
            pytest.skip("harness.optional_settings declares none")
        # Which channels the kit can order in is judged with every setting: without one, a channel asking for
        # more than the harness names in its place is what the check is for, not a channel to skip.
        usual = {channel.name: channel for channel in gateway_factory().provider.info.channel_info}
        for name, in_its_place in optional.items():
            gateway = gateway_factory(without=[name])
            assert name in gateway_harness.settings(gateway.url), (
                f"harness.optional_settings names {name}, which harness.settings() does not set: the kit's other "
                "checks would never run with it"
            )
            info = gateway.provider.info  # without the setting: the channels it declares then
            missing = sorted(set(in_its_place) - set(info.channels))
            assert not missing, f"without {name}, channels {missing} are no longer declared"
            created = [
                _created_without(gateway, name, usual.get(channel.name, channel), in_its_place)
                for channel in info.channel_info
            ]
            assert set(in_its_place) <= set(filter(None, created)) and any(created), (
                f"without {name}, the kit created orders in {[c for c in created if c]} only: it needs options for "
                f"every channel named in harness.optional_settings ({sorted(in_its_place)}) and one at least"
            )
            for channel_name, options in in_its_place.items():
                _refused_without(gateway, name, channel_name, options)

    @pytest.mark.parametrize(
        "address",
        ["http://pay.example.com/api", "https://169.254.169.254/latest"],
        ids=["plain_http_elsewhere", "cloud_metadata"],
    )
    def test_an_unsafe_api_address_is_refused_at_start_by_name(
        self, gateway_harness: ProviderHarness, gateway_factory: Callable[..., LiveGateway], address: str
    ) -> None:
        # Signed requests over plain http to another machine can be read and answered by anyone on the way (and
        # an unsigned answer believed); the metadata address hands the provider's calls to the cloud's credentials.
        name = gateway_harness.api_url_setting
        if name is None:
            pytest.skip("harness.api_url_setting is not declared")
        try:
            gateway_factory({name: address}, without=["GATEWAY_ALLOW_PLAIN_HTTP", "GATEWAY_SANDBOX"])
        except ConfigError as refusal:
            assert refusal.variable == name, f"{name}={address} was refused naming {refusal.variable}: {refusal}"
            return
        pytest.fail(
            f"the gateway started with {name}={address}: read the provider's address with Settings.service_url "
            "(https, or plain http to this machine only; never a link-local or metadata address)"
        )

    def test_notifications_are_confirmed_by_query_as_the_harness_declares_by_default(
        self, gateway_under_test: LiveGateway
    ) -> None:
        declared = gateway_under_test.harness.confirms_notifications
        if declared is None:
            pytest.skip("harness.confirms_notifications is not declared")
        confirms = gateway_under_test.provider.info.confirm_notifications
        assert confirms is declared, (
            f"on the harness's settings alone, info.confirm_notifications is {confirms}, and the harness declares "
            f"{declared} (harness.confirms_notifications, as the provider's docs say): "
            + (
                "a notification's signature alone would pay orders by default"
                if declared
                else "every notification would wait for a query the provider's docs do not ask for"
            )
        )


def _created_without(
    gateway: LiveGateway, setting: str, channel: ChannelInfo, in_its_place: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """Without `setting`, an order in `channel` (as declared with every setting; with what takes the setting's
    place there) is created: its name; None when the kit has no options for the channel."""
    harness = gateway.harness
    given = {**default_options(harness, channel.name), **in_its_place.get(channel.name, {})}
    fields = channel_fields(harness, channel.name, channel.required_fields, channel.currencies, given)
    if fields is None:
        return None
    response = gateway.post_order(**fields)
    assert response.status_code == 201, (
        f"without {setting}, an order in channel {channel.name} with provider_options {given} answered "
        f"{response.status_code}: {response.get_json(silent=True)}: {setting} is optional "
        "(harness.optional_settings), and only the channels it names need something in its place"
    )
    return channel.name


def _refused_without(gateway: LiveGateway, setting: str, channel: str, options: Mapping[str, Any]) -> None:
    """Without `setting`, an order in `channel` that leaves out `options` is refused, naming each."""
    harness = gateway.harness
    given = {key: value for key, value in default_options(harness, channel).items() if key not in options}
    info = gateway.provider.info.channel(channel)
    public = tuple(field for field in info.required_fields if not field.startswith("provider_options."))
    fields = channel_fields(harness, channel, public, info.currencies, given)
    assert fields is not None  # with no required options, channel_fields always gives fields
    response = gateway.post_order(**fields)
    named = (response.get_json(silent=True) or {}).get("errors") or {}
    missing = [f"provider_options.{key}" for key in options if f"provider_options.{key}" not in named]
    assert response.status_code == 422 and not missing, (
        f"without {setting}, an order in channel {channel} without {sorted(options)} answered "
        f"{response.status_code}: {response.get_json(silent=True)}: expected a 422 naming {missing or sorted(options)} "
        f"(nothing takes {setting}'s place, so the provider would refuse the order)"
    )
    # What an order must carry is what `/v1/providers` tells a checkout to ask for (ChannelInfo.required_fields).
    unlisted = [f"provider_options.{key}" for key in options if f"provider_options.{key}" not in info.required_fields]
    assert not unlisted, (
        f"without {setting}, channel {channel} refuses an order without {unlisted}, yet its required_fields "
        f"{list(info.required_fields)} (what /v1/providers lists) leave them out: a checkout that builds its form "
        "from them never asks for them. List them while the setting is left out"
    )
