"""GET /pay: a reference merchant API for mobile apps, with the default provider.

The app sends a channel and an amount in major units (dollars); it gets back the pay_params
object its payment SDK needs. Amounts are parsed as Decimal text, never as floats (19.99 -> 1999).

It needs no API key and creates a real provider order, so it is off unless the operator turns
it on (GATEWAY_PAY_ENDPOINT=1; the sandbox turns it on by default), each client IP may call it
only GATEWAY_PAY_RATE_LIMIT times, and HEAD (a link prefetcher, a probe) never creates anything.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Response, jsonify, request
from flask.views import MethodView
from werkzeug.exceptions import MethodNotAllowed

from gateway.domain.errors import Invalid
from gateway.domain.orders import create_order
from gateway.domain.ratelimit import rate
from gateway.domain.schemas import ApiErrorSchema, PayQuerySchema
from gateway.plugin.money import InvalidAmount, format_major_units, parse_major_units
from gateway.plugin.settings import Settings
from gateway.web.blueprint import Blueprint
from gateway.web.context import current_gateway
from gateway.web.errors import validation_error

if TYPE_CHECKING:  # Flask-Limiter is imported only when /pay is on (gateway.web.limiter)
    from flask_limiter import Limiter

log = logging.getLogger("gateway.views.pay")  # the name operators' log filters know

DEFAULT_RATE_LIMIT = "60/minute"

blp = Blueprint("pay", __name__, description="Reference merchant API for mobile apps")


def enabled(settings: Settings) -> bool:
    return settings.flag("GATEWAY_PAY_ENDPOINT", default=settings.sandbox)


def limit(limiter: Limiter, settings: Settings) -> None:
    """Rate-limit /pay per client IP, and say at start-up that it is on."""
    per_ip = rate(settings, "GATEWAY_PAY_RATE_LIMIT", DEFAULT_RATE_LIMIT)
    limiter.limit(per_ip)(blp)
    # Flask-Limiter looks at every request; only /pay has a limit, and /notify is the hot path.
    limiter.request_filter(lambda: request.blueprint != blp.name)
    log.warning("/pay is on: it creates orders without an API key, at most %s per client IP", per_ip)


@blp.route("/pay")
class Pay(MethodView):
    @blp.arguments(PayQuerySchema(), location="query")
    @blp.alt_response(200, description="the payParams object for the app's payment SDK")
    @blp.alt_response(422, schema=ApiErrorSchema)
    @blp.alt_response(429, schema=ApiErrorSchema, description="too many calls from this IP (GATEWAY_PAY_RATE_LIMIT)")
    def get(self, args: dict[str, Any]) -> Response:
        """Create an order with the default provider; answer its payParams (order id in a header)."""
        if request.method == "HEAD":  # Flask routes HEAD to GET; a prefetch or a probe must not create an order
            raise MethodNotAllowed(valid_methods=["GET"])
        gateway = current_gateway()
        provider = gateway.provider(None)
        currencies = provider.info.currencies
        currency = args.get("currency") or next(iter(currencies))
        if currency not in currencies:
            raise validation_error({"currency": [f"{provider.name} takes one of: {', '.join(currencies)}"]})
        channel = args["channelid"]
        if channel in provider.info.channels and provider.info.channel(channel).next_actions[0] != "sdk_params":
            # This endpoint answers an app SDK's parameters; QR, redirect and mini-program orders go through /v1/orders.
            raise validation_error(
                {"channelid": [f"{channel} is not an app SDK channel: create it with POST /v1/orders"]}
            )
        places = currencies[currency]
        try:
            amount = parse_major_units(args["amount"], currency, places)
        except InvalidAmount as exc:
            raise validation_error({"amount": [str(exc)]}) from None
        label = f"Payment of {format_major_units(amount, currency, places)} {currency}"
        fields = {
            "channel": channel,
            "amount": amount,
            "currency": currency,
            "subject": label,
            "body": label,
        }
        try:
            order = create_order(gateway, fields, request.remote_addr)
        except Invalid as exc:
            if "channel" in exc.errors:  # report it under this endpoint's own parameter name
                exc.errors["channelid"] = exc.errors.pop("channel")
            raise
        response = jsonify(order.pay_params)
        response.headers["Gateway-Order-Id"] = order.id
        return response
