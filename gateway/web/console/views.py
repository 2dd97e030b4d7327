"""The console's views (their URLs are in gateway.web.console: this module is imported on the first
request to /console). Reads go through `queries` (gateway.store.console), actions through `actions`;
this module only checks who is asking and turns results into pages and redirects."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Response, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from gateway.plugin.clock import utcnow
from gateway.store import console as queries
from gateway.store import order_filters, routing_queries
from gateway.store.models import OrderStatus
from gateway.store.order_filters import OrderFilter
from gateway.web import lockout
from gateway.web.console import access, actions, export
from gateway.web.context import current_gateway

log = logging.getLogger("gateway.web.console.views")  # the name operators' log filters know

_PUBLIC_ENDPOINTS = {"console.login"}


def _require_login() -> BaseResponse | None:
    keys = access.admin_keys(current_gateway().settings)
    g.console_enabled = bool(keys)
    g.admin = access.current_admin(keys, current_gateway().db)
    if request.method == "POST":
        access.check_csrf()  # before anything else happens, login included
    if g.admin is None and request.endpoint not in _PUBLIC_ENDPOINTS:
        return redirect(url_for("console.login", next=request.path))
    return None


def _no_caching_no_framing(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _error_page(exc: HTTPException) -> tuple[str, int]:
    return render_template("console/error.html", error=exc), exc.code or 500


def _template_globals() -> dict[str, Any]:
    return {"csrf_token": access.csrf_token, "admin": g.get("admin")}


def login() -> BaseResponse | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    if request.method == "GET":
        return render_template("console/login.html", enabled=g.console_enabled)
    gateway = current_gateway()
    failures = lockout.lockout(lockout.CONSOLE_LOGIN)
    wait = failures.retry_after()
    if wait is not None:
        log.warning("console: login refused, too many failed logins from %s", request.remote_addr)
        page = render_template("console/login.html", enabled=g.console_enabled, locked_out=wait)
        return page, 429, {"Retry-After": str(wait)}
    keys = access.admin_keys(gateway.settings)
    key = access.match(keys, request.form.get("admin_key", ""))
    if key is None:
        failures.failed()
        log.warning("console: failed login from %s", request.remote_addr)
        return render_template("console/login.html", enabled=g.console_enabled, failed=True), 401
    access.log_in(key, gateway.db, gateway.settings)
    log.info("console: %s logged in", key.who)
    target = request.args.get("next", "")
    # Only paths inside the console: never an open redirect to another site.
    if not target.startswith("/console/") or target.startswith("//") or "\\" in target:
        target = url_for("console.dashboard")
    return redirect(target)


def logout() -> BaseResponse:
    log.info("console: %s logged out", g.admin.who)
    access.log_out(current_gateway().db)
    flash("Logged out.")
    return redirect(url_for("console.login"))


def dashboard() -> str:
    gateway = current_gateway()
    db, breaker = gateway.db, gateway.breakers.settings
    board = queries.dashboard(db)
    return render_template(
        "console/dashboard.html",
        board=board,
        views=queries.count_views(db),
        names=board.names,
        surplus=routing_queries.surplus_payments(db),
        breakers=routing_queries.breaker_states(db, breaker.failures, breaker.cooldown),
    )


def _wanted() -> OrderFilter:
    return order_filters.parse(request.args, queries.ORDER_EQUALS, queries.SAVED_VIEWS)


def orders() -> tuple[str, int]:
    wanted = _wanted()
    found = queries.list_orders(current_gateway().db, wanted)
    choices = {
        "status": [status.value for status in OrderStatus],
        "provider": sorted(current_gateway().providers),
    }
    page = render_template(
        "console/orders.html",
        wanted=wanted,
        found=found,
        names=found.names,
        equals=queries.ORDER_EQUALS,
        by_name=queries.BY_NAME,
        choices=choices,
        views=queries.SAVED_VIEWS,
        q=wanted.q,
        row_cap=queries.CSV_MAX_ROWS,
    )
    return page, 400 if wanted.errors else 200


def orders_csv() -> Response | tuple[str, int, dict[str, str]]:
    wanted = _wanted()
    if wanted.errors:
        problems = "".join(f"{name}: {why}\n" for name, why in wanted.errors.items())
        return problems, 400, {"Content-Type": "text/plain; charset=utf-8"}
    rows = export.lines(queries.export_orders(current_gateway().db, wanted))
    log.info("console: %s exported orders as CSV (%s)", g.admin.who, urlencode(wanted.query_args()))
    return Response(
        rows,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="orders-{utcnow():%Y%m%dT%H%M%SZ}.csv"',
            "Gateway-Row-Cap": str(queries.CSV_MAX_ROWS),
        },
    )


def retry_webhooks() -> BaseResponse:
    wanted = order_filters.parse(request.form, queries.ORDER_EQUALS, queries.SAVED_VIEWS)
    try:
        flash(actions.retry_failing_webhooks(current_gateway(), g.admin.who, wanted), "ok")
    except actions.ActionRefused as exc:
        flash(str(exc), "error")
    return redirect(url_for("console.orders") + "?" + urlencode(wanted.query_args()))


def order(order_id: str) -> str | tuple[str, int]:
    page = queries.order_page(current_gateway().db, order_id)
    if page is None:
        return render_template("console/missing.html", order_id=order_id), 404
    return render_template("console/order.html", page=page)


def _act(order_id: str, action: Callable[[], str]) -> BaseResponse:
    try:
        flash(action(), "ok")
    except actions.ActionRefused as exc:
        flash(str(exc), "error")
    return redirect(url_for("console.order", order_id=order_id))


def refresh(order_id: str) -> BaseResponse:
    return _act(order_id, lambda: actions.ask_provider(current_gateway(), g.admin.who, order_id))


def redeliver(order_id: str, event_id: str) -> BaseResponse:
    return _act(order_id, lambda: actions.redeliver_webhook(current_gateway(), g.admin.who, order_id, event_id))


def settle(order_id: str, refund_id: str) -> BaseResponse:
    outcome, note = request.form.get("outcome", ""), request.form.get("note", "")
    return _act(
        order_id,
        lambda: actions.settle_refund_by_hand(current_gateway(), g.admin.who, order_id, refund_id, outcome, note),
    )
