"""Run the gateway the way it is deployed: `flask --app wsgi ...` and gunicorn, as child processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

from tests.support.keys import TEST_API_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(config: Mapping[str, str]) -> dict[str, str]:
    provider_variables = ("GATEWAY_", "IOTPAY_", "STRIPE_", "EXAMPLE_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(provider_variables)}
    # Outside the sandbox the gateway refuses to start without API keys; GATEWAY_API_KEYS="" to see it.
    if config.get("GATEWAY_SANDBOX") != "1":  # a sandbox may run open, as `make run` does
        env["GATEWAY_API_KEYS"] = TEST_API_KEY
    env.update(config)
    # The repository first (tests.support plugins, wsgi), then any path the caller adds (an uninstalled plugin).
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [config.get("PYTHONPATH")])])
    return env


def flask_cli(config: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=REPO_ROOT,
        env=child_env(config),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _is_resource_tracker(pid: int) -> bool:
    """multiprocessing's helper process beside granian's spawned workers: not a worker."""
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Gunicorn:
    """gunicorn serving `app` (wsgi:app) with the repository's gunicorn.conf.py."""

    def __init__(
        self, config: Mapping[str, str], port: int, *extra_args: str, log_path: Path, app: str = "wsgi:app"
    ) -> None:
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
        self._start([*command, *extra_args, app], config, port, log_path)

    def _start(self, command: list[str], config: Mapping[str, str], port: int, log_path: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=child_env(config),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @classmethod
    def gateway_run(cls, config: Mapping[str, str], port: int, *extra_args: str, log_path: Path) -> Gunicorn:
        """`gateway run --bind 127.0.0.1:<port>`: the installed command, as deployed."""
        server = cls.__new__(cls)
        command = str(Path(sys.executable).parent / "gateway")
        server._start([command, "run", "--bind", f"127.0.0.1:{port}", *extra_args], config, port, log_path)
        return server

    @classmethod
    def deployed(
        cls, config: Mapping[str, str], port: int, *, log_path: Path, workers: int = 2, threads: int = 128
    ) -> Gunicorn:
        """`gateway run` on the default server (GATEWAY_SERVER unless `config` names one), sized by the
        settings every server reads: what the crash and multi-process tests run on."""
        sized = {"GATEWAY_WORKERS": str(workers), "GATEWAY_THREADS": str(threads), **config}
        return cls.gateway_run(sized, port, log_path=log_path)

    @classmethod
    def command(cls, command: list[str], config: Mapping[str, str], port: int, *, log_path: Path) -> Gunicorn:
        """Any server command listening on `port` (granian, gunicorn with settings of its own): the bench's."""
        server = cls.__new__(cls)
        server._start(command, config, port, log_path)
        return server

    def wait_until_healthy(self, deadline_seconds: float = 30) -> None:
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.process.returncode}:\n{self.output()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # still booting
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become healthy:\n{self.output()}")

    def worker_pids(self) -> list[int]:
        """gunicorn's worker processes: the master's children, read from /proc."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended while we looked
            if int(fields[1]) == self.process.pid and not _is_resource_tracker(int(stat.parent.name)):
                children.append(int(stat.parent.name))
        return children

    def kill_workers(self) -> list[int]:
        """SIGKILL every worker, as an OOM killer or a power cut would: no cleanup runs."""
        pids = self.worker_pids()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
