"""`gateway merchants|keys|accounts ...`: merchants, their API keys and provider accounts, in JSON.

Operators' scripts read the output, so each command prints one JSON document on stdout. A secret
(an API key, a webhook secret) appears in the output of the command that creates it, once, and
nowhere else. Every bad argument, usage errors included, is one `Error:` line and exit status 1.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import click
from flask.cli import AppGroup

from gateway.domain import merchant_admin, merchants
from gateway.domain.accounts import read_settings_file
from gateway.domain.core import Gateway
from gateway.domain.errors import GatewayError
from gateway.ops.one_line import OneLineErrors
from gateway.plugin.settings import ConfigError
from gateway.web.context import current_gateway

P = ParamSpec("P")
R = TypeVar("R")


class _OneLine(OneLineErrors):
    problem = click.ClickException  # every bad argument of these commands exits 1, like their refusals


class Group(AppGroup):
    command_class = _OneLine

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise click.ClickException(" ".join(exc.format_message().split())) from None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            raise click.ClickException(" ".join(exc.format_message().split())) from None


def with_gateway(command: Callable[Concatenate[Gateway, P], R]) -> Callable[P, R]:
    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(current_gateway(), *args, **kwargs)
        except GatewayError as exc:
            fields = "; ".join(f"{name}: {' '.join(problems)}" for name, problems in exc.errors.items())
            raise click.ClickException(fields or exc.message) from None
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    return run


def print_json(document: object) -> None:
    click.echo(json.dumps(document))


merchants_cli = Group("merchants", help="Merchants: each has its own API keys, webhook endpoint and orders.")
keys_cli = Group("keys", help="Merchants' API keys (stored hashed; a new key is shown once).")
accounts_cli = Group("accounts", help="Provider accounts: a merchant's credentials at a provider, encrypted.")


@merchants_cli.command("create")
@click.option("--name", required=True, help="unique, at most 80 characters")
@with_gateway
def create_merchant(gateway: Gateway, name: str) -> None:
    """Create a merchant with a first API key (all scopes), printed once."""
    print_json(merchant_admin.create_merchant(gateway, name))


@merchants_cli.command("list")
@with_gateway
def list_merchants(gateway: Gateway) -> None:
    """Every merchant (the environment-configured one is `default`). No secret is shown."""
    print_json(merchant_admin.list_merchants(gateway))


@merchants_cli.command("set-webhook")
@click.option("--merchant", "merchant_id", required=True, help="the merchant's id")
@click.option("--url", required=True, help="where the merchant's webhook events are POSTed")
@with_gateway
def set_webhook(gateway: Gateway, merchant_id: str, url: str) -> None:
    """Point a merchant's webhooks at URL with a new signing secret, printed once."""
    print_json(merchant_admin.set_webhook(gateway, merchant_id, url))


@keys_cli.command("create")
@click.option("--merchant", "merchant_id", required=True, help="the merchant's id")
@click.option("--scope", "scopes", multiple=True, help=f"repeatable; default: all ({', '.join(merchants.SCOPES)})")
@with_gateway
def create_key(gateway: Gateway, merchant_id: str, scopes: tuple[str, ...]) -> None:
    """Create an API key for a merchant; the key is printed once."""
    print_json(merchant_admin.create_key(gateway, merchant_id, scopes))


@keys_cli.command("revoke")
@click.argument("key_id")
@with_gateway
def revoke_key(gateway: Gateway, key_id: str) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    print_json(merchant_admin.revoke_key(gateway, key_id))


def _settings_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"--settings: cannot read {str(path)!r} ({type(exc).__name__})") from None
    return read_settings_file(text)


@accounts_cli.command("create")
@click.option("--merchant", "merchant_id", required=True, help="the merchant's id")
@click.option("--provider", required=True, help="an installed provider's name (see /v1/providers)")
@click.option("--name", required=True, help="unique for the merchant, e.g. 'usd'")
@click.option("--settings", "settings_path", required=True, type=click.Path(path_type=Path), help="a JSON object file")
@with_gateway
def create_account(gateway: Gateway, merchant_id: str, provider: str, name: str, settings_path: Path) -> None:
    """Store a provider account: SETTINGS uses the provider's variable names (<PROVIDER>_...),
    validated by the provider as the environment is, and is stored encrypted."""
    print_json(merchant_admin.create_account(gateway, merchant_id, provider, name, _settings_file(settings_path)))


@accounts_cli.command("list")
@click.option("--merchant", "merchant_id", help="only this merchant's")
@with_gateway
def list_accounts(gateway: Gateway, merchant_id: str | None) -> None:
    """Provider accounts, with the environment's (id default-<provider>, merchant default). No secret."""
    print_json(merchant_admin.list_accounts(gateway, merchant_id))


@accounts_cli.command("rotate")
@click.argument("account_id")
@click.option(
    "--settings", "settings_path", required=True, type=click.Path(path_type=Path), help="the new settings (JSON)"
)
@click.option(
    "--grace-hours",
    default=24.0,
    show_default=True,
    type=click.FloatRange(min=0, max=24 * 30),
    help="how long notifies signed with the previous settings still verify",
)
@with_gateway
def rotate_account(gateway: Gateway, account_id: str, settings_path: Path, grace_hours: float) -> None:
    """Replace an account's settings: new calls use them at once; notifies signed with the previous
    ones verify until the grace period ends."""
    print_json(
        merchant_admin.rotate_account(gateway, account_id, _settings_file(settings_path), timedelta(hours=grace_hours))
    )


@accounts_cli.command("disable")
@click.argument("account_id")
@with_gateway
def disable_account(gateway: Gateway, account_id: str) -> None:
    """Disable an account: no new orders use it; its orders' notifies, queries and refunds still work."""
    print_json(merchant_admin.disable_account(gateway, account_id))
