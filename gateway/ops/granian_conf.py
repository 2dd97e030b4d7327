"""granian settings for `GATEWAY_SERVER=granian gateway run`: the same knobs as gunicorn_conf.py
(GATEWAY_BIND, GATEWAY_WORKERS, GATEWAY_THREADS, GATEWAY_LOG_LEVEL, GATEWAY_CLIENT_HEADER_TIMEOUT),
turned into granian's command line.

granian parses HTTP in Rust and runs the WSGI app on a pool of Python threads per worker
("blocking threads"): GATEWAY_THREADS of them, and at most as many requests taken per worker
(`--backpressure`), so that 2 x 128 holds up to 256 provider calls in flight (254 at the peak in
the one bench run, where the kernel shares connections out between the workers).

What granian does not do, and gunicorn's worker here does: a deadline for a request's body, and a cap
on one address's connections. That is why gunicorn stays the default server (bench/README.md, "Which
server: gunicorn stays the default"). The access line with the request id is the app's own under
granian (gateway/ops/access_log.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from gateway.ops.client_limits import ClientLimits

SERVER_VARIABLE = "GATEWAY_SERVER"
SERVERS = ("gunicorn", "granian")
DEFAULT_SERVER = "gunicorn"
GRACEFUL_SECONDS = 30  # as gunicorn_conf.graceful_timeout: requests in flight get this long at a stop


def chosen_server(environ: Mapping[str, str] = os.environ) -> str:
    from gateway.plugin.settings import ConfigError

    name = (environ.get(SERVER_VARIABLE) or DEFAULT_SERVER).strip().lower()
    if name not in SERVERS:
        raise ConfigError(SERVER_VARIABLE, f"must be one of {', '.join(SERVERS)}")
    return name


def granian_argv(app: str, extra: Sequence[str] = (), environ: Mapping[str, str] = os.environ) -> list[str]:
    """`python -m granian ...` serving `app` ("module:name") with the gateway's settings; `extra`
    (granian's own options, or `--bind host:port` as gunicorn takes it) comes last and wins."""
    host, _, port = (environ.get("GATEWAY_BIND") or "127.0.0.1:8000").rpartition(":")
    threads = environ.get("GATEWAY_THREADS", "128")
    header_ms = min(60_000, max(1, round(ClientLimits.from_environ(environ).header_timeout * 1000)))
    argv = [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host or "127.0.0.1", "--port", port,
        "--workers", environ.get("GATEWAY_WORKERS", "2"), "--blocking-threads", threads, "--backpressure", threads,
        "--http1-header-read-timeout", str(header_ms), "--workers-kill-timeout", str(GRACEFUL_SECONDS),
        "--respawn-failed-workers", "--no-ws", "--log-level", environ.get("GATEWAY_LOG_LEVEL", "info"),
    ]  # fmt: skip
    return [*argv, *_translated(extra), app]


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
