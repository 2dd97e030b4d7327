"""/v1 refunds: create, list per order, fetch one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView

from gateway.domain.idempotency import Claim
from gateway.domain.refunds import create_refund, get_refund, list_refunds, refund_answer
from gateway.domain.schemas import ApiErrorSchema, RefundCreateSchema, RefundSchema
from gateway.store.models import Refund
from gateway.web.api import authenticate
from gateway.web.blueprint import Blueprint
from gateway.web.context import current_gateway
from gateway.web.errors import ApiError
from gateway.web.idempotent import HEADER, REPLAYED_HEADER, idempotent
from gateway.web.openapi_examples import REFUND_EXAMPLE

blp = Blueprint("v1_refunds", __name__, url_prefix="/v1", description="Refunds")
blp.before_request(authenticate)


def resumed_refund(refund_id: str) -> Refund:
    gateway = current_gateway()
    return refund_answer(gateway, get_refund(gateway, refund_id))


def key_required() -> ApiError:
    """Without a key or a reference, a retry after a lost answer could not be told from a second refund."""
    return ApiError(
        428,
        "idempotency_key_required",
        f"A refund needs an {HEADER} header (a new UUID per refund, the same one when retrying it) or a "
        "`reference` field unique per order, so that a retry never refunds twice.",
        {HEADER: ["required unless the body has a reference"]},
    )


@blp.route("/orders/<order_id>/refunds")
class OrderRefunds(MethodView):
    @idempotent(resume=lambda refund_id: (RefundSchema().dump(resumed_refund(refund_id)), 201))
    @blp.arguments(RefundCreateSchema(), example=REFUND_EXAMPLE)
    @blp.response(201, RefundSchema, description="succeeded, or accepted by the provider and still pending")
    @blp.alt_response(409, schema=ApiErrorSchema, description="the order is not paid")
    @blp.alt_response(422, schema=ApiErrorSchema, description="invalid, or more than is left to refund")
    @blp.alt_response(428, schema=ApiErrorSchema, description="neither an Idempotency-Key nor a reference")
    @blp.alt_response(502, schema=ApiErrorSchema, description="the provider refused; the refund is failed")
    @blp.alt_response(504, schema=ApiErrorSchema, description="outcome unknown; the refund stays unknown")
    def post(
        self, fields: dict[str, Any], order_id: str, idempotency_claim: Claim | None
    ) -> Refund | tuple[Refund, int, dict[str, str]]:
        """Refund part or all of a paid order. Send an Idempotency-Key header, or a `reference` unique per
        order: a retry then never refunds twice."""
        if idempotency_claim is None and fields.get("reference") is None:
            raise key_required()
        created = create_refund(current_gateway(), order_id, fields, idempotency_claim)
        if created.replayed:
            return created.refund, 201, {REPLAYED_HEADER: "true"}
        return created.refund

    @blp.response(200, RefundSchema(many=True))
    def get(self, order_id: str) -> Sequence[Refund]:
        """The order's refunds, oldest first."""
        return list_refunds(current_gateway(), order_id)


@blp.route("/refunds/<refund_id>")
class RefundById(MethodView):
    @blp.response(200, RefundSchema)
    @blp.alt_response(404, schema=ApiErrorSchema)
    def get(self, refund_id: str) -> Refund:
        """One refund."""
        return get_refund(current_gateway(), refund_id)
