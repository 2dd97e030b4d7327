"""GET /pay: a reference merchant API for mobile apps, with the default provider.

The app sends a channel and an amount in major units (dollars); it gets back the pay_params
object its payment SDK needs. Amounts are parsed as Decimal text, never as floats (19.99 -> 1999).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask.views import MethodView

from gateway.errors import Invalid
from gateway.money import InvalidAmount, format_major_units, parse_major_units
from gateway.orders import create_order
from gateway.schemas import ApiErrorSchema, PayQuerySchema
from gateway.views.blueprint import Blueprint
from gateway.views.context import current_gateway
from gateway.views.errors import ApiError, validation_error

blp = Blueprint("pay", __name__, description="Reference merchant API for mobile apps")


@blp.route("/pay")
class Pay(MethodView):
    @blp.arguments(PayQuerySchema, location="query")
    @blp.alt_response(200, description="the payParams object for the app's payment SDK")
    @blp.alt_response(422, schema=ApiErrorSchema)
    def get(self, args: dict[str, Any]) -> Response:
        """Create an order with the default provider; answer its payParams (order id in a header)."""
        gateway = current_gateway()
        if not gateway.settings.flag("GATEWAY_PAY_ENDPOINT", default=True):
            raise ApiError(404, "not_found", "The /pay endpoint is turned off (GATEWAY_PAY_ENDPOINT=0).")
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
