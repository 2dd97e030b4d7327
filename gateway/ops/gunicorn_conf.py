"""gunicorn settings for `gateway run`, `make run` and production (the repository's gunicorn.conf.py
is this module, for `gunicorn -c gunicorn.conf.py wsgi:app`).

2 gthread workers x 128 threads: a request waiting on a slow provider holds a thread (asleep, not
the GIL), so one instance keeps 256 provider calls in flight. Database connections stay bounded by
the pool (GATEWAY_DATABASE_POOL_SIZE per worker, 10): a request holds one only while it talks to
the database, never during a provider call. bench/README.md has the measurements behind the choice
(gevent workers, GATEWAY_WORKER_CLASS=gevent, also work but were slower on the notify path).

In sandbox mode the simulators are mounted in this same server, so a create_order request calls
back into it and needs a second free thread.

Metrics: every worker writes its counters to PROMETHEUS_MULTIPROC_DIR and `/metrics` adds them
up. When the variable is unset, a fresh directory is made for this server; either way it is
emptied at start (counters restart with the server, as Prometheus expects) and a dead worker's
live gauges are dropped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from gateway.ops.client_limits import ClientLimits

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
# gthread that leaves a connection to another worker while its own threads are all busy (ops/gunicorn_worker.py).
worker_class = os.environ.get("GATEWAY_WORKER_CLASS", "gateway.ops.gunicorn_worker.BalancedThreadWorker")
threads = int(os.environ.get("GATEWAY_THREADS", "128"))
worker_connections = int(os.environ.get("GATEWAY_WORKER_CONNECTIONS", "1000"))
# gthread closes a keep-alive connection that sends nothing for this long, and a busy worker may
# notice a client's next request late: 2 s (gunicorn's default) reset connections under load.
# An idle kept-alive connection waits in the worker's poller and holds no thread.
keepalive = 30
timeout = 60  # above any provider time-out, so a slow provider gives a 504, not a killed worker
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info")
# Query strings of /notify carry no secret, but keep access logs to the path: they outlive the app's logs.
# The echoed X-Request-Id joins each access line to the app's lines of the same request.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms %({x-request-id}o)s'

# Slow clients (gateway/ops/client_limits.py): read again by each worker; a wrong value stops start-up here.
_client_limits = ClientLimits.from_environ()

_JSON = os.environ.get("GATEWAY_LOG_FORMAT", "text").strip().lower() == "json"
_formatter = {"()": "gateway.telemetry.logs.JsonFormatter" if _JSON else "gateway.telemetry.logs.TextFormatter"}

# The gateway's own loggers (gateway.*, plugins.*) go to stderr beside gunicorn's, at `loglevel`,
# all in the format GATEWAY_LOG_FORMAT chose.
logconfig_dict = {
    "root": {"level": loglevel.upper(), "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {
            "level": "INFO",
            "handlers": ["error_console"],
            "propagate": False,
            "qualname": "gunicorn.error",
        },
        "gunicorn.access": {
            "level": "INFO",
            "handlers": ["console"],
            "propagate": False,
            "qualname": "gunicorn.access",
        },
    },
    "formatters": {"gateway": _formatter},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "gateway", "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "gateway", "stream": "ext://sys.stderr"},
    },
}

_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def on_starting(server: Any) -> None:
    """Refuse a bad configuration once, then give every process the same, empty metrics directory."""
    _refuse_before_workers(server)
    directory = os.environ.get(_METRICS_DIR)
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        os.environ[_METRICS_DIR] = tempfile.mkdtemp(prefix="gateway-metrics-")
        os.environ["GATEWAY_METRICS_DIR_OWNED"] = "1"


# The app URIs that are the gateway (wsgi.py, `gateway run`): the bench's hello-world shares these settings.
_GATEWAY_APPS = ("wsgi:app", "gateway.ops.startup:app_or_exit()")
_APP_LOAD_ERROR = 4  # gunicorn's own status for "the app failed to load" (gateway/ops/startup.py)
_CHECKED = "GATEWAY_STARTUP_CHECKED"  # `gateway run` built the app already, in its own process


def _refuse_before_workers(server: Any) -> None:
    """A refused configuration stops the master before it forks a worker, in one line and exit status 4.

    Left to the workers, each would refuse on its own; when two exit at once, gunicorn's master halts
    on the first and raises again, uncaught, for the second while it halts (a traceback). The check is
    the app built once in a child process, so nothing it imports (ssl, before gevent's patching) or
    opens (database connections) is inherited by the workers.
    """
    if os.environ.get(_CHECKED) == "1" or getattr(server.app, "app_uri", None) not in _GATEWAY_APPS:
        return
    check = "from gateway.ops.startup import exit_if_refused; exit_if_refused()"
    if subprocess.run([sys.executable, "-c", check], check=False).returncode != 0:
        raise SystemExit(_APP_LOAD_ERROR)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    if os.environ.get("GATEWAY_METRICS_DIR_OWNED") == "1":
        shutil.rmtree(os.environ.get(_METRICS_DIR, ""), ignore_errors=True)
