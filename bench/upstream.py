"""The IOTPay sandbox simulator as an independent upstream, with a latency the bench can set.

    gunicorn -k gevent -w 1 bench.upstream:app      (BENCH_UPSTREAM_STATE, BENCH_MCH_ID, BENCH_KEY)

One gevent worker, so that hundreds of slow calls can be in flight without threads, and so that
the latency setting and the in-flight counter are plain process state:
    POST /_bench/latency?seconds=0.25   every IOTPay call waits that long before answering
    GET  /_bench/stats                  {"in_flight": n, "peak_in_flight": n}; ?reset=1 zeroes the peak
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlencode

from gateway_iotpay import signing
from gateway_iotpay.sandbox.app import create_simulator

_state = {"latency": 0.0, "in_flight": 0, "peak_in_flight": 0}
MCH_ID, KEY = os.environ.get("BENCH_MCH_ID", ""), os.environ.get("BENCH_KEY", "")


def _simulator() -> Callable[..., Iterable[bytes]]:
    merchants = {os.environ["BENCH_MCH_ID"]: os.environ["BENCH_KEY"]}
    return create_simulator(merchants, os.environ["BENCH_UPSTREAM_STATE"])


_simulator_app = _simulator() if "BENCH_UPSTREAM_STATE" in os.environ else None


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        return _answer(start_response, {"ok": True})
    if path == "/_bench/latency":
        query = dict(part.split("=", 1) for part in environ.get("QUERY_STRING", "").split("&") if "=" in part)
        _state["latency"] = float(query.get("seconds", "0"))
        return _answer(start_response, {"latency": _state["latency"]})
    if path == "/_bench/stats":
        stats = {"in_flight": _state["in_flight"], "peak_in_flight": _state["peak_in_flight"]}
        if "reset=1" in environ.get("QUERY_STRING", ""):
            _state["peak_in_flight"] = _state["in_flight"]
        return _answer(start_response, stats)
    if path == "/v1/query_order" and not _state["latency"]:
        quick = _quick_query(environ)
        if quick is not None:
            return _answer(start_response, quick)
    assert _simulator_app is not None
    _state["in_flight"] += 1
    _state["peak_in_flight"] = max(_state["peak_in_flight"], _state["in_flight"])
    try:
        if _state["latency"]:
            time.sleep(_state["latency"])  # gevent-patched: waits without holding the worker
        return list(_simulator_app(environ, start_response))
    finally:
        _state["in_flight"] -= 1


_QUERY_COLUMNS = (
    "pay_order_id, mch_id, mch_order_no, channel_id, currency, amount, status, channel_order_no, pay_succ_time"
)
_QUERY_NAMES = (
    "payOrderId", "mchId", "mchOrderNo", "channelId", "currency", "amount", "status", "channelOrderNo", "paySuccTime",
)  # fmt: skip
_connection: list[sqlite3.Connection] = []  # one, opened on first use: the worker is one OS thread (gevent)


def _quick_query(environ: dict[str, Any]) -> dict[str, Any] | None:
    """The simulator's answer to a signed query_order about an order it holds, without its Flask app and
    schemas: a provider's CPU is not the gateway's, but here both share two cores, and the simulator's
    ~5 ms a query capped first-time notifies (each confirmed by one) at about 100/s. Signature checked,
    answer signed, fields as the simulator's `wire(order, QUERY_FIELDS)`. None: left to the simulator."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    form = parse_qs(environ["wsgi.input"].read(length).decode())
    environ["wsgi.input"] = io.BytesIO(urlencode({k: v[0] for k, v in form.items()}).encode())  # for the fallback
    environ["CONTENT_LENGTH"] = str(len(environ["wsgi.input"].getvalue()))
    try:
        params = json.loads(form["params"][0])
    except (KeyError, ValueError):
        return None
    if params.get("mchId") != MCH_ID or not signing.is_valid(params, KEY) or not params.get("payOrderId"):
        return None
    if not _connection:
        _connection.append(sqlite3.connect(os.environ["BENCH_UPSTREAM_STATE"], check_same_thread=False))
    row = (
        _connection[0]
        .execute(f"SELECT {_QUERY_COLUMNS} FROM orders WHERE pay_order_id = ?", (params["payOrderId"],))
        .fetchone()
    )
    if row is None or row[1] != MCH_ID or params.get("mchOrderNo", row[2]) != row[2]:
        return None
    body = {"retCode": "SUCCESS", "retMsg": "", "resCode": "SUCCESS"}
    body.update((name, value) for name, value in zip(_QUERY_NAMES, row, strict=True) if value is not None)
    body["sign"] = signing.sign({k: v for k, v in body.items() if isinstance(v, (str, int))}, KEY)
    return body


def _answer(start_response: Callable[..., Any], body: object) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
