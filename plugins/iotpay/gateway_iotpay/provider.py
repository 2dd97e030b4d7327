"""IOTPay as a gateway `Provider`: signed create_order, verified notifies (SPEC.md sections 1-4)."""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from marshmallow import Schema, ValidationError, fields, validate

from gateway.money import iso_currencies
from gateway.provider import (
    MULTIPLE_REFUNDS,
    PARTIAL_REFUND,
    QUERY,
    REFUND,
    Acknowledgement,
    CreatedOrder,
    InboundRequest,
    InvalidOrder,
    Notification,
    NotificationRejected,
    NotifyPolicy,
    OrderDraft,
    OrderRef,
    OrderRequest,
    Provider,
    ProviderError,
    ProviderInfo,
    RefundRequest,
    RefundResult,
    Verdict,
)
from gateway_iotpay import schemas, signing
from gateway_iotpay.client import IotPayClient
from gateway_iotpay.config import IotPayConfig

log = logging.getLogger(__name__)

DEVICE = "WEB"

# errCodes that say IOTPay refused the request before acting on it (SPEC.md section 6). Every other
# code, documented or not (0010 system error, 0110 third-party time-out, 0111 third-party exception,
# 0118 DB error, anything new), may have left the request half done: never a definite refusal,
# because treating a refund that went through as failed would let it be refunded again.
REFUSAL_CODES = frozenset({"0011", "0012", "0013", "0014", "0015", "0112"})

# Where a wire field's problem shows up in the public API.
_PUBLIC_FIELD = {
    "subject": "subject",
    "body": "body",
    "clientIp": "client_ip",
    "osType": "provider_options.os_type",
    "extra": "provider_options.app_id",
    "device": "provider_options.device",
    "param1": "provider_options.param1",
    "param2": "provider_options.param2",
    "remarks": "provider_options.remarks",
}


class IotPayOptions(Schema):
    """`provider_options` accepted by IOTPay orders."""

    os_type = fields.String(validate=validate.OneOf(("IOS", "ANDROID")), metadata={"description": "ALIPAY_MOBILE"})
    app_id = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "WeChat open-platform app id (WX_APP)"}
    )
    device = fields.String(validate=validate.Length(max=64))
    param1 = fields.String(validate=validate.Length(max=64))
    param2 = fields.String(validate=validate.Length(max=64))
    remarks = fields.String(validate=validate.Length(max=200))


class IotPayProvider(Provider):
    def __init__(self, config: IotPayConfig, client: IotPayClient) -> None:
        self.config = config
        self.client = client
        self.info = ProviderInfo(
            name="iotpay",
            display_name="IOTPay",
            channels=schemas.APP_CHANNELS,
            currencies=iso_currencies(*schemas.CURRENCIES),
            sandbox=config.sandbox,
            # IOTPay v1 has no order-cancel API; refunds take any amount up to what is left.
            operations=frozenset({QUERY, REFUND, PARTIAL_REFUND, MULTIPLE_REFUNDS}),
            notifications=NotifyPolicy(
                signature="MD5 over every received field but sign, with the merchant key (upper-case hex)",
                acknowledgement="HTTP body exactly 'success'",
                retries="re-sent periodically, several times (about 6 over 15 minutes) until acknowledged",
            ),
        )

    @property
    def account_id(self) -> str:
        return self.config.mch_id

    # -- orders --

    def options_schema(self) -> Schema:
        return IotPayOptions()

    def validate_order(self, draft: OrderDraft) -> None:
        if draft.channel == "WX_APP" and not self._wx_app_id(draft):
            raise InvalidOrder({"provider_options.app_id": ["WX_APP needs a WeChat app id (or IOTPAY_WX_APP_ID)"]})
        wire = self._create_params(draft, merchant_order_no="0", notify_url="https://validation.invalid/n")
        wire["sign"] = "0" * 32
        problems = schemas.CreateOrderRequest().validate(wire)
        if problems:
            raise InvalidOrder({_PUBLIC_FIELD.get(name, name): list(msgs) for name, msgs in problems.items()})

    def create_order(self, request: OrderRequest) -> CreatedOrder:
        params = self._create_params(request.draft, request.merchant_order_no, request.notify_url)
        params["sign"] = signing.sign(params, self.config.secret_key)
        schemas.CreateOrderRequest().load(params)  # never send what IOTPay would refuse
        answer = self._business_call("create_order", params, schemas.CreateOrderResponse())
        if not answer.get("pay_order_id") or not isinstance(answer.get("pay_params"), dict):
            raise ProviderError("INVALID_RESPONSE", "IOTPay's answer has no payOrderId or payParams", definite=False)
        return CreatedOrder(
            provider_order_id=answer["pay_order_id"],
            pay_params=answer["pay_params"],
        )

    def _wx_app_id(self, draft: OrderDraft) -> str | None:
        return draft.options.get("app_id") or self.config.wx_app_id

    def _create_params(self, draft: OrderDraft, merchant_order_no: str, notify_url: str) -> dict[str, Any]:
        options = draft.options
        params: dict[str, Any] = {
            "mchId": self.config.mch_id,
            "mchOrderNo": merchant_order_no,
            "channelId": draft.channel,
            "currency": draft.currency,
            "amount": draft.amount,
            "clientIp": wire_client_ip(draft.client_ip),
            "device": options.get("device") or DEVICE,
            "notifyUrl": notify_url,
            "subject": draft.subject,
            "body": draft.body,
            "osType": options.get("os_type"),
            "param1": options.get("param1"),
            "param2": options.get("param2"),
            "remarks": options.get("remarks"),
            "jobNo": self.config.job_no,
        }
        if draft.channel == "WX_APP":
            # A JSON *string* inside the JSON; the signature covers exactly this text (SPEC 1.7).
            params["extra"] = json.dumps({"type": "apppay", "appId": self._wx_app_id(draft)}, separators=(",", ":"))
        return {name: value for name, value in params.items() if value not in (None, "")}

    def _business_call(
        self, operation: str, params: Mapping[str, Any], schema: Schema, *, result_required: bool = True
    ) -> dict[str, Any]:
        """The answer of a SUCCESS/SUCCESS call; ProviderError otherwise (SPEC.md section 2).

        `result_required=False` lets an answer without `resCode` through (refund answers document
        only retCode/retMsg), for the caller to judge from what it echoes.
        """
        raw = self.client.call(operation, params)
        try:
            answer: dict[str, Any] = schema.load(raw)
        except ValidationError as exc:
            raise ProviderError(
                "INVALID_RESPONSE", f"IOTPay's answer is malformed: {sorted(exc.messages)}", definite=False
            ) from None
        if answer["ret_code"] != "SUCCESS":
            # Communication-level failure: the request was refused before any business processing.
            raise ProviderError(answer["ret_code"], answer.get("ret_msg") or "communication failed")
        if answer.get("res_code") is None and not result_required:
            self._check_response_sign(operation, raw)
            return answer
        if answer.get("res_code") != "SUCCESS":
            code = answer.get("err_code") or answer.get("res_code") or "NO_RESULT"
            raise ProviderError(
                code,
                answer.get("err_code_des") or answer.get("ret_msg") or "IOTPay gave no business result",
                definite=code in REFUSAL_CODES,
            )
        self._check_response_sign(operation, raw)
        return answer

    def _check_response_sign(self, operation: str, raw: Mapping[str, Any]) -> None:
        if "sign" not in raw:
            return  # IOTPay does not document signed answers (SPEC.md section 2)
        scalars = {
            name: value for name, value in raw.items() if isinstance(value, (str, int)) and not isinstance(value, bool)
        }
        if signing.is_valid(scalars, self.config.secret_key):
            return
        if self.config.reject_bad_response_sign:
            raise ProviderError("INVALID_SIGN", f"IOTPay's {operation} answer has a wrong signature", definite=False)
        log.warning(
            "IOTPay %s answer has a signature that does not verify; accepted (IOTPAY_REJECT_BAD_RESPONSE_SIGN=0)",
            operation,
        )

    # -- query and refund --

    def query_order(self, order: OrderRef) -> Notification:
        params: dict[str, Any] = {"mchId": self.config.mch_id}
        if order.provider_order_id:
            params["payOrderId"] = order.provider_order_id
        else:
            params["mchOrderNo"] = order.merchant_order_no
        params["sign"] = signing.sign(params, self.config.secret_key)
        answer = self._business_call("query_order", params, schemas.QueryOrderResponse())
        if answer.get("mch_order_no") != order.merchant_order_no or answer.get("mch_id") != self.config.mch_id:
            raise ProviderError("INVALID_RESPONSE", "IOTPay answered about another order", definite=False)
        if answer.get("amount") is None or not answer.get("currency") or answer.get("status") is None:
            raise ProviderError("INVALID_RESPONSE", "IOTPay's answer lacks amount, currency or status", definite=False)
        status = answer["status"]
        # amount and currency are checked against the stored order by the core before anything moves.
        return Notification(
            merchant_order_no=order.merchant_order_no,
            amount=answer["amount"],
            currency=answer["currency"],
            paid=status in schemas.PAID_STATUSES,
            cancelled=status in (schemas.STATUS_CANCELLED_BY_SYSTEM, schemas.STATUS_CANCELLED_BY_USER),
            account_id=answer.get("mch_id"),
            provider_order_id=answer.get("pay_order_id"),
            paid_at=_epoch_ms(answer.get("pay_succ_time")),
        )

    def refund(self, request: RefundRequest) -> RefundResult:
        if not request.order.provider_order_id:
            raise ProviderError("NO_PAY_ORDER_ID", "IOTPay refunds need the order's payOrderId")
        params: dict[str, Any] = {
            "mchId": self.config.mch_id,
            "mchRefundNo": refund_number(request.refund_id),
            "payOrderId": request.order.provider_order_id,
            "refundAmount": request.amount,
            "currency": request.currency,
            "clientIp": wire_client_ip(request.order.client_ip),
            "device": DEVICE,
            "loginName": self.config.job_no,
        }
        params = {name: value for name, value in params.items() if value not in (None, "")}
        params["sign"] = signing.sign(params, self.config.secret_key)
        schemas.RefundOrderRequest().load(params)
        answer = self._business_call("refund_order", params, schemas.RefundOrderResponse(), result_required=False)
        echoed = (answer.get("mch_refund_no"), answer.get("refund_amount"))
        if echoed != (params["mchRefundNo"], request.amount) and (answer.get("res_code") is None or any(echoed)):
            # Success must be about this refund: an answer that names another one, or (without
            # resCode) does not name this one, proves nothing either way.
            raise ProviderError("INVALID_RESPONSE", "IOTPay's refund answer does not echo this refund", definite=False)
        return RefundResult(provider_refund_id=answer.get("refund_order_id"))

    # -- notifications --

    def verify_notification(self, request: InboundRequest) -> Notification:
        params = _notify_params(request)
        if not signing.is_valid(params, self.config.secret_key):
            reason = "no sign" if not params.get("sign") else "signature does not match"
            raise NotificationRejected(Verdict.BAD_SIGNATURE, reason)
        try:
            notify = schemas.PaymentNotify().load(params)
        except ValidationError as exc:
            raise NotificationRejected(Verdict.MALFORMED, f"invalid fields: {sorted(exc.messages)}") from None
        return Notification(
            merchant_order_no=notify["mch_order_no"],
            amount=notify["amount"],
            currency=notify["currency"],
            paid=notify["status"] in schemas.PAID_STATUSES,
            account_id=notify["mch_id"],
            provider_order_id=notify["pay_order_id"],
            paid_at=_epoch_ms(notify.get("pay_succ_time")),
        )

    def acknowledge(self, verdict: Verdict) -> Acknowledgement:
        # IOTPay stops re-sending only on the exact body `success` (SPEC.md section 4).
        if verdict.accepted:
            return Acknowledgement(200, "success")
        return Acknowledgement(400, "fail")


def wire_client_ip(address: str) -> str:
    """IOTPay's clientIp holds 32 characters, fewer than a full IPv6 address (39).

    An IPv6 address that does not fit is sent as its /64 network, which still says where the
    payer is (what the field is for) instead of refusing IPv6 payers. Anything else goes as is,
    and the wire schema refuses it if too long.
    """
    if len(address) <= 32:
        return address
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address)
    return address


def refund_number(refund_id: str) -> str:
    """mchRefundNo (String(30)) derived from the gateway's refund id, the same on every retry."""
    return refund_id.replace("-", "")[:30]


def _notify_params(request: InboundRequest) -> dict[str, str]:
    """Fields from the query string and a form body; the same name twice must agree."""
    pairs = list(request.query)
    content_type = request.headers.get("content-type", "").lower()  # media types ignore case
    if request.body and content_type.startswith("application/x-www-form-urlencoded"):
        try:
            pairs += parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise NotificationRejected(Verdict.MALFORMED, "form body is not valid") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if params.get(name, value) != value:
            raise NotificationRejected(Verdict.MALFORMED, f"field {name!r} sent twice with different values")
        params[name] = value
    return params


def _epoch_ms(text: str | None) -> datetime | None:
    if not text or not text.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    except (OverflowError, ValueError, OSError):
        return None
