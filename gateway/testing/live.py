"""A real gateway on a loopback port, and what a test reads back from it; `LiveServer` serves any WSGI app.

The project's own tests and `examples/` reuse `LiveServer` rather than keeping copies of it.
"""

from __future__ import annotations

import importlib.metadata
import io
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode

import requests
from flask import Flask
from sqlalchemy import select, update
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.test import TestResponse

from gateway import create_app
from gateway.domain import outbox
from gateway.domain.core import Gateway
from gateway.domain.orders import new_merchant_order_no
from gateway.domain.plugin_manager import ENTRY_POINT_GROUP
from gateway.plugin.clock import utcnow
from gateway.plugin.provider import InboundRequest, Provider, Verdict
from gateway.store import migrate
from gateway.store.models import Base, NotificationRecord, OutboxEvent, Refund
from gateway.testing.harness import HttpRequest, ProviderHarness
from gateway.web.context import gateway_of


class LiveServer:
    """A WSGI app on a real loopback port, served from threads. `app` may be set once the port is known."""

    def __init__(self, app: Callable[..., Any] | None = None) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, "LiveServer: no app set"
        return self.app(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


Environ = dict[str, Any]


class Interceptor:
    """A WSGI app in front of a simulator that can change one request before the simulator sees it.

    `once(rewrite)`: `rewrite(environ)` sees each request until it returns a new environ for one
    (then it is used up) or None to let the request through unchanged. Harnesses use it for what a
    simulator has no control for, e.g. a query answered about another order than the one asked.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self._rewrites: list[Callable[[Environ], Environ | None]] = []
        self._lock = threading.Lock()

    def once(self, rewrite: Callable[[Environ], Environ | None]) -> None:
        with self._lock:
            self._rewrites.append(rewrite)

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Any:
        with self._lock:
            for rewrite in list(self._rewrites):
                changed = rewrite(environ)
                if changed is not None:
                    self._rewrites.remove(rewrite)
                    environ = changed
                    break
        return self.app(environ, start_response)

    @staticmethod
    def body(environ: Environ) -> bytes:
        """The request body, read so that the simulator can still read it afterwards."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body: bytes = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    @staticmethod
    def with_body(environ: Environ, body: bytes) -> Environ:
        return {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}


class Served(NamedTuple):
    """One request that reached the gateway over its port (a simulator's notification), and its status."""

    method: str
    path: str
    status: int


class Reply(NamedTuple):
    """What a provider would read in the gateway's answer to its notification."""

    status: int
    body: str


def migrated_database(path: Path) -> Path:
    """A SQLite file migrated to head by Alembic, to be copied for each gateway."""
    migrate.upgrade(f"sqlite:///{path}")
    return path


def installed_plugins() -> list[str]:
    """The names of every installed `gateway.providers` entry point, as the gateway would load them."""
    return sorted({entry_point.name for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})


class LiveGateway:
    """The gateway as production builds it (`create_app`, Alembic-migrated database), served on a real port.

    Built from `harness.settings(url)` with `extra_settings` over them; API calls go through the
    Flask test client, and `url` is where the harness's simulator delivers notifications. Every
    installed provider plugin but the harness's own (`harness.plugin_name`) is disabled: another
    plugin is never imported, so neither its variables in the environment nor its bugs matter.
    """

    def __init__(
        self,
        harness: ProviderHarness,
        directory: Path,
        database: Path,
        extra_settings: Mapping[str, str],
        without: Sequence[str] = (),
    ) -> None:
        self.harness = harness
        self.server = LiveServer()
        self.url = self.server.url
        settings = {
            name: value
            for name, value in {**harness.settings(self.url), **extra_settings}.items()
            if name not in without
        }
        # Outside the sandbox the gateway refuses to start without API keys: the kit brings its own.
        api_key = settings.get("GATEWAY_API_KEYS") or f"conformance-{uuid.uuid4().hex}"
        installed = installed_plugins()
        disabled = {name for name in installed if name != harness.plugin_name}
        disabled.update(name.strip() for name in settings.get("GATEWAY_DISABLED_PLUGINS", "").split(","))
        try:
            self.app: Flask = create_app(
                {
                    "GATEWAY_DEFAULT_PROVIDER": harness.provider_name,
                    **settings,
                    "GATEWAY_DISABLED_PLUGINS": ",".join(sorted(name for name in disabled if name)),
                    "GATEWAY_DATABASE_URL": f"sqlite:///{database}",
                    "GATEWAY_INSTANCE_PATH": str(directory / "instance"),
                    "GATEWAY_PUBLIC_URL": self.url,
                    "GATEWAY_API_KEYS": api_key,
                }
            )
        except BaseException:
            self.server.stop()
            raise
        self.served: list[Served] = []  # every request over the port, as it was answered
        self.server.app = self._recorded
        self.client = self.app.test_client()
        self.client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_key.split(',')[0].strip()}"
        enabled = sorted(self.gateway.providers)
        if harness.provider_name not in enabled:
            self.close()
            raise AssertionError(
                f"harness.settings() did not enable provider {harness.provider_name!r} (enabled: {enabled}). "
                f"Is its plugin installed as the `gateway.providers` entry point harness.plugin_name "
                f"({harness.plugin_name!r}; installed: {installed}), and is provider_name its ProviderInfo.name?"
            )

    def _recorded(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")

        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            self.served.append(Served(method, path, int(status.split()[0])))
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start)
        except Exception:  # what the server then answers is a 500
            self.served.append(Served(method, path, 500))
            raise

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = gateway_of(self.app)
        return gateway

    @property
    def provider(self) -> Provider:
        return self.gateway.providers[self.harness.provider_name]

    def close(self) -> None:
        self.server.stop()
        self.gateway.db.dispose()

    # -- the public API, as a checkout backend calls it --

    def post_order(self, **overrides: Any) -> TestResponse:
        return self.client.post("/v1/orders", json=self.order_fields(**overrides))

    def order_fields(self, **overrides: Any) -> dict[str, Any]:
        """A test order's `POST /v1/orders` fields: the harness's channel, currency and amount."""
        harness = self.harness
        fields = {
            "provider": harness.provider_name,
            "channel": harness.channel,
            "amount": harness.amount,
            "currency": harness.currency,
            "subject": "Conformance test",
            "body": "gateway.testing",
            "provider_options": dict(harness.order_options()),
            **overrides,
        }
        if "return_url" not in fields and "return_url" in self.provider.info.channel(fields["channel"]).required_fields:
            fields["return_url"] = "https://shop.example/orders/42/return"  # a redirect channel's orders need one
        return fields

    def new_order(self, **overrides: Any) -> dict[str, Any]:
        """An order created (201) from the kit's order fields with `overrides` laid over them, as JSON."""
        response = self.post_order(**overrides)
        assert response.status_code == 201, f"POST /v1/orders answered {response.status_code}: {response.text}"
        order: dict[str, Any] = response.get_json()
        return order

    def paid_notification(self, order: Mapping[str, Any], **overrides: Any) -> HttpRequest:
        """`harness.paid_notification(order, ...)`, once the simulator has taken the payment (without
        notifying) when the provider confirms notifications by query (`info.confirm_notifications`): a
        genuine paid notification then comes with a provider that says so when asked."""
        if self.provider.info.confirm_notifications:
            self.harness.pay_without_notifying(order)
        return self.harness.paid_notification(order, **overrides)

    def paid_order(self, **overrides: Any) -> dict[str, Any]:
        """A new order (`new_order(**overrides)`), paid at the simulator (`harness.pay`) and then by its paid
        notification."""
        order = self.new_order(**overrides)
        self.harness.pay(order)
        reply = self.notify(self.harness.paid_notification(order))
        paid = self.order(order["id"])
        assert paid["status"] == "paid", f"the paid notification got {reply}; the order is {paid['status']!r}"
        return paid

    @staticmethod
    def order_never_created(like: Mapping[str, Any]) -> dict[str, Any]:
        """An order shaped like `like` that the gateway never created: a new id and merchant_order_no."""
        return {**like, "id": str(uuid.uuid4()), "merchant_order_no": new_merchant_order_no()}

    def order(self, order_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/orders/{order_id}")
        assert response.status_code == 200, f"GET /v1/orders/{order_id} answered {response.status_code}"
        order: dict[str, Any] = response.get_json()
        return order

    def refresh(self, order_id: str) -> TestResponse:
        """`GET /v1/orders/<id>?refresh=true`: the gateway asks the provider about the order."""
        return self.client.get(f"/v1/orders/{order_id}?refresh=true")

    def refund(self, order_id: str, amount: int) -> TestResponse:
        # A new Idempotency-Key per refund, as the API requires of every client.
        key = {"Idempotency-Key": str(uuid.uuid4())}
        return self.client.post(f"/v1/orders/{order_id}/refunds", json={"amount": amount}, headers=key)

    def refunds(self, order_id: str) -> list[dict[str, Any]]:
        refunds: list[dict[str, Any]] = self.client.get(f"/v1/orders/{order_id}/refunds").get_json()
        return refunds

    # -- notifications --

    @property
    def notify_path(self) -> str:
        return f"/notify/{self.harness.provider_name}"

    def notify(self, request: HttpRequest, path: str | None = None) -> Reply:
        """Deliver `request` through the Flask test client, exactly as described (to `path`, default
        the environment account's notify path)."""
        response = self.client.open(
            path or self.notify_path,
            method=request.method,
            query_string=urlencode(list(request.query)),
            headers=dict(request.headers),
            data=request.body,
        )
        return Reply(response.status_code, response.get_data(as_text=True))

    def notify_over_http(self, request: HttpRequest) -> Reply:
        """Deliver `request` over a real connection to the served gateway."""
        response = requests.request(
            request.method,
            self.url + self.notify_path,
            params=list(request.query),
            headers=dict(request.headers),
            data=request.body,
            timeout=30,
        )
        return Reply(response.status_code, response.text)

    def inbound(self, request: HttpRequest) -> InboundRequest:
        """`request` as the notify view hands it to `Provider.verify_notification`."""
        return InboundRequest(
            method=request.method,
            path=self.notify_path,
            headers={name.lower(): value for name, value in request.headers.items()},
            query=list(request.query),
            body=request.body,
            remote_addr="127.0.0.1",
        )

    def ack(self, verdict: Verdict) -> Reply:
        """The reply the provider itself says belongs to `verdict`."""
        acknowledgement = self.provider.acknowledge(verdict)
        return Reply(acknowledgement.status, acknowledgement.body)

    # -- what the gateway recorded --

    def verdicts(self) -> list[str]:
        """The verdict of every notification received, oldest first."""
        with self.gateway.db.transaction() as session:
            return list(session.scalars(select(NotificationRecord.verdict).order_by(NotificationRecord.id)))

    def notification_reasons(self) -> list[str]:
        with self.gateway.db.transaction() as session:
            reasons = session.scalars(select(NotificationRecord.reason).order_by(NotificationRecord.id))
            return [reason for reason in reasons if reason]

    def paid_events(self) -> list[str]:
        """The order id of every `order.paid` merchant webhook queued in the outbox."""
        return self.order_events(outbox.ORDER_PAID)

    def order_events(self, event_type: str) -> list[str]:
        """The order id of every merchant webhook of `event_type` (`order.paid` ...) queued in the outbox."""
        with self.gateway.db.transaction() as session:
            events = session.scalars(
                select(OutboxEvent).where(OutboxEvent.type == event_type).order_by(OutboxEvent.created_at)
            )
            return [event.data["order"]["id"] for event in events]

    def event_ids(self) -> list[str | None]:
        """The provider event id recorded with every notification received, oldest first."""
        with self.gateway.db.transaction() as session:
            return list(session.scalars(select(NotificationRecord.event_id).order_by(NotificationRecord.id)))

    def reconcile(self, later: timedelta = timedelta(0)) -> dict[str, int]:
        """One reconciliation pass over everything open, however recent (`gateway reconcile --older-than 0`),
        run as if `later` had passed (past `gateway.order_lifetime`, unpaid orders are due to expire)."""
        from gateway.domain.reconcile import reconcile

        return dict(reconcile(self.gateway, timedelta(0), now=utcnow() + later))

    def stored_text(self) -> str:
        """Every row of every table the gateway stores, as text (to look for what must never be stored)."""
        with self.gateway.db.transaction() as session:
            rows = [row for table in Base.metadata.sorted_tables for row in session.execute(select(table))]
        return "\n".join(" ".join(map(str, row)) for row in rows)

    def expire_refund_leases(self, order_id: str) -> None:
        """Move the leases (`claimed_until`) of the order's refunds to the past, so reconcile takes them now."""
        with self.gateway.db.transaction() as session:
            session.execute(
                update(Refund)
                .where(Refund.order_id == order_id, Refund.claimed_until.is_not(None))
                .values(claimed_until=utcnow() - timedelta(seconds=1))
                .execution_options(synchronize_session=False)
            )
