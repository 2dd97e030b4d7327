"""Building the app for a server (`gunicorn wsgi:app`, `gateway run`): a refused setting is one line.

A `ConfigError` raised while the app is built says what is wrong in one sentence; a traceback of
forty lines around it only hides it. The exit status is gunicorn's "the app failed to load" (4),
so that its master stops instead of starting workers that fail the same way, again and again.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from flask import Flask

from gateway import create_app
from gateway.plugin.settings import ConfigError

APP_LOAD_ERROR = 4  # gunicorn.arbiter.Arbiter.APP_LOAD_ERROR: the master halts


def refusal(error: ConfigError) -> str:
    return f"gateway: refused to start: {error}"


def app_or_exit() -> Flask:
    """`create_app()`, or one line on stderr and exit status 4 when the configuration is refused."""
    try:
        return create_app()
    except ConfigError as exc:
        print(refusal(exc), file=sys.stderr, flush=True)
        raise SystemExit(APP_LOAD_ERROR) from None


def exit_if_refused() -> None:
    """Build the app quietly and let it go: exit status 4 and the one line when the configuration is refused
    (gunicorn's master runs this in a child before it starts any worker: gateway/ops/gunicorn_conf.py)."""
    import logging

    logging.disable(logging.CRITICAL)
    app_or_exit().extensions["gateway"].db.dispose()


def granian_app() -> Any:
    """`app_or_exit()` for granian's workers (gateway/ops/granian_run.py), behind the RSGI bridge
    (gateway/ops/rsgi_bridge.py): they log as gunicorn's do, in GATEWAY_LOG_FORMAT at GATEWAY_LOG_LEVEL,
    with an access line per request (gateway/ops/access_log.py)."""
    from gateway.ops.access_log import AccessLog
    from gateway.ops.client_limits import ClientLimits
    from gateway.ops.rsgi_bridge import WSGIOverRSGI, threads_from_environ
    from gateway.telemetry import logs

    logs.configure_process_logging(os.environ.get("GATEWAY_LOG_FORMAT"), os.environ.get("GATEWAY_LOG_LEVEL"))
    app = app_or_exit()
    app.wsgi_app = AccessLog(app.wsgi_app)  # type: ignore[method-assign]
    return WSGIOverRSGI(app, threads=threads_from_environ(), limits=ClientLimits.from_environ())
