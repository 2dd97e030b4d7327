"""The examples /docs' "Try it out" sends: each one is accepted by this deployment as it comes.

Without them Swagger UI makes its own from the schemas, and the API refuses what it makes up
(`provider_options: {"additionalProp1": ...}`, no `channel`). An order's channel and currency
depend on the providers enabled here, so the order and /pay examples are rewritten per
deployment from the default provider: an app SDK channel that needs no extra field, and a
currency it takes on that channel, with the amount written in that currency's own digits.
tests/gateway/test_openapi_examples.py sends every one of them to a sandbox gateway.
"""

from __future__ import annotations

from typing import Any

from gateway.domain.core import Gateway
from gateway.plugin.money import format_major_units
from gateway.plugin.provider import NextActionType, Provider

# What a checkout backend would send: the smallest order that says everything a payer sees.
ORDER_EXAMPLE: dict[str, Any] = {
    "channel": "WX_APP",
    "amount": 2856,
    "currency": "CAD",
    "subject": "Coffee beans",
    "body": "1kg medium roast",
    "metadata": {"cart_id": "42"},
}
REFUND_EXAMPLE: dict[str, Any] = {"amount": 100, "reason": "one bag returned", "reference": "return-1"}
# A `reference` rather than an Idempotency-Key example: a refund needs one of them, and a second
# click on the same order replays the first refund rather than making another.


def add(doc: dict[str, Any], gateway: Gateway) -> None:
    """Fit the order and /pay examples to the default provider's channels and currencies."""
    if gateway.default_provider is None:
        return
    provider = gateway.providers[gateway.default_provider]
    choice = _app_sdk_channel(provider)
    if choice is None:
        return
    channel, currency = choice
    paths = doc.get("paths", {})
    body = paths.get("/v1/orders", {}).get("post", {}).get("requestBody", {}).get("content", {})
    for media in body.values():
        if "example" in media:
            media["example"] = {**media["example"], "channel": channel, "currency": currency}
    amount = format_major_units(ORDER_EXAMPLE["amount"], currency, provider.info.currencies[currency])
    examples = {"channelid": channel, "amount": amount, "currency": currency}
    for parameter in paths.get("/pay", {}).get("get", {}).get("parameters", []):
        if parameter.get("in") == "query" and parameter.get("name") in examples:
            parameter["example"] = examples[parameter["name"]]


def _app_sdk_channel(provider: Provider) -> tuple[str, str] | None:
    """The static example's channel and currency when the provider takes them, else its first fit."""
    fits = []
    for name in provider.info.channels:
        channel = provider.info.channel(name)
        if channel.next_actions[0] == NextActionType.SDK_PARAMS and not channel.required_fields:
            fits.append((name, channel.currencies))
    if not fits:
        return None
    for name, currencies in fits:
        if name == ORDER_EXAMPLE["channel"] and ORDER_EXAMPLE["currency"] in currencies:
            return name, ORDER_EXAMPLE["currency"]
    name, currencies = fits[0]
    return name, currencies[0]
