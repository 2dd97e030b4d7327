"""`gateway db upgrade` and friends (also `flask --app wsgi db upgrade`: see gateway.ops.command).

Each command gets the `Gateway` (never the Flask app) and answers a bad argument, a refused
operation or a database it cannot use with one line on stderr (`Error: ...`) and a non-zero exit
status, never a traceback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import OperationalError

from gateway.domain.core import Gateway
from gateway.domain.errors import GatewayError
from gateway.ops.merchants_cli import accounts_cli, keys_cli, merchants_cli
from gateway.ops.one_line import OneLineErrors, UsageProblem
from gateway.ops.routing_cli import routing_cli
from gateway.plugin.settings import ConfigError
from gateway.store import database_state
from gateway.web.context import current_gateway

P = ParamSpec("P")
R = TypeVar("R")


class Commands(AppGroup):
    command_class = OneLineErrors


def with_gateway(command: Callable[Concatenate[Gateway, P], R]) -> Callable[P, R]:
    """Call `command` with the app's Gateway; a domain or configuration error becomes a one-line error."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(current_gateway(), *args, **kwargs)
        except GatewayError as exc:
            raise click.ClickException(exc.message) from None
        except ConfigError as exc:
            raise UsageProblem(str(exc)) from None
        except OperationalError as exc:  # the database is missing, refuses connections, has no schema ...
            raise click.ClickException(f"the database {database_state.describe(exc)}") from None

    return run


db_cli = Commands("db", help="Database schema (Alembic migrations).")
gateway_cli = Commands("gateway", help="Operations: reconciliation and the merchant webhook worker.")
for _group in (merchants_cli, keys_cli, accounts_cli, routing_cli):
    gateway_cli.add_command(_group)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
@with_gateway
def upgrade(gateway: Gateway, revision: str) -> None:
    """Create or upgrade the schema to REVISION (default: the newest)."""
    from gateway.store import migrate  # Alembic is only needed here; keep it out of every worker's start-up

    _migrate(migrate.upgrade, gateway, revision)
    click.echo(f"database schema at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
@with_gateway
def downgrade(gateway: Gateway, revision: str) -> None:
    """Undo migrations down to REVISION ("base" removes every table)."""
    from gateway.store import migrate

    _migrate(migrate.downgrade, gateway, revision)
    click.echo(f"database schema at {revision}")


@db_cli.command("current")
@with_gateway
def current(gateway: Gateway) -> None:
    """Print the schema's revision and the newest one this code ships."""
    state = database_state.schema_state(gateway.db)
    behind = "" if state.up_to_date else " (behind: run `gateway db upgrade`)"
    click.echo(f"current: {state.current or 'none (no schema)'}{behind}")
    click.echo(f"head:    {state.head}")


def _migrate(step: Callable[[str, str], None], gateway: Gateway, revision: str) -> None:
    from alembic.util import CommandError

    try:
        step(gateway.db.url, revision)
    except CommandError as exc:  # an unknown or ambiguous revision: Alembic's message names it
        raise UsageProblem(f"revision {revision!r}: {exc}") from None


@gateway_cli.command("reconcile")
@click.option("--older-than", default=300, show_default=True, type=click.IntRange(min=0), help="seconds")
@with_gateway
def reconcile_command(gateway: Gateway, older_than: int) -> None:
    """Settle orders and refunds left pending or unknown; expire unpaid orders past their expiry."""
    from gateway.domain.reconcile import reconcile
    from gateway.telemetry import logs, metrics

    logs.configure_process_logging(
        gateway.settings.get("GATEWAY_LOG_FORMAT"), gateway.settings.get("GATEWAY_LOG_LEVEL")
    )
    outcome = reconcile(gateway, timedelta(seconds=older_than))
    metrics.count_reconcile(outcome)
    click.echo(json.dumps(dict(sorted(outcome.items()))))


def _says_why(context: click.Context, parameter: click.Parameter, note: str) -> str:
    if not note.strip():
        raise click.BadParameter("must say why, e.g. what the provider's records show")
    return note


@gateway_cli.command("settle-refund")
@click.argument("refund_id")
@click.option("--outcome", type=click.Choice(["succeeded", "failed"]), required=True)
@click.option("--note", required=True, callback=_says_why, help="why, e.g. 'seen in the provider's merchant portal'")
@with_gateway
def settle_refund_command(gateway: Gateway, refund_id: str, outcome: str, note: str) -> None:
    """Settle a refund left unknown by hand, after checking the provider's own records.

    For providers with no refund query: an unknown refund holds its amount until settled.
    Refused while a provider call for the refund may still be running, and for settled refunds.
    Should the provider later report otherwise, its answer wins (see the refund's `discrepancy`).
    """
    from gateway.domain.refunds import get_refund, settle_refund
    from gateway.store.models import RefundStatus

    get_refund(gateway, refund_id)  # an unknown id says so
    refund = settle_refund(
        gateway,
        refund_id,
        succeeded=outcome == RefundStatus.SUCCEEDED.value,
        code="MANUAL",
        message=note,
        by_hand=True,  # refused (Conflict) while a provider call may be in flight, or once settled
    )
    click.echo(f"refund {refund.id} {refund.status}")


@gateway_cli.command("prune")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    required=True,
    metavar="DAYS",
    help="delete audit rows older than this many days",
)
@click.option("--dry-run", is_flag=True, help="count what would be deleted, delete nothing")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1), help="rows per transaction")
@with_gateway
def prune_command(gateway: Gateway, days: int, dry_run: bool, batch_size: int) -> None:
    """Delete old audit rows: notifications, provider calls, delivered webhooks, idempotency keys.

    Never an order, a refund, the console's audit trail, nor anything an open order needs (one
    pending, one with a refund pending or unknown, one with a webhook not delivered yet), nor an
    undelivered webhook. Prints counts per table as one JSON object.
    """
    from gateway.domain.prune import prune

    report = prune(gateway.db, timedelta(days=days), dry_run=dry_run, batch_size=batch_size)
    click.echo(json.dumps(report.as_dict()))


@gateway_cli.command("worker")
@click.option("--once", is_flag=True, help="Deliver the events that are due now, then exit (for cron).")
@with_gateway
def worker_command(gateway: Gateway, once: bool) -> None:
    """Deliver merchant webhooks from the outbox until SIGTERM or SIGINT."""
    from gateway.domain import webhooks
    from gateway.telemetry import logs

    # A process of its own: log deliveries to stderr, like gunicorn, in the same format.
    logs.configure_process_logging(
        gateway.settings.get("GATEWAY_LOG_FORMAT"), gateway.settings.get("GATEWAY_LOG_LEVEL")
    )
    report = webhooks.run_worker(gateway, once=once)
    click.echo(f"webhooks: {report.delivered} delivered, {report.failed} failed attempts")


@gateway_cli.command("check")
@with_gateway
def check_command(gateway: Gateway) -> None:
    """Reach the database and each provider's API (a harmless signed query); print what is enabled."""
    from gateway.ops import checks

    checks.report(gateway)


@gateway_cli.command("new-provider", with_appcontext=False)
@click.argument("name")
@click.option("--display-name", help="what /v1/providers shows (default: NAME in title case)")
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="the directory to write gateway-NAME/ into",
)
def new_provider_command(name: str, display_name: str | None, into: Path) -> None:
    """Write a new provider plugin, NAME, ready to install: it passes the conformance kit as generated."""
    from gateway.scaffold import new_provider

    try:
        root = new_provider(name, into, display_name)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {root}")
    click.echo(f"next: pip install --no-deps -e {root} && python -m pytest {root / 'tests'} -q")


def register(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(gateway_cli)
