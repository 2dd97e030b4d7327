"""`flask --app wsgi db upgrade` and friends."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from gateway.runtime import current_gateway

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


def register(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(gateway_cli)
