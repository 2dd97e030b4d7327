"""A sandbox double of IOTPay v1 that speaks real HTTP (docs/providers/iotpay.md), for `make run` and tests.

Mounted by the gateway at /sandbox/iotpay (so IOTPAY_API_URL = <base>/sandbox/iotpay/v1) or run alone:
    python -m gateway_iotpay.sandbox.app --port 8001 --mch-id 10000701 --key KEY --state /tmp/sim.sqlite

IOTPay's calls live under /v1 (create_order, payForSubmit, query_order, refund_order); the rest is the
sandbox's own:
    GET  /checkout/<id>      the wallet's page for a person: the QR code, or where a redirect lands
    POST /checkout/<id>      pay there, send the notify, and send the browser back to returnUrl
    POST /pay                pay an order (payOrderId, or mchOrderNo [+ mchId]) and send its notify;
                             notify=false pays without notifying, outcome=cancelled cancels it unpaid
    GET  /orders/<id>        the order as the simulator sees it, with every notify attempt
    POST|DELETE|GET /faults  make the next calls of an operation fail in a chosen way, or hold notifies

Requests are checked with the plugin's own schemas and signing, so whatever the client gets wrong
fails here as it would at IOTPay. State lives in one SQLite file (simulator_store) shared by every
process serving the simulator, so it works under several gunicorn workers.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from gateway import sandbox
from gateway.plugin import describe_messages
from gateway.sandbox import DEFAULT_RETRY_DELAYS, BackgroundSender, FaultQueue, Outgoing
from gateway.sandbox.standalone import run_alone
from gateway_iotpay import schemas, signing
from gateway_iotpay.sandbox import pages
from gateway_iotpay.sandbox.store import Order, Refund, Rejected, SimulatorStore, UnknownOrder

log = logging.getLogger(__name__)

# IOTPay's documented errCodes and their meanings.
ERROR_TEXTS = {
    "0010": "system error",
    "0011": "POST required",
    "0012": "empty post data",
    "0013": "signature error",
    "0014": "parameter error",
    "0015": "merchant does not exist",
    "0110": "third-party timeout",
    "0111": "third-party exception",
    "0112": "merchant order id does not exist",
    "0113": "order already paid",
    "0118": "DB error",
}
REQUEST_SCHEMAS: dict[str, type[Schema]] = {
    "create_order": schemas.CreateOrderRequest,
    "payForSubmit": schemas.PayForSubmitRequest,
    "query_order": schemas.QueryOrderRequest,
    "refund_order": schemas.RefundOrderRequest,
}
FAULT_MODES = ("fail", "garbage", "html", "http_500", "http_503", "delay", "hold", "bad_sign", "unsigned")
NOTIFY = "notify"  # the one fault target that is not an API call: "hold" keeps notifies back until cleared
# Faults that let the call do its work (an order is paid, a refund goes through) and spoil only the answer.
ANSWER_FAULTS = ("delay", "bad_sign", "unsigned")
# Order fields in what query_order answers; the notify adds NOTIFY_ONLY_FIELDS.
QUERY_FIELDS = (
    "pay_order_id", "mch_id", "mch_order_no", "channel_id", "currency", "amount", "status", "channel_order_no",
    "pay_succ_time",
)  # fmt: skip
NOTIFY_ONLY_FIELDS = ("client_ip", "device", "subject", "body", "param1", "param2")
ERROR_PAGE = "<html><head><title>{0}</title></head><body><center><h1>{0}</h1></center><hr>nginx</body></html>"

Json = dict[str, Any]


class BusinessError(Exception):
    """Answered as retCode SUCCESS, resCode FAIL: IOTPay understood the call and refused it."""

    def __init__(self, err_code: str, description: str | None = None) -> None:
        super().__init__(description or ERROR_TEXTS[err_code])
        self.err_code = err_code


class FaultRequest(sandbox.FaultRequest):
    operation = fields.String(required=True, validate=validate.OneOf((*REQUEST_SCHEMAS, NOTIFY)))
    mode = fields.String(required=True, validate=validate.OneOf(FAULT_MODES))
    err_code = fields.String(data_key="errCode", load_default="0010", validate=validate.Regexp(r"^\d{4}$"))

    @validates_schema
    def _hold_is_for_notifies(self, data: Json, **_: Any) -> None:
        if (data.get("operation") == NOTIFY) != (data.get("mode") == "hold"):
            raise ValidationError("notifies take mode 'hold' (until DELETE /faults), and only they do", "mode")


def wire(record: Any, names: Iterable[str] | None = None) -> Json:
    """A store record in IOTPay's names (our snake_case, camel-cased), leaving out what is unset."""
    values = asdict(record)
    chosen = values if names is None else {name: values[name] for name in names}
    return {_camel(name): value for name, value in chosen.items() if value is not None}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json;charset=UTF-8")


def _communication_failure(err_code: str) -> Response:
    return _json({"retCode": "FAIL", "retMsg": ERROR_TEXTS[err_code]})


def _business_failure(err_code: str, description: str) -> Response:
    head = {"retCode": "SUCCESS", "retMsg": "", "resCode": "FAIL"}
    return _json({**head, "errCode": err_code, "errCodeDes": description})


def _business_success(body: Json, key: str, fault: Mapping[str, Any] | None = None) -> Response:
    answer = {"retCode": "SUCCESS", "retMsg": "", "resCode": "SUCCESS", **body}
    # Like XxPay, sign only top-level scalars: nested payParams belongs to the wallet SDK, not to IOTPay.
    scalars = {k: v for k, v in answer.items() if isinstance(v, (str, int)) and not isinstance(v, bool)}
    if fault is not None and fault["mode"] == "unsigned":
        return _json(answer)
    if fault is not None and fault["mode"] == "bad_sign":  # as if tampered with on the way, or signed with another key
        return _json({**answer, "sign": signing.sign(scalars, key + "-not-the-merchant-key")})
    return _json({**answer, "sign": signing.sign(scalars, key)})


def _fault_response(fault: Json) -> Response:
    mode = fault["mode"]
    if mode == "fail":
        return _business_failure(fault["err_code"], ERROR_TEXTS.get(fault["err_code"], "simulated failure"))
    if mode == "garbage":
        # Claims to be JSON but is not: catches clients that trust the Content-Type.
        return Response("not json{", 200, content_type="application/json;charset=UTF-8")
    if mode == "html":  # a proxy's error page answered with 200, as misconfigured proxies do
        return Response(ERROR_PAGE.format("502 Bad Gateway"), 200, content_type="text/html")
    title = {"http_500": "500 Internal Server Error", "http_503": "503 Service Temporarily Unavailable"}
    return Response(ERROR_PAGE.format(title[mode]), int(mode[-3:]), content_type="text/html")


def _read_params(request: Request) -> Json | None:
    # The form body only, never the query string: a client that misplaces `params` must fail here.
    raw = request.form.get("params", "")
    try:
        params = json.loads(raw) if raw.strip() else None
    except ValueError:
        return None
    return params if isinstance(params, dict) and params else None


def _new_id(prefix: str) -> str:
    # 22 chars (IOTPay allows 30); the random tail keeps ids unique across worker processes.
    return f"{prefix}{time.time_ns() // 1_000_000}{_digits(6)}"


def _digits(count: int) -> str:
    return f"{secrets.randbelow(10**count):0{count}d}"


def _channel_order_no(channel_id: str) -> str:
    # Shaped like each wallet's transaction id: WeChat 4200…, Alipay date-prefixed, UnionPay 21 digits.
    if channel_id.startswith("WX_"):
        return "4200" + _digits(24)
    return time.strftime("%Y%m%d") + _digits(20) if channel_id.startswith("ALIPAY_") else _digits(21)


def _pay_params(order: Order, key: str) -> Json:
    if order.channel_id == "WX_APP":
        # XxPay's WeChat app shape. The real `sign` uses a WeChat API key that only IOTPay holds; the
        # app merely hands it to the WeChat SDK, so any 32-hex signature has the right shape.
        wechat = {
            "appid": json.loads(order.extra or "{}")["appId"],
            "partnerid": "1900000109",
            "prepayid": "wx" + time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10),
            "package": "Sign=WXPay",
            "noncestr": secrets.token_hex(16),
            "timestamp": str(int(time.time())),
        }
        return {**wechat, "sign": signing.sign(wechat, key)}
    if order.channel_id == schemas.JSAPI:
        # wx.requestPayment's arguments, as IOTPay documents them for a mini program; paySign is
        # WeChat's and only shaped right (the sandbox has no WeChat key to make it with).
        mini = {
            "appId": json.loads(order.extra or "{}")["appId"],
            "timeStamp": str(int(time.time())),
            "nonceStr": secrets.token_hex(16),
            "package": "prepay_id=wx" + time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10),
            "signType": "MD5",
        }
        return {**mini, "paySign": signing.sign(mini, key)}
    # IOTPay does not document payParams for these channels: made-up but plausible
    # shapes (Alipay's SDK takes an order string; UnionPay's a transaction number `tn` and a mode).
    if order.channel_id == "ALIPAY_MOBILE":
        return {"orderInfo": f"app_id=2021000000000000&out_trade_no={order.pay_order_id}&sign=SIMULATED"}
    return {"tn": _digits(21), "mode": "01"}


def notify_params(order: Order, key: str, back_type: str = schemas.BACK_TYPE_SERVER) -> dict[str, str]:
    """The signed payment notify: every value text, as a query string carries it.

    backType 1 is the same result carried by the payer's browser back to returnUrl.
    """
    sent = {name: str(value) for name, value in wire(order, QUERY_FIELDS + NOTIFY_ONLY_FIELDS).items()}
    # status 2 whatever the order says now: a re-sent notify repeats the payment result.
    sent |= {"status": str(schemas.STATUS_PAID), "backType": back_type}
    # Empty values are not signed, so sending them would add nothing.
    sent = {name: value for name, value in sent.items() if value}
    return {**sent, "sign": signing.sign(sent, key)}


def front_end_return(order: Order, key: str) -> str:
    """Where the payer's browser goes after paying: returnUrl with the signed result, backType=1."""
    assert order.return_url is not None
    query = urlencode(notify_params(order, key, schemas.BACK_TYPE_BROWSER))
    return f"{order.return_url}{'&' if '?' in order.return_url else '?'}{query}"


def _base_url(request: Request) -> str:
    # The simulator's own address as the gateway reached it (mounted at /sandbox/iotpay, or alone).
    return request.host_url.rstrip("/") + request.script_root


class Simulator:
    """WSGI app; the module docstring lists its routes."""

    def __init__(
        self,
        merchants: Mapping[str, str],
        store: SimulatorStore,
        faults: FaultQueue,
        notifier: BackgroundSender,
    ) -> None:
        self._merchants = dict(merchants)
        self.store = store
        self.faults = faults
        self.notifier = notifier
        self._operations: dict[str, Callable[[Json, str, str], Json]] = {
            "create_order": self._create_order,
            "payForSubmit": self._pay_for_submit,
            "query_order": self._query_order,
            "refund_order": self._refund_order,
        }
        self._urls = Map(
            # No method restriction on IOTPay's calls: a GET must get IOTPay's own "0011 POST required".
            [Rule(f"/v1/{name}", endpoint=functools.partial(self._api, name)) for name in self._operations]
            + [
                Rule("/checkout/<pay_order_id>", methods=["GET", "POST"], endpoint=self._checkout),
                Rule("/pay", methods=["POST"], endpoint=self._pay),
                Rule("/orders/<pay_order_id>", methods=["GET"], endpoint=self._show_order),
                Rule("/faults", methods=["GET", "POST", "DELETE"], endpoint=self._faults),
            ]
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, arguments = self._urls.bind_to_environ(environ).match()
            response = endpoint(request, **arguments)
        except HTTPException as exc:
            response = _json({"error": exc.description}, exc.code or 500)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def close(self, timeout: float = 5.0) -> None:
        """Stop retrying notifies and wait for deliveries in flight (tests, orderly shutdown)."""
        self.notifier.close(timeout)

    # -- IOTPay's API -------------------------------------------------------------------------

    def _api(self, operation: str, request: Request) -> Response:
        fault = self.faults.take(operation)
        if fault is not None and fault["mode"] not in ANSWER_FAULTS:
            return _fault_response(fault)
        if fault is not None and fault["mode"] == "delay":
            time.sleep(fault["seconds"])
        if request.method != "POST":
            return _communication_failure("0011")
        params = _read_params(request)
        if params is None:
            return _communication_failure("0012")
        try:
            key = self._merchant_key(params.get("mchId"))
            if not signing.is_valid(params, key):
                raise BusinessError("0013")
            try:
                data = REQUEST_SCHEMAS[operation]().load(params)
            except ValidationError as exc:
                raise BusinessError("0014", f"parameter error: {describe_messages(exc.messages)}") from None
            return _business_success(self._operations[operation](data, key, _base_url(request)), key, fault)
        except BusinessError as exc:
            return _business_failure(exc.err_code, str(exc))
        except Rejected as exc:
            return _business_failure("0014", f"parameter error: {exc}")
        except sqlite3.Error:
            log.exception("IOTPay simulator state failed during %s", operation)
            return _business_failure("0118", ERROR_TEXTS["0118"])

    def _merchant_key(self, mch_id: object) -> str:
        if not isinstance(mch_id, str) or not mch_id:
            raise BusinessError("0014", "parameter error: mchId: Missing data for required field.")
        if mch_id not in self._merchants:
            raise BusinessError("0015")
        return self._merchants[mch_id]

    def _new_order(self, data: Json, **overrides: Any) -> Order:
        known = {name: value for name, value in data.items() if name in Order.__dataclass_fields__}
        order = Order(**{**known, **overrides}, pay_order_id=_new_id("P01"), status=schemas.STATUS_CREATED)
        self.store.add_order(order)
        return order

    def _create_order(self, data: Json, key: str, base_url: str) -> Json:
        order = self._new_order(data)
        # In the sandbox every code and redirect opens the simulator's checkout page: scanned with a
        # phone on the same network, or followed by a browser, it is where the payer pays.
        page = f"{base_url}/checkout/{order.pay_order_id}"
        channel_id = order.channel_id
        if channel_id == "WX_NATIVE":
            return {"payOrderId": order.pay_order_id, "codeUrl": page, "prepayId": "wx" + secrets.token_hex(14)}
        if channel_id in schemas.QR_CHANNELS:
            return {"payOrderId": order.pay_order_id, "qr_code": page}
        if channel_id in schemas.REDIRECT_CHANNELS:
            key_name = "unionpayUrl" if channel_id.startswith("UPI_") else "alipayUrl"
            return {"payOrderId": order.pay_order_id, "retParams": {key_name: page}}
        return {"payOrderId": order.pay_order_id, "payParams": _pay_params(order, key)}

    def _pay_for_submit(self, data: Json, key: str, base_url: str) -> Json:
        # IOTPay puts mchOrderNo in param1 of this channel's notify (the request must leave it empty).
        order = self._new_order(data, param1=data["mch_order_no"])
        page = f"{base_url}/checkout/{order.pay_order_id}"
        if data.get("qrcode_pay") == "1":
            return {"payOrderId": order.pay_order_id, "code_url": page}
        return {"payOrderId": order.pay_order_id, "url": page}

    def _query_order(self, data: Json, key: str, base_url: str) -> Json:
        if data.get("pay_order_id"):
            order = self.store.get_order(data["pay_order_id"])
            wanted_no = data.get("mch_order_no")
            if order and (order.mch_id != data["mch_id"] or (wanted_no and wanted_no != order.mch_order_no)):
                order = None
        else:
            order = next(iter(self.store.find_orders(data["mch_order_no"], data["mch_id"])), None)
        if order is None:
            raise BusinessError("0112")
        return wire(order, QUERY_FIELDS)

    def _refund_order(self, data: Json, key: str, base_url: str) -> Json:
        names = ("mch_id", "mch_refund_no", "pay_order_id", "refund_amount")
        asked = Refund(refund_order_id=_new_id("R01"), **{name: data[name] for name in names})
        try:
            refund = self.store.add_refund(asked, data.get("currency"))
        except UnknownOrder:
            raise BusinessError("0112") from None
        return wire(refund, ("refund_order_id", "mch_refund_no", "refund_amount"))

    # -- sandbox controls ---------------------------------------------------------------------

    def _pay(self, request: Request) -> Response:
        given = request.get_json(silent=True) if request.is_json else request.form
        given = given if isinstance(given, Mapping) else {}
        pay_order_id, mch_order_no, mch_id = (str(given.get(n) or "") for n in ("payOrderId", "mchOrderNo", "mchId"))
        if pay_order_id:
            orders = [o for o in [self.store.get_order(pay_order_id)] if o and mch_id in ("", o.mch_id)]
        elif mch_order_no:
            orders = self.store.find_orders(mch_order_no, mch_id or None)
        else:
            return _json({"error": "payOrderId or mchOrderNo is required"}, 400)
        if not orders:
            return _json({"error": "order not found"}, 404)
        if len(orders) > 1:
            return _json({"error": "several merchants have this mchOrderNo: give mchId"}, 409)
        if str(given.get("outcome") or "paid") == "cancelled":  # the payer gave up: IOTPay sends no notify
            order = self.store.mark_cancelled(orders[0].pay_order_id)
            return _json({"payOrderId": order.pay_order_id, "status": order.status, "notify": "none"}, 202)
        if str(given.get("notify", "true")).lower() == "false":  # a notify lost on the way: only a query finds it
            order = self.store.mark_paid(orders[0].pay_order_id, _channel_order_no(orders[0].channel_id))
            return _json({"payOrderId": order.pay_order_id, "status": order.status, "notify": "none"}, 202)
        order = self._pay_and_notify(orders[0])
        return _json({"payOrderId": order.pay_order_id, "status": order.status, "notify": "scheduled"}, 202)

    def _pay_and_notify(self, order: Order) -> Order:
        paid = self.store.mark_paid(order.pay_order_id, _channel_order_no(order.channel_id))
        self._schedule_notify(paid)
        return paid

    def _checkout(self, request: Request, pay_order_id: str) -> Response:
        order = self.store.get_order(pay_order_id)
        if order is None:
            return Response("<h1>No such order</h1>", 404, content_type="text/html; charset=utf-8")
        if request.method == "GET":
            # A QR order's code is this page's own address, as create_order gave it out.
            page = pages.checkout_page(order, request.base_url if order.channel_id in schemas.QR_CHANNELS else None)
            return Response(page, content_type="text/html; charset=utf-8")
        paid = self._pay_and_notify(order)
        if paid.return_url:
            # IOTPay's front-end return: the browser goes back to the shop with the result (backType=1).
            return Response(status=303, headers={"Location": front_end_return(paid, self._merchants[paid.mch_id])})
        return Response(pages.paid_page(paid), content_type="text/html; charset=utf-8")

    def _show_order(self, request: Request, pay_order_id: str) -> Response:
        order = self.store.get_order(pay_order_id)
        if order is None:
            return _json({"error": "order not found"}, 404)
        refunds = self.store.refunds_of(pay_order_id)
        return _json(
            {
                **wire(order),
                "refunds": [wire(refund) for refund in refunds],
                "refundedAmount": sum(refund.refund_amount for refund in refunds),
                "notifyAttempts": [wire(attempt) for attempt in self.store.attempts_of(pay_order_id)],
            }
        )

    def _faults(self, request: Request) -> Response:
        try:
            status, pending = self.faults.control(request.method, request.get_json(silent=True), FaultRequest())
        except ValidationError as exc:
            return _json({"error": describe_messages(exc.messages)}, 400)
        return _json({"faults": [{_camel(name): value for name, value in fault.items()} for fault in pending]}, status)

    # -- notify delivery ----------------------------------------------------------------------

    def _schedule_notify(self, order: Order) -> None:
        params = notify_params(order, self._merchants[order.mch_id])
        # XxPay sends the notify as an empty POST with the parameters in the query string, and
        # re-sends it until the merchant answers exactly `success`.
        outgoing = Outgoing(order.notify_url, params=params)
        pay_order_id = order.pay_order_id
        self.notifier.send(
            pay_order_id,
            lambda: outgoing,
            acknowledged=lambda response: response.text.strip() == "success",
            on_attempt=lambda attempt: self.store.record_attempt(pay_order_id, attempt),
            on_acknowledged=lambda: self.store.mark_notified(pay_order_id),
            held=lambda: self.faults.is_armed(NOTIFY),  # a "hold" keeps it back until DELETE /faults
        )


def create_simulator(
    merchants: Mapping[str, str],
    state_path: str,
    *,
    notify_retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    notify_timeout: float = 5.0,
) -> Simulator:
    """An IOTPay v1 simulator for `merchants` (mchId -> key) keeping its state in `state_path`."""
    notifier = BackgroundSender("iotpay-notify", notify_retry_delays, notify_timeout)
    return Simulator(merchants, SimulatorStore(state_path), FaultQueue(state_path), notifier)


def main(argv: Sequence[str] | None = None) -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--mch-id", action="append", required=True, help="repeat, with --key, for more merchants")
        parser.add_argument("--key", action="append", required=True)

    def build(args: argparse.Namespace) -> Simulator:
        if len(args.mch_id) != len(args.key):
            raise ValueError("give one --key per --mch-id")
        return create_simulator(dict(zip(args.mch_id, args.key, strict=True)), args.state)

    run_alone("Run the IOTPay v1 simulator alone.", 8001, add_arguments, build, argv)


if __name__ == "__main__":
    main()
