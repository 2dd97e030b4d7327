"""A sandbox double of IOTPay v1 that speaks real HTTP (SPEC.md), for `make run` and tests.

Mounted by the gateway at /sandbox/iotpay (so IOTPAY_API_URL = <base>/sandbox/iotpay/v1) or run alone:
    python -m plugins.iotpay.simulator --port 8001 --mch-id 10000701 --key KEY --state /tmp/sim.sqlite

IOTPay's three calls live under /v1; the rest are the sandbox's own controls:
    POST /pay              pay an order (payOrderId or mchOrderNo [+ mchId]) and send its notify
    GET  /orders/<id>      the order as the simulator sees it, with every notify attempt
    POST|DELETE|GET /faults make the next calls of an operation fail in a chosen way

Requests are checked with the plugin's own schemas and signing, so whatever the client gets
wrong fails here as it would at IOTPay. State is one SQLite file (simulator_store), shared by all
processes serving the simulator.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from plugins.iotpay import schemas, signing
from plugins.iotpay.simulator_store import Fault, NotifyAttempt, Order, Refund, Rejected, SimulatorStore

log = logging.getLogger(__name__)

# SPEC.md section 6.
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
    "query_order": schemas.QueryOrderRequest,
    "refund_order": schemas.RefundOrderRequest,
}
FAULT_MODES = ("fail", "garbage", "html", "http_500", "http_503", "delay")

Json = dict[str, Any]
WsgiStartResponse = Callable[..., Any]


class BusinessError(Exception):
    """Answered as retCode SUCCESS, resCode FAIL: IOTPay understood the call and refused it."""

    def __init__(self, err_code: str, description: str | None = None) -> None:
        super().__init__(description or ERROR_TEXTS[err_code])
        self.err_code = err_code


class FaultRequest(Schema):
    operation = fields.String(required=True, validate=validate.OneOf(tuple(REQUEST_SCHEMAS)))
    mode = fields.String(required=True, validate=validate.OneOf(FAULT_MODES))
    count = schemas.StrictInt(load_default=1, validate=validate.Range(min=1))
    err_code = fields.String(data_key="errCode", load_default="0010", validate=validate.Regexp(r"^\d{4}$"))
    seconds = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=300))


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json;charset=UTF-8")


def _communication_failure(err_code: str) -> Response:
    return _json({"retCode": "FAIL", "retMsg": ERROR_TEXTS[err_code]})


def _business_failure(err_code: str, description: str) -> Response:
    return _json(
        {
            "retCode": "SUCCESS",
            "retMsg": "",
            "resCode": "FAIL",
            "errCode": err_code,
            "errCodeDes": description,
        }
    )


def _business_success(body: Json, key: str) -> Response:
    answer = {"retCode": "SUCCESS", "retMsg": "", "resCode": "SUCCESS", **body}
    # Like XxPay, sign only top-level scalars: nested payParams is the wallet SDK's, not IOTPay's.
    scalars = {k: v for k, v in answer.items() if isinstance(v, (str, int)) and not isinstance(v, bool)}
    answer["sign"] = signing.sign(scalars, key)
    return _json(answer)


def _describe(messages: Any) -> str:
    """Flatten marshmallow's error messages into one line that names every offending field."""
    if isinstance(messages, dict):
        return "; ".join(f"{field}: {_describe(inner)}" for field, inner in messages.items())
    if isinstance(messages, list):
        return " ".join(_describe(inner) for inner in messages)
    return str(messages)


def _fault_response(fault: Fault) -> Response:
    page = "<html><head><title>{0}</title></head><body><center><h1>{0}</h1></center><hr>nginx</body></html>"
    if fault.mode == "fail":
        return _business_failure(fault.err_code, ERROR_TEXTS.get(fault.err_code, "simulated failure"))
    if fault.mode == "garbage":
        # Claims JSON but is not: catches clients that trust the Content-Type.
        return Response("not json{", 200, content_type="application/json;charset=UTF-8")
    if fault.mode == "html":
        return Response(page.format("502 Bad Gateway"), 200, content_type="text/html")
    status = {"http_500": "500 Internal Server Error", "http_503": "503 Service Temporarily Unavailable"}
    return Response(page.format(status[fault.mode]), int(fault.mode[-3:]), content_type="text/html")


def _read_params(request: Request) -> Json | None:
    # Only the form body, never the query string: a client that misplaces `params` should fail here.
    raw = request.form.get("params", "")
    try:
        params = json.loads(raw) if raw.strip() else None
    except ValueError:
        return None
    return params if isinstance(params, dict) and params else None


def _new_id(prefix: str) -> str:
    # 22 chars (IOTPay allows 30); random digits keep ids unique across worker processes.
    return f"{prefix}{time.time_ns() // 1_000_000}{secrets.randbelow(10**6):06d}"


def _digits(count: int) -> str:
    return f"{secrets.randbelow(10**count):0{count}d}"


def _channel_order_no(channel_id: str) -> str:
    # Shaped like each wallet's own transaction id (WeChat 4200…, Alipay date-prefixed, UnionPay 21 digits).
    shapes = {
        "WX_APP": lambda: "4200" + _digits(24),
        "ALIPAY_MOBILE": lambda: time.strftime("%Y%m%d") + _digits(20),
    }
    return shapes.get(channel_id, lambda: _digits(21))()


def _pay_params(order: Order, key: str) -> Json:
    if order.channel_id == "WX_APP":
        # XxPay's WeChat app shape. The real `sign` uses the WeChat API key, which IOTPay keeps; any
        # 32-hex string has the right shape for an app that only hands it to the WeChat SDK.
        wechat = {
            "appid": json.loads(order.extra or "{}")["appId"],
            "partnerid": "1900000109",
            "prepayid": "wx" + time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10),
            "package": "Sign=WXPay",
            "noncestr": secrets.token_hex(16),
            "timestamp": str(int(time.time())),
        }
        return {**wechat, "sign": signing.sign(wechat, key)}
    # IOTPay does not document payParams for these channels (SPEC.md section 7): made-up but plausible
    # shapes (Alipay's SDK takes an order string, UnionPay's a transaction number `tn` and a mode).
    if order.channel_id == "ALIPAY_MOBILE":
        return {"orderInfo": f"app_id=2021000000000000&out_trade_no={order.pay_order_id}&sign=SIMULATED"}
    return {"tn": _digits(21), "mode": "01"}


def query_fields(order: Order) -> Json:
    """The order as query_order answers it: flat, IOTPay's names, nothing empty."""
    pay_succ_time = None if order.pay_succ_time is None else str(order.pay_succ_time)
    wire = {
        "payOrderId": order.pay_order_id,
        "mchId": order.mch_id,
        "mchOrderNo": order.mch_order_no,
        "channelId": order.channel_id,
        "currency": order.currency,
        "amount": order.amount,
        "status": order.status,
        "channelOrderNo": order.channel_order_no,
        "paySuccTime": pay_succ_time,
    }
    return {name: value for name, value in wire.items() if value is not None}


def notify_params(order: Order, key: str) -> dict[str, str]:
    """The signed payment notify (SPEC.md section 4); all values text, as in a query string."""
    wire = {
        **{name: str(value) for name, value in query_fields(order).items()},
        "status": str(schemas.STATUS_PAID),
        "backType": "2",
        "clientIp": order.client_ip,
        "device": order.device,
        "subject": order.subject,
        "body": order.body,
        "param1": order.param1,
        "param2": order.param2,
    }
    # Empty values are not signed (SPEC.md section 1), so sending them would add nothing.
    sent = {name: value for name, value in wire.items() if value}
    return {**sent, "sign": signing.sign(sent, key)}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Simulator:
    """WSGI app; see the module docstring for its routes."""

    def __init__(
        self,
        merchants: Mapping[str, str],
        store: SimulatorStore,
        retry_delays: Sequence[float],
        timeout: float,
    ) -> None:
        self._merchants = dict(merchants)
        self.store = store
        self._retry_delays = tuple(retry_delays)
        self._notify_timeout = timeout
        self._stopping = threading.Event()
        self._deliveries: set[threading.Thread] = set()
        self._deliveries_lock = threading.Lock()
        api = {name: functools.partial(self._api, name) for name in REQUEST_SCHEMAS}
        self._urls = Map(
            [Rule(f"/v1/{name}", endpoint=handler) for name, handler in api.items()]  # any method: 0011
            + [
                Rule("/pay", methods=["POST"], endpoint=self._pay),
                Rule("/orders/<pay_order_id>", methods=["GET"], endpoint=self._show_order),
                Rule("/faults", methods=["GET", "POST", "DELETE"], endpoint=self._faults),
            ]
        )
        self._operations: dict[str, Callable[[Json, str], Json]] = {
            "create_order": self._create_order,
            "query_order": self._query_order,
            "refund_order": self._refund_order,
        }

    def __call__(self, environ: dict[str, Any], start_response: WsgiStartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, arguments = self._urls.bind_to_environ(environ).match()
            response = endpoint(request, **arguments)
        except HTTPException as exc:
            response = _json({"error": exc.description}, exc.code or 500)
        return response(environ, start_response)

    def close(self, timeout: float = 5.0) -> None:
        """Stop retrying notifies and wait for deliveries in flight (tests, orderly shutdown)."""
        self._stopping.set()
        with self._deliveries_lock:
            threads = list(self._deliveries)
        for thread in threads:
            thread.join(timeout)

    # -- IOTPay's API -------------------------------------------------------------------------

    def _api(self, operation: str, request: Request) -> Response:
        fault = self.store.take_fault(operation)
        if fault is not None and fault.mode != "delay":
            return _fault_response(fault)
        if fault is not None:
            time.sleep(fault.seconds)
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
                raise BusinessError("0014", f"parameter error: {_describe(exc.messages)}") from None
            return _business_success(self._operations[operation](data, key), key)
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

    def _create_order(self, data: Json, key: str) -> Json:
        order = Order(
            pay_order_id=_new_id("P01"),
            status=schemas.STATUS_CREATED,
            mch_id=data["mch_id"],
            mch_order_no=data["mch_order_no"],
            channel_id=data["channel_id"],
            currency=data["currency"],
            amount=data["amount"],
            client_ip=data["client_ip"],
            device=data.get("device"),
            subject=data["subject"],
            body=data["body"],
            notify_url=data["notify_url"],
            param1=data.get("param1"),
            param2=data.get("param2"),
            extra=data.get("extra"),
        )
        self.store.add_order(order)
        return {"payOrderId": order.pay_order_id, "payParams": _pay_params(order, key)}

    def _query_order(self, data: Json, key: str) -> Json:
        if data.get("pay_order_id"):
            order = self.store.get_order(data["pay_order_id"])
            wanted_no = data.get("mch_order_no")
            if order and (order.mch_id != data["mch_id"] or (wanted_no and wanted_no != order.mch_order_no)):
                order = None
        else:
            order = next(iter(self.store.find_orders(data["mch_order_no"], data["mch_id"])), None)
        if order is None:
            raise BusinessError("0112")
        return query_fields(order)

    def _refund_order(self, data: Json, key: str) -> Json:
        asked = Refund(
            _new_id("R01"), data["mch_id"], data["mch_refund_no"], data["pay_order_id"], data["refund_amount"]
        )
        try:
            refund = self.store.add_refund(asked, data.get("currency"))
        except LookupError:
            raise BusinessError("0112") from None
        return {
            "refundOrderId": refund.refund_order_id,
            "mchRefundNo": refund.mch_refund_no,
            "refundAmount": refund.refund_amount,
        }

    # -- sandbox controls ---------------------------------------------------------------------

    def _pay(self, request: Request) -> Response:
        given = request.get_json(silent=True) if request.is_json else request.form
        given = given if isinstance(given, Mapping) else {}
        pay_order_id, mch_order_no, mch_id = (
            str(given.get(n) or "") for n in ("payOrderId", "mchOrderNo", "mchId")
        )
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
        order = self.store.mark_paid(orders[0].pay_order_id, _channel_order_no(orders[0].channel_id))
        self._schedule_notify(order)
        return _json({"payOrderId": order.pay_order_id, "status": order.status, "notify": "scheduled"}, 202)

    def _show_order(self, request: Request, pay_order_id: str) -> Response:
        order = self.store.get_order(pay_order_id)
        if order is None:
            return _json({"error": "order not found"}, 404)
        refunds = self.store.refunds_of(pay_order_id)
        attempts = [
            {"at": a.at, **({"error": a.error} if a.error else {"httpStatus": a.http_status}), "body": a.body}
            for a in self.store.attempts_of(pay_order_id)
        ]
        extras = {
            "notifyUrl": order.notify_url,
            "clientIp": order.client_ip,
            "device": order.device,
            "subject": order.subject,
            "body": order.body,
            "param1": order.param1,
            "param2": order.param2,
            "extra": order.extra,
        }
        return _json(
            {
                **query_fields(order),
                **{k: v for k, v in extras.items() if v is not None},
                "refunds": [
                    {
                        "refundOrderId": r.refund_order_id,
                        "mchRefundNo": r.mch_refund_no,
                        "refundAmount": r.refund_amount,
                    }
                    for r in refunds
                ],
                "refundedAmount": sum(r.refund_amount for r in refunds),
                "notified": order.notified,
                "notifyAttempts": attempts,
            }
        )

    def _faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.store.clear_faults()
        elif request.method == "POST":
            try:
                wanted = FaultRequest().load(request.get_json(silent=True) or {})
            except ValidationError as exc:
                return _json({"error": _describe(exc.messages)}, 400)
            self.store.set_fault(
                Fault(
                    wanted["operation"],
                    wanted["mode"],
                    wanted["count"],
                    wanted["err_code"],
                    wanted["seconds"],
                )
            )
        pending = [
            {
                "operation": f.operation,
                "mode": f.mode,
                "count": f.remaining,
                "errCode": f.err_code,
                "seconds": f.seconds,
            }
            for f in self.store.list_faults()
        ]
        return _json({"faults": pending}, 201 if request.method == "POST" else 200)

    # -- notify delivery ----------------------------------------------------------------------

    def _schedule_notify(self, order: Order) -> None:
        # A thread, not inline: the notify target may be the gateway served by this very process.
        params = notify_params(order, self._merchants[order.mch_id])
        thread = threading.Thread(
            target=self._deliver,
            args=(order.pay_order_id, order.notify_url, params),
            daemon=True,
            name=f"iotpay-notify-{order.pay_order_id}",
        )
        with self._deliveries_lock:
            self._deliveries = {t for t in self._deliveries if t.is_alive()} | {thread}
        thread.start()

    def _deliver(self, pay_order_id: str, url: str, params: dict[str, str]) -> None:
        try:
            with requests.Session() as session:
                for delay in (0.0, *self._retry_delays):
                    if self._stopping.wait(delay):
                        return
                    if self._attempt(session, pay_order_id, url, params):
                        self.store.mark_notified(pay_order_id)
                        return
            log.warning("IOTPay simulator gave up notifying %s at %s", pay_order_id, url)
        except Exception:  # a background thread has nobody to raise to
            log.exception("IOTPay simulator notify delivery for %s crashed", pay_order_id)

    def _attempt(
        self, session: requests.Session, pay_order_id: str, url: str, params: dict[str, str]
    ) -> bool:
        """One notify POST; True when the merchant acknowledged it with `success`."""
        try:
            # XxPay puts the notify in the query string of an empty POST.
            response = session.post(url, params=params, timeout=self._notify_timeout)
        except requests.RequestException as exc:
            self.store.record_attempt(
                pay_order_id, NotifyAttempt(_now(), None, f"{type(exc).__name__}: {exc}"[:200], None)
            )
            return False
        self.store.record_attempt(
            pay_order_id, NotifyAttempt(_now(), response.status_code, None, response.text[:200])
        )
        return response.text.strip() == "success"


def create_simulator(
    merchants: Mapping[str, str],
    state_path: str,
    *,
    notify_retry_delays: Sequence[float] = (0.5, 1, 2, 5, 10, 30, 60, 120),
    notify_timeout: float = 5.0,
) -> Simulator:
    """An IOTPay v1 simulator for `merchants` (mchId -> key) keeping its state in `state_path`."""
    return Simulator(merchants, SimulatorStore(state_path), notify_retry_delays, notify_timeout)


def main(argv: Sequence[str] | None = None) -> None:
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description="Run the IOTPay v1 simulator alone.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--mch-id", action="append", required=True, help="repeat with --key for more merchants"
    )
    parser.add_argument("--key", action="append", required=True)
    parser.add_argument("--state", required=True, help="SQLite file (created if missing)")
    args = parser.parse_args(argv)
    if len(args.mch_id) != len(args.key):
        parser.error("give one --key per --mch-id")
    logging.basicConfig(level=logging.INFO)
    simulator = create_simulator(dict(zip(args.mch_id, args.key, strict=True)), args.state)
    run_simple(args.host, args.port, simulator, threaded=True)


if __name__ == "__main__":
    main()
