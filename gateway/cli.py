"""`flask --app wsgi db upgrade` and friends."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from gateway import migrate
from gateway.runtime import current_gateway

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Create or upgrade the schema to REVISION (default: the newest)."""
    migrate.upgrade(current_gateway().db.url, revision)
    click.echo(f"database schema at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Undo migrations down to REVISION ("base" removes every table)."""
    migrate.downgrade(current_gateway().db.url, revision)
    click.echo(f"database schema at {revision}")


def register(app: Flask) -> None:
    app.cli.add_command(db_cli)
