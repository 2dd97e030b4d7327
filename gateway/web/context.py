"""Where the Flask app keeps its `Gateway`, for views and CLI commands (the services take it as an argument)."""

from __future__ import annotations

from flask import Flask, current_app

from gateway.domain.core import Gateway

EXTENSION_KEY = "gateway"


def gateway_of(app: Flask) -> Gateway:
    gateway: Gateway = app.extensions[EXTENSION_KEY]
    return gateway


def current_gateway() -> Gateway:
    return gateway_of(current_app)
