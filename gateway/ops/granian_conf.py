"""granian settings for `GATEWAY_SERVER=granian gateway run`: the same knobs as gunicorn_conf.py
(GATEWAY_BIND, GATEWAY_WORKERS, GATEWAY_THREADS, GATEWAY_LOG_LEVEL, GATEWAY_CLIENT_HEADER_TIMEOUT),
turned into granian's command line.

granian parses HTTP in Rust and hands each request to the gateway's RSGI bridge
(gateway/ops/rsgi_bridge.py), which reads the body on the worker's event loop within the client
deadlines, caps one address's requests in progress, and runs the WSGI app on GATEWAY_THREADS threads
per worker: 2 x 128 holds up to 256 provider calls in flight. granian's own WSGI interface is not
used: it lets a slow body hold a thread with no time-out. `--backpressure` is granian's cap on a
worker's open connections, idle kept-alive ones included (as gunicorn's worker_connections):
BACKPRESSURE_PER_THREAD per thread, so that connections whose bodies are still arriving, which hold
no thread, do not keep genuine requests from the threads.

What granian cannot do is cap one address's connections: a connection that sends nothing holds one
of those slots until granian drops it. That is why gunicorn stays the default (bench/README.md,
"Which server: gunicorn stays the default").

HTTP/1.1 only (`--http 1`): the bridge builds a WSGI environ from HTTP/1's framing (Content-Length or
chunked, Host), and granian would otherwise take HTTP/2 without TLS as well.

The access line with the request id is the app's own under granian (gateway/ops/access_log.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from gateway.ops.client_limits import ClientLimits

SERVER_VARIABLE = "GATEWAY_SERVER"
SERVERS = ("gunicorn", "granian")
DEFAULT_SERVER = "gunicorn"
BACKPRESSURE_PER_THREAD = 8
GRACEFUL_SECONDS = 30  # as gunicorn_conf.graceful_timeout: requests in flight get this long at a stop


def chosen_server(environ: Mapping[str, str] = os.environ) -> str:
    from gateway.plugin.settings import ConfigError

    name = (environ.get(SERVER_VARIABLE) or DEFAULT_SERVER).strip().lower()
    if name not in SERVERS:
        raise ConfigError(SERVER_VARIABLE, f"must be one of {', '.join(SERVERS)}")
    return name


def granian_argv(app: str, extra: Sequence[str] = (), environ: Mapping[str, str] = os.environ) -> list[str]:
    """`python -m granian ...` serving `app` ("module:name") with the gateway's settings: the bench's."""
    return [sys.executable, "-m", "granian", *granian_args(app, extra, environ)]


def granian_args(app: str, extra: Sequence[str] = (), environ: Mapping[str, str] = os.environ) -> list[str]:
    """granian's options serving `app` ("module:name", an RSGI app) with the gateway's settings; `extra`
    (granian's own options, or `--bind host:port` as gunicorn takes it) comes last and wins."""
    host, _, port = (environ.get("GATEWAY_BIND") or "127.0.0.1:8000").rpartition(":")
    threads = int(environ.get("GATEWAY_THREADS") or 128)
    header_ms = min(60_000, max(1, round(ClientLimits.from_environ(environ).header_timeout * 1000)))
    argv = [
        "--interface", "rsgi", "--http", "1", "--host", host or "127.0.0.1", "--port", port,
        "--workers", environ.get("GATEWAY_WORKERS", "2"), "--backpressure", str(threads * BACKPRESSURE_PER_THREAD),
        "--http1-header-read-timeout", str(header_ms), "--workers-kill-timeout", str(GRACEFUL_SECONDS),
        "--respawn-failed-workers", "--no-ws", "--log-level", environ.get("GATEWAY_LOG_LEVEL", "info"),
    ]  # fmt: skip
    return [*argv, *_translated(extra), app]


def log_config(environ: Mapping[str, str] = os.environ) -> dict[str, object]:
    """granian's own log lines (`--log-config`, a logging dictConfig) in GATEWAY_LOG_FORMAT, as the
    gateway's are: one format per log. granian's access log stays off: the app writes its own."""
    json_lines = (environ.get("GATEWAY_LOG_FORMAT") or "text").strip().lower() == "json"
    formatter = "gateway.telemetry.logs.JsonFormatter" if json_lines else "gateway.telemetry.logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"gateway": {"()": formatter}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "gateway", "stream": "ext://sys.stderr"},
        },
        "loggers": {"_granian": {"handlers": ["console"], "level": "INFO", "propagate": False}},
    }


def _translated(extra: Sequence[str]) -> list[str]:
    """`--bind host:port` (what `gateway run` and `make run` pass, as for gunicorn) as --host/--port."""
    args, out = list(extra), []
    while args:
        arg = args.pop(0)
        if arg in ("--bind", "-b") and args:
            host, _, port = args.pop(0).rpartition(":")
            out += ["--host", host or "127.0.0.1", "--port", port]
        elif arg.startswith("--bind="):
            host, _, port = arg.removeprefix("--bind=").rpartition(":")
            out += ["--host", host or "127.0.0.1", "--port", port]
        else:
            out.append(arg)
    return out
