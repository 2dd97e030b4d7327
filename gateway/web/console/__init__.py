"""The operator console at /console: server-rendered pages, no JavaScript, nothing from a CDN.

Pages: a dashboard, order search, and an order page with its whole timeline. Actions (all
POST, all CSRF-checked, all audited): ask the provider now, redeliver a webhook, settle a
refund by hand. Login is with an admin key (GATEWAY_ADMIN_KEYS); without one the console is off.

Its URLs are here and its views in `views`, imported on the first request to /console: most
workers never serve one, and the views with what they import cost each worker's RSS (issue 22,
bench/imports.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask
from werkzeug.exceptions import HTTPException

from gateway.plugin.settings import Settings
from gateway.web.console import access

# (rule, view function in `views`, methods): the endpoint is console.<view function>.
ROUTES: list[tuple[str, str, list[str]]] = [
    ("/login", "login", ["GET", "POST"]),
    ("/logout", "logout", ["POST"]),
    ("/", "dashboard", ["GET"]),
    ("/orders", "orders", ["GET"]),
    ("/orders.csv", "orders_csv", ["GET"]),
    ("/webhooks/retry", "retry_webhooks", ["POST"]),
    ("/orders/<order_id>", "order", ["GET"]),
    ("/orders/<order_id>/refresh", "refresh", ["POST"]),
    ("/orders/<order_id>/webhooks/<event_id>/redeliver", "redeliver", ["POST"]),
    ("/orders/<order_id>/refunds/<refund_id>/settle", "settle", ["POST"]),
]


def lazy(name: str) -> Callable[..., Any]:
    """`views.<name>`, imported when first called."""

    def call(*args: Any, **kwargs: Any) -> Any:
        view: Callable[..., Any] = getattr(importlib.import_module("gateway.web.console.views"), name)
        return view(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def blueprint() -> Blueprint:
    blp = Blueprint("console", __name__, url_prefix="/console")
    for rule, name, methods in ROUTES:
        blp.add_url_rule(rule, name, lazy(name), methods=methods)
    blp.before_request(lazy("_require_login"))  # every page but the login needs a session; POSTs a CSRF token
    blp.after_request(lazy("_no_caching_no_framing"))
    blp.register_error_handler(HTTPException, lazy("_error_page"))
    blp.context_processor(lazy("_template_globals"))
    return blp


def init_app(app: Flask, settings: Settings) -> None:
    access.admin_keys(settings)  # malformed or short keys stop start-up
    access.configure_sessions(app, settings)
    app.register_blueprint(blueprint())
