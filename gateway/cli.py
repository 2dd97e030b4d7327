"""`flask --app wsgi db upgrade` and friends."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from flask import Flask
from flask.cli import AppGroup

from gateway.core import current_gateway

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
gateway_cli = AppGroup("gateway", help="Operations: reconciliation and the merchant webhook worker.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Create or upgrade the schema to REVISION (default: the newest)."""
    from gateway import migrate  # Alembic is only needed here; keep it out of every worker's start-up

    migrate.upgrade(current_gateway().db.url, revision)
    click.echo(f"database schema at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Undo migrations down to REVISION ("base" removes every table)."""
    from gateway import migrate

    migrate.downgrade(current_gateway().db.url, revision)
    click.echo(f"database schema at {revision}")


@gateway_cli.command("reconcile")
@click.option("--older-than", default=300, show_default=True, type=click.IntRange(min=0), help="seconds")
def reconcile_command(older_than: int) -> None:
    """Settle orders and refunds left pending or unknown; expire unpaid orders past their expiry."""
    from gateway.reconcile import reconcile

    outcome = reconcile(current_gateway(), timedelta(seconds=older_than))
    click.echo(json.dumps(dict(sorted(outcome.items()))))


@gateway_cli.command("settle-refund")
@click.argument("refund_id")
@click.option("--outcome", type=click.Choice(["succeeded", "failed"]), required=True)
@click.option("--note", required=True, help="why, e.g. 'seen in the IOTPay merchant portal'")
def settle_refund_command(refund_id: str, outcome: str, note: str) -> None:
    """Settle a refund left unknown by hand, after checking the provider's own records.

    For providers with no refund query (IOTPay): an unknown refund holds its amount until settled.
    """
    from gateway.models import RefundStatus
    from gateway.refunds import UNSETTLED, get_refund, settle_refund

    gateway = current_gateway()
    if get_refund(gateway, refund_id).status not in UNSETTLED:
        raise click.ClickException(f"refund {refund_id} is already settled")
    refund = settle_refund(
        gateway, refund_id, succeeded=outcome == RefundStatus.SUCCEEDED.value, code="MANUAL", message=note
    )
    click.echo(f"refund {refund.id} {refund.status}")


@gateway_cli.command("worker")
@click.option("--once", is_flag=True, help="Deliver the events that are due now, then exit (for cron).")
def worker_command(once: bool) -> None:
    """Deliver merchant webhooks from the outbox until SIGTERM or SIGINT."""
    import logging

    from gateway import webhooks
    from gateway.settings import ConfigError

    gateway = current_gateway()
    if not logging.getLogger().handlers:  # a process of its own: log deliveries to stderr, like gunicorn
        name = (gateway.settings.get("GATEWAY_LOG_LEVEL") or "info").upper()
        level = logging.getLevelNamesMapping().get(name, logging.INFO)
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        report = webhooks.run_worker(gateway, once=once)
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise click.exceptions.Exit(2) from None
    click.echo(f"webhooks: {report.delivered} delivered, {report.failed} failed attempts")


def register(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(gateway_cli)
