"""The admin API's bodies (/v1/admin): what each request takes and each answer holds, with the CLI's names.

The schemas refuse what is plainly malformed (a missing field, a number for a name, an unknown
field); every rule about the values themselves (a taken name, a webhook URL the gateway refuses,
settings the provider refuses) is the domain's, as for the CLI, so both give the same answers.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.domain.merchants import MAX_NAME, SCOPES

MAX_ID = 64  # longer than any id the gateway makes (a UUID, `default`, `default-<provider>`)
MAX_GRACE_HOURS = 24 * 30


def _settings() -> fields.Dict:
    return fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        required=True,
        metadata={"description": 'the provider\'s variables, as in the environment: {"<PROVIDER>_...": "..."}'},
    )


class MerchantCreateSchema(Schema):
    name = fields.String(required=True, metadata={"description": f"unique, 1 to {MAX_NAME} printable characters"})


class MerchantCreatedSchema(Schema):
    id = fields.String()
    name = fields.String()
    api_key = fields.String(metadata={"description": "the merchant's first API key (every scope): shown this once"})


class MerchantSchema(Schema):
    id = fields.String()
    name = fields.String()
    webhook_url = fields.String(allow_none=True)


class WebhookSetSchema(Schema):
    url = fields.String(required=True, metadata={"description": "https (http only to this machine), at most 2048"})


class WebhookSchema(Schema):
    merchant = fields.String()
    url = fields.String()
    secret = fields.String(metadata={"description": "the new signing secret: shown this once"})


class KeyCreateSchema(Schema):
    scopes = fields.List(
        fields.String(validate=validate.OneOf(SCOPES)),
        validate=validate.Length(min=1, max=len(SCOPES)),
        metadata={"description": f"default: all ({', '.join(SCOPES)})"},
    )


class KeySchema(Schema):
    id = fields.String()
    merchant = fields.String()
    scopes = fields.List(fields.String())
    api_key = fields.String(metadata={"description": "the key: shown this once"})


class KeyRevokedSchema(Schema):
    id = fields.String()
    merchant = fields.String()
    revoked_at = fields.String(metadata={"description": "ISO 8601, UTC"})


class AccountCreateSchema(Schema):
    provider = fields.String(required=True, validate=validate.Length(min=1, max=40))
    name = fields.String(required=True, metadata={"description": f"unique per merchant, 1 to {MAX_NAME} characters"})
    settings = _settings()


class AccountCreatedSchema(Schema):
    id = fields.String()
    name = fields.String()
    provider = fields.String()
    notify_url = fields.String()


class AccountSchema(Schema):
    id = fields.String()
    merchant = fields.String()
    name = fields.String()
    provider = fields.String()
    disabled = fields.Boolean()
    version = fields.Integer(allow_none=True, metadata={"description": "null for the environment's accounts"})
    notify_url = fields.String()
    previous_settings_until = fields.String(
        allow_none=True, metadata={"description": "until when notifies signed with the previous settings verify"}
    )


class AccountListedSchema(AccountSchema):
    source = fields.String(metadata={"description": "`environment` (id default-<provider>) or `database`"})


class AccountsQuerySchema(Schema):
    merchant = fields.String(validate=validate.Length(min=1, max=MAX_ID), metadata={"description": "only its"})


class AccountRotateSchema(Schema):
    settings = _settings()
    grace_hours = fields.Float(
        load_default=24.0,
        validate=validate.Range(min=0, max=MAX_GRACE_HOURS),
        metadata={"description": "how long notifies signed with the previous settings still verify"},
    )


def documented_names() -> list[str]:
    """The names these schemas have in /openapi.json's components (flask-smorest drops "Schema")."""
    return [
        name.removesuffix("Schema")
        for name, value in globals().items()
        if isinstance(value, type) and issubclass(value, Schema) and value.__module__ == __name__
    ]
