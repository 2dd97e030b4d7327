"""A simulator run alone, outside the gateway: `python -m <plugin>.sandbox.app --port ... --state ...`."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol


class Simulator(Protocol):
    """A WSGI app that has deliveries to stop when it is shut down."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]: ...

    def close(self, timeout: float = ...) -> None: ...


def run_alone(
    description: str,
    default_port: int,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    build: Callable[[argparse.Namespace], Simulator],
    argv: Sequence[str] | None = None,
) -> None:
    """Serve one simulator on `--host`:`--port` with werkzeug's development server until interrupted.

    Every simulator takes `--host` (127.0.0.1), `--port` (`default_port`) and `--state` (its
    SQLite file); `add_arguments` adds the plugin's own options and `build` makes the simulator
    from them. A ValueError from `build` is a usage error: one line, exit status 2.
    """
    from werkzeug.serving import run_simple  # only the standalone mode needs the development server

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--state", required=True, help="SQLite file, created if missing")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        simulator = build(args)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO)
    try:
        run_simple(args.host, args.port, simulator, threaded=True)
    finally:
        simulator.close(timeout=1.0)
