"""`gateway run` on granian: granian's master in this process (its workers are this process's children,
as gunicorn's are), with what gunicorn_conf.py's hooks do around gunicorn's workers done here around
granian's.

- Metrics: every worker writes to PROMETHEUS_MULTIPROC_DIR; it is emptied at start (or made, and
  removed at the end, when unset), as under gunicorn. granian has no hook for a worker that died, so
  a respawned worker's predecessor's live gauges stay until the next start.
- Stopping: SIGTERM or SIGINT is passed on; granian stops taking connections and lets the requests in
  flight finish, killing workers that have not after GRACEFUL_SECONDS (`--workers-kill-timeout`).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click

from gateway.ops.granian_conf import granian_args, log_config

_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
APP = "gateway.ops.startup:granian_app"  # a factory: granian calls it in each worker (--factory)


def serve(extra: Sequence[str]) -> int:
    """Run granian until it exits; its exit status."""
    from granian.cli import cli

    # Fresh interpreters, not forks of this one: `gateway run` built the app here to check the settings,
    # and prometheus_client, imported before PROMETHEUS_MULTIPROC_DIR was set, counts in memory only.
    multiprocessing.set_start_method("spawn", force=True)
    owned = _metrics_directory()
    with tempfile.NamedTemporaryFile("w", prefix="gateway-granian-log-", suffix=".json") as logging_file:
        json.dump(log_config(), logging_file)
        logging_file.flush()
        return _granian(cli, granian_args(APP, ["--factory", "--log-config", logging_file.name, *extra]), owned)


def _granian(cli: click.Command, args: list[str], owned: Path | None) -> int:
    try:
        cli.main(args=args, prog_name="granian", standalone_mode=False)
        return 0
    except click.exceptions.Exit as exit:
        return exit.exit_code
    except click.ClickException as problem:  # an option granian refuses: its own message, as its CLI prints it
        problem.show()
        return problem.exit_code
    finally:
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)


def _metrics_directory() -> Path | None:
    """The same, empty directory for every worker; the one made here (to remove at the end), if any."""
    directory = os.environ.get(_METRICS_DIR)
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return None
    made = Path(tempfile.mkdtemp(prefix="gateway-metrics-"))
    os.environ[_METRICS_DIR] = str(made)
    return made
