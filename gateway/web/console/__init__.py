"""The operator console at /console: server-rendered pages, no JavaScript, nothing from a CDN.

Pages: a dashboard, order search, and an order page with its whole timeline. Actions (all
POST, all CSRF-checked, all audited): ask the provider now, redeliver a webhook, settle a
refund by hand. Login is with an admin key (GATEWAY_ADMIN_KEYS); without one the console is off.
"""

from __future__ import annotations

from flask import Flask

from gateway.plugin.settings import Settings
from gateway.web.console import access


def init_app(app: Flask, settings: Settings) -> None:
    from gateway.web.console.views import blp

    access.admin_keys(settings)  # malformed or short keys stop start-up
    access.configure_sessions(app, settings)
    app.register_blueprint(blp)
