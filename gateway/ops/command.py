"""The `gateway` command: `gateway run`, `gateway db upgrade`, `gateway reconcile`, `gateway worker`,
`gateway settle-refund`, `gateway check`.

The same commands stay reachable as `flask --app wsgi db ...` and `flask --app wsgi gateway ...`;
this entry point only saves typing and finds the app without FLASK_APP.
"""

from __future__ import annotations

import os
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from gateway.ops import checks, cli
from gateway.plugin.settings import ConfigError


def _app() -> Flask:
    from gateway import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_app, add_default_commands=False, add_version_option=False, load_dotenv=False)
def main() -> None:
    """Operate the gateway. Configuration comes from the environment (and GATEWAY_CONFIG_FILE)."""
    from gateway.telemetry import logs

    logs.configure_process_logging(os.environ.get("GATEWAY_LOG_FORMAT"), os.environ.get("GATEWAY_LOG_LEVEL"))


@main.command("run", with_appcontext=False, context_settings={"ignore_unknown_options": True})
@click.argument("gunicorn_args", nargs=-1, type=click.UNPROCESSED)
def run(gunicorn_args: tuple[str, ...]) -> None:
    """Serve the gateway with gunicorn and its settings (bind with GATEWAY_BIND, or pass gunicorn options)."""
    from gateway.plugin.settings import load_settings, require_api_keys

    try:  # said here in one line, rather than by every worker's traceback
        require_api_keys(load_settings(""))
    except ConfigError as exc:
        click.echo(f"gateway run: {exc}", err=True)
        raise click.exceptions.Exit(2) from None
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:gateway.ops.gunicorn_conf", *gunicorn_args]
    os.execv(sys.executable, [*argv, "gateway:create_app()"])


@main.command("check", with_appcontext=False)
def check() -> None:
    """Validate the configuration, reach the database and each provider's API; print what is enabled."""
    from gateway import create_app

    try:
        app = create_app()
    except ConfigError as exc:
        click.echo(f"FAIL  configuration: {exc}")
        raise click.exceptions.Exit(2) from None
    gateway = app.extensions["gateway"]
    try:
        checks.report(gateway)
    finally:
        gateway.db.dispose()


main.add_command(cli.db_cli)
for _name, _command in cli.gateway_cli.commands.items():
    if _name != "check":  # the one above also reports a configuration it refuses
        main.add_command(_command, _name)
