"""The IOTPay sandbox simulator as an independent upstream, with a latency the bench can set.

    gunicorn -k gevent -w 1 bench.upstream:app      (BENCH_UPSTREAM_STATE, BENCH_MCH_ID, BENCH_KEY)

One gevent worker, so that hundreds of slow calls can be in flight without threads, and so that
the latency setting and the in-flight counter are plain process state:
    POST /_bench/latency?seconds=0.25   every IOTPay call waits that long before answering
    GET  /_bench/stats                  {"in_flight": n, "peak_in_flight": n}; ?reset=1 zeroes the peak
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from gateway_iotpay.sandbox.app import create_simulator

_state = {"latency": 0.0, "in_flight": 0, "peak_in_flight": 0}


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
    assert _simulator_app is not None
    _state["in_flight"] += 1
    _state["peak_in_flight"] = max(_state["peak_in_flight"], _state["in_flight"])
    try:
        if _state["latency"]:
            time.sleep(_state["latency"])  # gevent-patched: waits without holding the worker
        return list(_simulator_app(environ, start_response))
    finally:
        _state["in_flight"] -= 1


def _answer(start_response: Callable[..., Any], body: object) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
