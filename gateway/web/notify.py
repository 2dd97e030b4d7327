"""/notify/<provider>: where providers send payment notifications."""

from __future__ import annotations

import logging

from flask import Response, request
from flask.views import MethodView

from gateway.domain.notify import handle_notification
from gateway.plugin.clock import utcnow
from gateway.plugin.provider import InboundRequest
from gateway.plugin.settings import ConfigError
from gateway.web.blueprint import Blueprint
from gateway.web.context import current_gateway
from gateway.web.errors import ApiError

log = logging.getLogger(__name__)

blp = Blueprint("notify", __name__, url_prefix="/notify", description="Provider notifications")


def _inbound() -> InboundRequest:
    return InboundRequest(
        method=request.method,
        path=request.path,
        headers={name.lower(): value for name, value in request.headers.items()},
        query=list(request.args.items(multi=True)),
        body=request.get_data(cache=True, as_text=False, parse_form_data=False),
        remote_addr=request.remote_addr,
    )


@blp.route("/<provider_name>", methods=["GET", "POST"])
class Notify(MethodView):
    def _handle(self, provider_name: str) -> Response:
        gateway = current_gateway()
        provider = gateway.providers.get(provider_name)
        if provider is None:
            raise ApiError(404, "provider_not_found", f"No enabled provider {provider_name!r}.")
        ack = handle_notification(gateway, provider, _inbound())
        return Response(ack.body, status=ack.status, content_type=ack.content_type)

    def get(self, provider_name: str) -> Response:
        """Provider notification (some providers send their fields in the query string)."""
        if request.method == "HEAD":  # Flask routes HEAD here; a probe is not a notification to record
            return Response(status=405, headers={"Allow": "GET, POST"})
        return self._handle(provider_name)

    def post(self, provider_name: str) -> Response:
        """Provider notification; the reply is the provider's own acknowledgement (`Provider.acknowledge`)."""
        return self._handle(provider_name)


@blp.route("/<provider_name>/<account_id>", methods=["GET", "POST"])
class AccountNotify(MethodView):
    """A stored provider account's own notify URL: verified with that account's settings only."""

    def _handle(self, provider_name: str, account_id: str) -> Response:
        gateway = current_gateway()
        try:
            serving = gateway.accounts.by_id(account_id, provider_name)
        except ConfigError as exc:  # its settings no longer decrypt, or its plugin is gone: it verifies nothing
            log.error("%s notify to account %s: the account cannot be used (%s)", provider_name, account_id, exc)
            raise ApiError(
                503, "account_unavailable", "This account cannot verify notifications now; send it again later."
            ) from None
        if serving is None:
            raise ApiError(404, "account_not_found", f"No {provider_name} account {account_id!r}.")
        previous = serving.previous_in_grace(utcnow())
        ack = handle_notification(gateway, serving.provider, _inbound(), serving.account_id, previous)
        return Response(ack.body, status=ack.status, content_type=ack.content_type)

    def get(self, provider_name: str, account_id: str) -> Response:
        """Provider notification to one account (fields in the query string)."""
        if request.method == "HEAD":
            return Response(status=405, headers={"Allow": "GET, POST"})
        return self._handle(provider_name, account_id)

    def post(self, provider_name: str, account_id: str) -> Response:
        """Provider notification to one account; the reply is the provider's own acknowledgement."""
        return self._handle(provider_name, account_id)
