"""The `gateway` command: `gateway run`, `gateway check`, `gateway db upgrade|downgrade|current`,
`gateway reconcile`, `gateway worker`, `gateway settle-refund`, `gateway prune`, `gateway new-provider`.

The same commands stay reachable as `flask --app wsgi db ...` and `flask --app wsgi gateway ...`;
this entry point saves typing, finds the app without FLASK_APP and shows the gateway's commands
only: none of Flask's options, nor the groups other extensions add to `flask` (Flask-Limiter's).

A configuration that start-up refuses is one line on stderr (`Error: VARIABLE: problem`) and exit
status 2 for every command, never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys

import click
from flask import Flask
from flask.cli import ScriptInfo

from gateway.ops import checks, cli, granian_conf, granian_run
from gateway.ops.one_line import UsageProblem
from gateway.plugin.settings import ConfigError


def _app() -> Flask:
    from gateway import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None


@click.group(cls=cli.Commands)
@click.pass_context
def main(context: click.Context) -> None:
    """Operate the gateway. Configuration comes from the environment (and GATEWAY_CONFIG_FILE)."""
    from gateway.telemetry import logs

    # What a command prints is its answer: the app's start-up lines (providers enabled, sandbox mode,
    # Alembic's steps) would bury it, and `gateway check` reports all of that itself. Errors only;
    # `gateway worker` and `gateway reconcile` then log at GATEWAY_LOG_LEVEL, as the server does.
    try:
        logs.configure_process_logging(os.environ.get("GATEWAY_LOG_FORMAT"), "error")
    except ConfigError as exc:  # GATEWAY_LOG_FORMAT
        raise UsageProblem(str(exc)) from None
    # The app is built when a command needs it (flask.cli.with_appcontext), from the environment only.
    context.obj = ScriptInfo(create_app=_app, set_debug_flag=False, load_dotenv_defaults=False)


@main.command("run", with_appcontext=False, context_settings={"ignore_unknown_options": True})
@click.argument("server_args", nargs=-1, type=click.UNPROCESSED)
def run(server_args: tuple[str, ...]) -> None:
    """Serve the gateway with gunicorn (or GATEWAY_SERVER=granian) and its settings (bind with GATEWAY_BIND
    or --bind, or pass the server's own options)."""
    try:
        server = granian_conf.chosen_server()
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    # Build the app once here, quietly, so that a refused setting is one line before the server starts,
    # not a traceback from each of its workers.
    logging.disable(logging.CRITICAL)
    try:
        _app().extensions["gateway"].db.dispose()
    finally:
        logging.disable(logging.NOTSET)
    if server == "granian":
        raise SystemExit(granian_run.serve(server_args))
    os.environ["GATEWAY_STARTUP_CHECKED"] = "1"  # gunicorn's master need not build it again (gunicorn_conf.py)
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:gateway.ops.gunicorn_conf", *server_args]
    os.execv(sys.executable, [*argv, "gateway.ops.startup:app_or_exit()"])


@main.command("check", with_appcontext=False)
def check() -> None:
    """Validate the configuration, reach the database and each provider's API; print what is enabled."""
    gateway = _app().extensions["gateway"]
    try:
        checks.report(gateway)
    finally:
        gateway.db.dispose()


main.add_command(cli.db_cli)
for _name, _command in cli.gateway_cli.commands.items():
    if _name != "check":  # the one above builds the app itself, and disposes of it
        main.add_command(_command, _name)
