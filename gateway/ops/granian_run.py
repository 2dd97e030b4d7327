"""`GATEWAY_SERVER=granian gateway run`: granian as a child process, with what gunicorn_conf.py's hooks do
around gunicorn's workers done here around granian's.

- Metrics: every worker writes to PROMETHEUS_MULTIPROC_DIR; it is emptied at start (or made, and
  removed at the end, when unset), as under gunicorn. granian has no hook for a worker that died, so
  a respawned worker's predecessor's live gauges stay until the next start.
- Stopping: SIGTERM or SIGINT is passed on; granian stops taking connections and lets the requests in
  flight finish, killing workers that have not after GRACEFUL_SECONDS (`--workers-kill-timeout`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from gateway.ops.granian_conf import granian_argv

_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
APP = "gateway.ops.startup:granian_app"  # a factory: granian calls it in each worker (--factory)


def serve(extra: Sequence[str]) -> int:
    """Run granian until it exits; its exit status."""
    owned = _metrics_directory()
    process = subprocess.Popen(granian_argv(APP, ["--factory", *extra]))

    def forward(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        return process.wait()
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
