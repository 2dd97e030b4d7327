"""/v1/admin: merchants, their API keys and provider accounts, for operators' scripts.

The same documents as `gateway merchants|keys|accounts` (gateway.domain.merchant_admin), behind
the admin keys (GATEWAY_ADMIN_KEYS, the console's, sent as `Authorization: Bearer <key>`); a
merchant's API key never opens it. Without admin keys the admin API is off: every path is a 404
and /openapi.json leaves it out. Failed keys count with the console's failed logins, per address,
since both guess the same keys. Each change is logged with who made it (the key's label and
fingerprint, never the key); no answer holds a secret but the API key or webhook secret it creates.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import g, request
from flask.views import MethodView

from gateway.domain import merchant_admin
from gateway.domain.admin_schemas import (
    MAX_ID,
    AccountCreatedSchema,
    AccountCreateSchema,
    AccountListedSchema,
    AccountRotateSchema,
    AccountSchema,
    AccountsQuerySchema,
    KeyCreateSchema,
    KeyRevokedSchema,
    KeySchema,
    MerchantCreatedSchema,
    MerchantCreateSchema,
    MerchantSchema,
    WebhookSchema,
    WebhookSetSchema,
)
from gateway.domain.errors import ResourceNotFound
from gateway.domain.schemas import ApiErrorSchema
from gateway.web import lockout
from gateway.web.blueprint import Blueprint
from gateway.web.console import access
from gateway.web.context import current_gateway
from gateway.web.errors import ApiError

log = logging.getLogger("gateway.web.admin")  # the name operators' log filters know

PREFIX = "/v1/admin"
blp = Blueprint("admin", __name__, url_prefix=PREFIX, description="Merchants, API keys, provider accounts (admin)")


@blp.before_request
def authenticate_admin() -> None:
    keys = access.admin_keys(current_gateway().settings)
    if not keys:
        raise ApiError(404, "not_found", "The admin API is off (GATEWAY_ADMIN_KEYS is not set).")
    failures = lockout.lockout(lockout.CONSOLE_LOGIN)
    wait = failures.retry_after()
    if wait is not None:
        raise lockout.refused(wait)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    key = access.match(keys, presented.strip()) if scheme.lower() == "bearer" and presented.strip() else None
    if key is None:
        failures.failed()
        log.warning("admin API: refused a request without a valid admin key from %s", request.remote_addr)
        raise ApiError(401, "unauthorized", "Send 'Authorization: Bearer <admin key>' (one of GATEWAY_ADMIN_KEYS).")
    g.admin = key


def _audit(what: str, *ids: object) -> None:
    log.info("admin API: %s %s %s", g.admin.who, what, " ".join(str(value) for value in ids))


def _id(value: str, code: str, what: str) -> str:
    """A path's id, or 404 before any query: text no database stores (NUL, surrogates) names nothing."""
    if len(value) > MAX_ID or not value.isprintable() or any("\ud800" <= char <= "\udfff" for char in value):
        raise ResourceNotFound(code, f"No {what} with that id.")
    return value


def _merchant(merchant_id: str) -> str:
    return _id(merchant_id, "merchant_not_found", "merchant")


def _account(account_id: str) -> str:
    return _id(account_id, "account_not_found", "provider account")


@blp.route("/merchants")
class Merchants(MethodView):
    @blp.arguments(MerchantCreateSchema())
    @blp.response(201, MerchantCreatedSchema)
    @blp.alt_response(409, schema=ApiErrorSchema, description="the name is taken")
    @blp.alt_response(422, schema=ApiErrorSchema)
    def post(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Create a merchant with a first API key (every scope), shown this once."""
        created = merchant_admin.create_merchant(current_gateway(), fields["name"])
        _audit("created merchant", created["id"])
        return created

    @blp.response(200, MerchantSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every merchant (the environment-configured one is `default`). No secret."""
        return merchant_admin.list_merchants(current_gateway())


@blp.route("/merchants/<merchant_id>/webhook")
class MerchantWebhook(MethodView):
    @blp.arguments(WebhookSetSchema())
    @blp.response(200, WebhookSchema)
    @blp.alt_response(404, schema=ApiErrorSchema)
    @blp.alt_response(409, schema=ApiErrorSchema, description="GATEWAY_CREDENTIALS_KEYS is not set")
    @blp.alt_response(422, schema=ApiErrorSchema)
    def put(self, fields: dict[str, Any], merchant_id: str) -> dict[str, Any]:
        """Point the merchant's webhooks at `url` with a new signing secret, shown this once."""
        answer = merchant_admin.set_webhook(current_gateway(), _merchant(merchant_id), fields["url"])
        _audit("set the webhook of merchant", merchant_id)
        return answer


@blp.route("/merchants/<merchant_id>/keys")
class MerchantKeys(MethodView):
    @blp.arguments(KeyCreateSchema(), required=False)  # no body: every scope, as the CLI without --scope
    @blp.response(201, KeySchema)
    @blp.alt_response(404, schema=ApiErrorSchema)
    @blp.alt_response(422, schema=ApiErrorSchema)
    def post(self, fields: dict[str, Any], merchant_id: str) -> dict[str, Any]:
        """Create an API key of the merchant, shown this once."""
        created = merchant_admin.create_key(current_gateway(), _merchant(merchant_id), fields.get("scopes", ()))
        _audit("created key", created["id"], "of merchant", merchant_id)
        return created


@blp.route("/keys/<key_id>/revoke")
class KeyRevoke(MethodView):
    @blp.response(200, KeyRevokedSchema)
    @blp.alt_response(404, schema=ApiErrorSchema)
    def post(self, key_id: str) -> dict[str, Any]:
        """Revoke an API key: requests with it are refused from now on (revoking twice changes nothing)."""
        revoked = merchant_admin.revoke_key(current_gateway(), _id(key_id, "key_not_found", "API key"))
        _audit("revoked key", key_id)
        return revoked


@blp.route("/merchants/<merchant_id>/accounts")
class MerchantAccounts(MethodView):
    @blp.arguments(AccountCreateSchema())
    @blp.response(201, AccountCreatedSchema)
    @blp.alt_response(404, schema=ApiErrorSchema)
    @blp.alt_response(409, schema=ApiErrorSchema, description="GATEWAY_CREDENTIALS_KEYS is not set")
    @blp.alt_response(422, schema=ApiErrorSchema, description="settings the provider refuses, or a taken name")
    def post(self, fields: dict[str, Any], merchant_id: str) -> dict[str, Any]:
        """Store a provider account: `settings` uses the provider's variable names, validated by the provider
        as the environment is, and is stored encrypted. The answer's notify_url is the one to register."""
        created = merchant_admin.create_account(
            current_gateway(), _merchant(merchant_id), fields["provider"], fields["name"], fields["settings"]
        )
        _audit("created account", created["id"], "of merchant", merchant_id)
        return created


@blp.route("/accounts")
class Accounts(MethodView):
    @blp.arguments(AccountsQuerySchema(), location="query")
    @blp.response(200, AccountListedSchema(many=True))
    @blp.alt_response(404, schema=ApiErrorSchema, description="`merchant` names no merchant")
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Provider accounts (of one merchant), the environment's too (id default-<provider>). No setting."""
        merchant_id = args.get("merchant")
        return merchant_admin.list_accounts(current_gateway(), None if merchant_id is None else _merchant(merchant_id))


@blp.route("/accounts/<account_id>/rotate")
class AccountRotate(MethodView):
    @blp.arguments(AccountRotateSchema())
    @blp.response(200, AccountSchema)
    @blp.alt_response(404, schema=ApiErrorSchema)
    @blp.alt_response(409, schema=ApiErrorSchema, description="GATEWAY_CREDENTIALS_KEYS is not set")
    @blp.alt_response(422, schema=ApiErrorSchema)
    def post(self, fields: dict[str, Any], account_id: str) -> dict[str, Any]:
        """Replace an account's settings: new calls use them at once; notifies signed with the previous
        ones verify for `grace_hours` (24 by default)."""
        grace = timedelta(hours=fields["grace_hours"])
        rotated = merchant_admin.rotate_account(current_gateway(), _account(account_id), fields["settings"], grace)
        _audit("rotated account", account_id)
        return rotated


@blp.route("/accounts/<account_id>/disable")
class AccountDisable(MethodView):
    @blp.response(200, AccountSchema)
    @blp.alt_response(404, schema=ApiErrorSchema)
    def post(self, account_id: str) -> dict[str, Any]:
        """Disable an account: no new orders use it; its orders' notifies, queries and refunds still work."""
        disabled = merchant_admin.disable_account(current_gateway(), _account(account_id))
        _audit("disabled account", account_id)
        return disabled
