"""/v1: the API that checkout backends call."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask.views import MethodView

from gateway.domain import qr_codes
from gateway.domain.idempotency import Claim
from gateway.domain.merchant_providers import offers_of
from gateway.domain.orders import create_order, evaluate_route, get_order, order_answer, refresh_order
from gateway.domain.qr_codes import qr_code_payload
from gateway.domain.schemas import (
    AccountProviderSchema,
    ApiErrorSchema,
    OrderCreateSchema,
    OrderQuerySchema,
    OrderSchema,
    ProviderSchema,
    QrCodeQuerySchema,
    RoutingDecisionSchema,
)
from gateway.store.models import DEFAULT_MERCHANT_ID, Order
from gateway.web.auth import current_caller, require_api_key, require_scope
from gateway.web.blueprint import Blueprint
from gateway.web.context import current_gateway
from gateway.web.idempotent import idempotent
from gateway.web.openapi_examples import ORDER_EXAMPLE

blp = Blueprint("v1", __name__, url_prefix="/v1", description="Orders and providers")


@blp.before_request
def authenticate() -> None:
    gateway = current_gateway()
    require_api_key(gateway.settings.api_keys, gateway)


@blp.route("/orders")
class Orders(MethodView):
    @idempotent(resume=lambda order_id: (OrderSchema().dump(_resumed_order(order_id)), 201))
    @blp.arguments(OrderCreateSchema(), example=ORDER_EXAMPLE)
    @blp.response(201, OrderSchema)
    @blp.alt_response(422, schema=ApiErrorSchema, description="invalid fields")
    @blp.alt_response(502, schema=ApiErrorSchema, description="the provider refused; provider_error keeps its code")
    @blp.alt_response(504, schema=ApiErrorSchema, description="the provider timed out; outcome unknown")
    def post(self, fields: dict[str, Any], idempotency_claim: Claim | None) -> Order:
        """Create an order at a provider and return the pay_params for the app's SDK (scope orders:write)."""
        caller = require_scope("orders:write")
        return create_order(current_gateway(), fields, request.remote_addr, idempotency_claim, caller.merchant_id)


def _resumed_order(order_id: str) -> Order:
    return order_answer(current_gateway(), order_id, require_scope("orders:write").merchant_id)


@blp.route("/orders/<order_id>")
class OrderById(MethodView):
    @blp.arguments(OrderQuerySchema(), location="query")
    @blp.response(200, OrderSchema)
    @blp.alt_response(404, schema=ApiErrorSchema)
    @blp.alt_response(504, schema=ApiErrorSchema, description="refresh=true and the provider did not answer")
    def get(self, args: dict[str, Any], order_id: str) -> Order:
        """An order; `status` becomes paid after a verified notify, or after `refresh=true` asks the provider."""
        caller = require_scope("orders:read")
        if args["refresh"]:
            return refresh_order(current_gateway(), order_id, caller.merchant_id)
        return get_order(current_gateway(), order_id, caller.merchant_id)


@blp.route("/orders/<order_id>/qr_code")
class OrderQrCode(MethodView):
    @blp.arguments(QrCodeQuerySchema(), location="query")
    @blp.response(200, content_type="image/svg+xml", description="the QR code as SVG (format=svg) or PNG (format=png)")
    @blp.alt_response(404, schema=ApiErrorSchema)
    @blp.alt_response(409, schema=ApiErrorSchema, description="the order's next action is not display_qr_code")
    def get(self, args: dict[str, Any], order_id: str) -> Response:
        """The QR code of a display_qr_code order, drawn from its next action's `data`."""
        caller = require_scope("orders:read")
        payload = qr_code_payload(get_order(current_gateway(), order_id, caller.merchant_id))
        image = qr_codes.render(payload, args["format"], args["scale"])
        return Response(image, content_type=qr_codes.MEDIA_TYPES[args["format"]])


@blp.route("/routing/evaluate")
class RoutingEvaluate(MethodView):
    @blp.arguments(OrderCreateSchema(), example=ORDER_EXAMPLE)
    @blp.response(200, RoutingDecisionSchema)
    @blp.alt_response(422, schema=ApiErrorSchema, description="invalid fields, as POST /v1/orders answers them")
    @blp.alt_response(502, schema=ApiErrorSchema, description="every account of the rule is behind an open breaker")
    def post(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A dry run of routing: the body of POST /v1/orders; answers the rule and the accounts in the order
        they would be tried. Calls no provider and stores nothing (scope orders:write)."""
        caller = require_scope("orders:write")
        return evaluate_route(current_gateway(), fields, request.remote_addr, caller.merchant_id)


@blp.route("/providers")
class Providers(MethodView):
    @blp.response(200, ProviderSchema(many=True))
    def get(self) -> list[Any] | Response:
        """Enabled providers with their channels and currencies. A stored merchant's key gets its own
        accounts instead: one item per account, each adding `account`, `account_name` and `enabled`
        (see the AccountProvider schema)."""
        gateway = current_gateway()
        merchant_id = current_caller().merchant_id
        if merchant_id == DEFAULT_MERCHANT_ID:
            return list(gateway.providers.values())
        return jsonify(AccountProviderSchema(many=True).dump(offers_of(gateway, merchant_id)))
