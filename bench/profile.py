"""Where a gateway worker's time goes under load: py-spy samples one worker while wrk sends notifies.

    .venv/bin/python -m bench.profile [first|duplicate] [sqlite|postgresql] [--seconds 10] [-- GUNICORN ARGS]

Prints the frames that appear in the largest share of the request-handling samples (wall time:
waiting for a lock or a round trip counts, as it holds the request up). Needs py-spy
(`pip install py-spy`) and permission to ptrace the worker (root, or CAP_SYS_PTRACE).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench import load, seed, servers
from bench.run import gateway_server
from bench.servers import KEY, MCH_ID

# The frames every request goes through: not news.
_BORING = ("handle_request", "wsgi_app", "full_dispatch_request", "dispatch_request", "_handle", "__call__", "handle")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["first", "duplicate"])
    parser.add_argument("database", choices=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--cpu", action="store_true", help="on-CPU samples only (default: wall time, --idle)")
    parser.add_argument("gunicorn_args", nargs="*")
    args = parser.parse_args()
    work = servers.workdir()
    orders = 60_000 if args.kind == "first" else 200
    with servers.upstream(work) as upstream:
        if args.database == "sqlite":
            url = servers.sqlite_database(work)
            profile(args, url, upstream, work, orders)
        else:
            with servers.postgres_database("profile") as url:
                profile(args, url, upstream, work, orders)


def profile(args: argparse.Namespace, url: str, upstream: servers.Gunicorn, work: Path, orders: int) -> None:
    seed.seed_orders(url, orders, MCH_ID)
    # Every notify is confirmed by query (as in bench/run.py): the upstream must know each order, paid, or
    # no notify is ever applied and "duplicate" profiles unconfirmed first-time notifies instead.
    seed.seed_upstream(servers.UPSTREAM_STATE[upstream.url], 0, orders, MCH_ID)
    paths = [seed.notify_path(i, MCH_ID, KEY) for i in range(orders)]
    with gateway_server(url, upstream, work, "profile", *args.gunicorn_args) as gateway:
        if args.kind == "duplicate":  # pay them first
            load.post_paths(gateway.url, paths, "success", connections=4, seconds=3)
        worker = gateway.server.worker_pids()[0]
        raw = Path(os.environ.get("BENCH_PROFILE_RAW") or Path(tempfile.mkdtemp()) / "profile.txt")
        py_spy = [str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw", "-d", str(args.seconds)]
        py_spy += [] if args.cpu else ["--idle"]
        py_spy += ["-o", str(raw), "--pid", str(worker)]
        sampler = threading.Thread(target=subprocess.run, args=(py_spy,), kwargs={"capture_output": True})
        sampler.start()
        result = load.post_paths(gateway.url, paths, "success", connections=32, seconds=args.seconds + 2)
        sampler.join()
    print(f"{result.rate:.0f} notifies/s, p50 {result.p50_ms:.1f} ms, bad answers: {result.bad}")
    report(raw, args.top)


def report(raw: Path, top: int) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any("wsgi_app" in frame for frame in frames):
            continue  # not handling a request: the gunicorn loop, idle threads
        total += int(count)
        for frame in set(frames):
            if frame.split(" ")[0] not in _BORING:
                inclusive[frame] += int(count)
    if not total:
        raise SystemExit(f"no request samples in {raw}: {raw.read_text()[:500]}")
    print(f"{total} samples in requests; frames in the largest share of them:")
    for frame, count in inclusive.most_common(top):
        print(f"{100 * count / total:5.1f}%  {frame}")


if __name__ == "__main__":
    sys.exit(main())
