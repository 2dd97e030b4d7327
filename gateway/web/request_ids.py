"""Every request gets an id (a valid `X-Request-Id`, or a new one), bound to its log lines with the ids
in its URL, and echoed in the response."""

from __future__ import annotations

from flask import Flask, Response, request

from gateway.telemetry import logs


def init_app(app: Flask) -> None:
    """Bind a request id (and the ids in the URL) before each request; echo it in the response."""
    logs.install_record_factory()

    @app.before_request
    def _bind_request_ids() -> None:
        logs.clear()
        view_args = request.view_args or {}
        logs.bind(
            request_id=logs.request_id_from(request.headers.get(logs.REQUEST_ID_HEADER)),
            order_id=view_args.get("order_id"),
            refund_id=view_args.get("refund_id"),
            provider=view_args.get("provider_name"),
        )

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        request_id = logs.bound().get("request_id")
        if request_id:
            response.headers[logs.REQUEST_ID_HEADER] = request_id
        return response

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        logs.clear()  # a thread serves many requests: ids must not leak into the next one
