"""The Flask application factory. Nothing is read from the environment at import time."""

from __future__ import annotations

import copy
import json
import logging
import os
import weakref
from collections.abc import Callable, Mapping
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask, Response, current_app
from flask_smorest import Api
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.domain import credentials, instrument, webhooks
from gateway.domain.core import Gateway
from gateway.domain.notify_guard import RejectionThrottle
from gateway.domain.plugin_manager import (
    build_plugin_manager,
    collect_live_settings,
    collect_providers,
    collect_sandboxes,
)
from gateway.domain.schemas import AccountProviderSchema, ApiErrorSchema
from gateway.plugin.money import format_money
from gateway.plugin.settings import ConfigError, Settings, load_settings, require_api_keys
from gateway.store.db import Database
from gateway.web import admin, api, console, docs, health, lockout, notify, observe, pay, refunds
from gateway.web.context import EXTENSION_KEY, current_gateway
from gateway.web.errors import register_error_handlers

log = logging.getLogger("gateway.web.app")  # the name operators' log filters know


class GatewayApi(Api):  # type: ignore[misc]  # flask-smorest ships no type hints
    ERROR_SCHEMA = ApiErrorSchema  # document our error shape, not flask-smorest's

    def _openapi_json(self) -> Response:
        """The document flask-smorest builds, made exact for this deployment (gateway.web.openapi)."""
        from gateway.web import openapi  # on the first /openapi.json: no worker needs it before

        doc = openapi.exact(copy.deepcopy(self.spec.to_dict()), current_gateway())
        return current_app.response_class(json.dumps(doc, indent=2), mimetype="application/json")


class GatewayFlask(Flask):
    """Flask, remembering which hooks and views are coroutine functions.

    Flask's `ensure_sync` asks `inspect` about every before- and after-request hook and the view on every
    request (16 times for a create): the answer for a function never changes, so each process asks once.
    Keyed by the function (a bound method by its `__func__`), held weakly: a per-request closure goes away
    with its request.
    """

    _coroutine_functions: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        key = getattr(func, "__func__", func)
        try:
            is_coroutine = self._coroutine_functions.get(key)
        except TypeError:  # not weakly referable: ask each time
            return super().ensure_sync(func)
        if is_coroutine is None:
            is_coroutine = self._coroutine_functions[key] = iscoroutinefunction(func)
        return self.async_to_sync(func) if is_coroutine else func


API_VERSION = "1"


def create_app(test_config: Mapping[str, object] | None = None) -> Flask:
    """Build the app. `test_config` overrides environment variables of the same names."""
    instance_path = str(
        (test_config or {}).get("GATEWAY_INSTANCE_PATH") or os.environ.get("GATEWAY_INSTANCE_PATH") or ""
    )
    app = GatewayFlask("gateway", instance_path=instance_path or None, root_path=os.path.dirname(__file__))
    settings = load_settings(app.instance_path, test_config)
    settings.public_url  # noqa: B018 - validated now, not at the first order
    require_api_keys(settings)
    os.makedirs(app.instance_path, exist_ok=True)  # SQLite files and sandbox state live there
    app.config.update(
        API_TITLE="gateway",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=1024 * 1024,
    )

    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep schema order: id first
    app.add_template_filter(format_money, "money")  # {{ order.amount | money(order.currency) }}
    gateway = _build_gateway(settings)
    app.extensions[EXTENSION_KEY] = gateway

    smorest = GatewayApi(app)
    for module in (api, refunds, notify, health, admin):
        smorest.register_blueprint(module.blp)
    smorest.spec.components.schema("AccountProvider", schema=AccountProviderSchema)  # /v1/providers, by key
    if pay.enabled(settings):  # off, it is not even in /openapi.json (nor a rate limiter at all)
        from gateway.web.limiter import build_limiter  # Flask-Limiter: 1.9 MB a worker, for /pay only

        pay.limit(build_limiter(app, settings), settings)
        smorest.register_blueprint(pay.blp)
    register_error_handlers(app)  # after Api(), whose own handler would use another shape
    lockout.init_app(app, settings)  # failed API keys and console logins, per client address
    observe.init_app(app, settings)  # request ids on log lines, /metrics
    app.register_blueprint(docs.blp)  # /, /docs
    console.init_app(app, settings)  # /console

    if settings.sandbox:
        _mount_sandboxes(app, gateway)
        _warn_of_live_settings(gateway)
    proxies = settings.count("GATEWAY_TRUSTED_PROXIES")
    if proxies:
        # Behind N proxies, take the payer's address (sent to providers as clientIp) from X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    if not settings.api_keys:
        log.warning("GATEWAY_API_KEYS is not set: /v1 is open to anyone who can reach it (sandbox mode only)")
    return app


def _build_gateway(settings: Settings) -> Gateway:
    plugin_manager = build_plugin_manager(settings)
    providers = collect_providers(plugin_manager, settings)
    default = settings.get("GATEWAY_DEFAULT_PROVIDER") or implicit_default_provider(providers)
    if providers and default not in providers:
        enabled = ", ".join(providers)
        raise ConfigError("GATEWAY_DEFAULT_PROVIDER", f"must name an enabled provider ({enabled}), not {default!r}")
    webhooks.load_config(settings)  # half-configured webhooks stop start-up, not just the worker
    credentials.vault(settings)  # a malformed GATEWAY_CREDENTIALS_KEYS stops start-up, not the first request
    db = Database(
        settings.database_url, pool_size=settings.database_pool_size, pool_timeout=settings.database_pool_timeout
    )
    instrument.instrument_providers(providers, db, settings)  # metrics, log ids, the console's timeline
    plugin_manager.register(instrument.LifecycleMetrics(), name="gateway.telemetry.metrics")
    gateway = Gateway(
        settings=settings,
        db=db,
        plugin_manager=plugin_manager,
        providers=providers,
        default_provider=default,
        notify_guard=RejectionThrottle(settings),
    )
    gateway.breakers  # noqa: B018 - GATEWAY_BREAKER_* are read now: a bad value stops start-up, not an order
    return gateway


def implicit_default_provider(providers: Mapping[str, object]) -> str | None:
    """Without GATEWAY_DEFAULT_PROVIDER: the enabled provider whose name sorts first (the only one, if
    just one is enabled), so the choice never depends on the order plugins happen to load in."""
    return min(providers, default=None)


def _warn_of_live_settings(gateway: Gateway) -> None:
    """Live-looking credentials in sandbox mode: an operator may believe this is production."""
    names = collect_live_settings(gateway.plugin_manager, gateway.settings)
    if names:
        log.warning(
            "SANDBOX MODE (GATEWAY_SANDBOX=1) WITH LIVE-LOOKING SETTINGS %s: they are ignored, every provider is a "
            "simulator and no real money moves; unset GATEWAY_SANDBOX to use them",
            ", ".join(names),
        )


def _mount_sandboxes(app: Flask, gateway: Gateway) -> None:
    sandboxes = collect_sandboxes(gateway.plugin_manager, gateway.settings)
    mounts = {sandbox.mount_path: sandbox.app for sandbox in sandboxes.values()}
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, mounts)  # type: ignore[method-assign]
    for path in mounts:
        log.warning("sandbox mode: simulator at %s%s (no real money moves)", gateway.settings.public_url, path)
