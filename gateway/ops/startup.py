"""Building the app for a server (`gunicorn wsgi:app`, `gateway run`): a refused setting is one line.

A `ConfigError` raised while the app is built says what is wrong in one sentence; a traceback of
forty lines around it only hides it. The exit status is gunicorn's "the app failed to load" (4),
so that its master stops instead of starting workers that fail the same way, again and again.
"""

from __future__ import annotations

import sys

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
