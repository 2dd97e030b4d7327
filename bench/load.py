"""Load generators, each in processes of their own: wrk when installed, else a Python fallback.

Both send a list of request paths as empty POSTs (IOTPay's notify), each path once in turn, and
check every answer's body, so a benchmark that "passes" on errors is caught.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

LUA_SCRIPT = Path(__file__).with_name("requests.lua")
CREATES_SCRIPT = Path(__file__).with_name("creates.lua")
REPORT_SCRIPT = Path(__file__).with_name("report.lua")  # appended to either: the result line


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad: int  # answers that were not the expected body (or socket errors)
    wrapped: bool  # the path list ran out and was sent again
    sample: str = ""
    timeouts: int = 0  # creates answered 504: the provider did not answer in time (bench/creates.lua)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def have_wrk() -> bool:
    """BENCH_LOAD=python forces the fallback (CI checks that it works too)."""
    return shutil.which("wrk") is not None and os.environ.get("BENCH_LOAD") != "python"


def post_paths(
    base_url: str, paths: list[str], expected: str, *, connections: int, seconds: float, threads: int = 2
) -> LoadResult:
    if have_wrk():
        return _wrk(base_url, paths, expected, connections=connections, seconds=seconds, threads=threads)
    return _python(base_url, paths, expected, connections=connections, seconds=seconds)


def post_json_with_wrk(base_url: str, path: str, body: str, *, connections: int, seconds: float) -> LoadResult:
    """`connections` clients POSTing `body` to `path` back to back for `seconds` (wrk, bench/creates.lua).
    `bad` counts answers other than 201 and 504, `timeouts` the 504s."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as payload:
        payload.write(body)
        payload.flush()
        result = _run_wrk(CREATES_SCRIPT, base_url, [path, payload.name], connections=connections, seconds=seconds)
    return LoadResult(result.requests, result.seconds, result.p50_ms, result.p99_ms, result.bad, False, result.sample,
                      timeouts=result.timeouts)  # fmt: skip


def _wrk(
    base_url: str, paths: list[str], expected: str, *, connections: int, seconds: float, threads: int
) -> LoadResult:
    threads = max(1, min(threads, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".paths") as listing:
        listing.write("\n".join(paths) + "\n")
        listing.flush()
        arguments = [listing.name, expected, str(threads)]
        return _run_wrk(LUA_SCRIPT, base_url, arguments, connections=connections, seconds=seconds, threads=threads)


def _run_wrk(
    script: Path, base_url: str, arguments: list[str], *, connections: int, seconds: float, threads: int = 2
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as whole:
        whole.write(script.read_text() + "\n" + REPORT_SCRIPT.read_text())
        whole.flush()
        command = [
            "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
            "-s", whole.name, base_url, "--", *arguments,
        ]  # fmt: skip
        output = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=seconds + 60, check=True).stdout
    match = re.search(
        r"BENCH requests=(\d+) seconds=([\d.]+) p50=([\d.]+) p99=([\d.]+) bad=(\d+) wrapped=(\d+) "
        r"socket_errors=(\d+) sample=(.*)",
        output,
    )
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    count, duration, p50, p99, bad, wrapped, socket_errors, sample = match.groups()
    # The second count is the wrapped path lists (requests.lua) or the 504s (creates.lua).
    return LoadResult(
        int(count), float(duration), float(p50), float(p99), int(bad) + int(socket_errors), int(wrapped) > 0, sample,
        timeouts=int(wrapped),
    )  # fmt: skip


def _python(base_url: str, paths: list[str], expected: str, *, connections: int, seconds: float) -> LoadResult:
    """Threads in a child process of its own, so the load does not share this process's GIL."""
    with tempfile.NamedTemporaryFile("w", suffix=".paths") as listing:
        listing.write("\n".join(paths) + "\n")
        listing.flush()
        command = [sys.executable, __file__, base_url, listing.name, expected, str(connections), str(seconds)]
        output = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=seconds + 120, check=True).stdout
    fields = output.split()
    return LoadResult(
        int(fields[0]), float(fields[1]), float(fields[2]), float(fields[3]), int(fields[4]), fields[5] == "1"
    )


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _python_child(base_url: str, listing: str, expected: str, connections: int, seconds: float) -> None:
    paths = Path(listing).read_text().split()
    deadline = time.monotonic() + seconds

    def worker(first: int) -> tuple[list[float], int, bool]:
        session, latencies, bad, wrapped = requests.Session(), [], 0, False
        first %= len(paths)
        index = first
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                ok = session.post(base_url + paths[index], timeout=30).text == expected
            except requests.RequestException:
                ok = False
            latencies.append((time.perf_counter() - started) * 1000)
            bad += not ok
            index += connections
            if index >= len(paths):
                index, wrapped = first, True
        return latencies, bad, wrapped

    started = time.monotonic()
    with ThreadPoolExecutor(connections) as pool:
        results = list(pool.map(worker, range(connections)))
    elapsed = time.monotonic() - started
    latencies = [latency for result in results for latency in result[0]]
    print(
        len(latencies), elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99),
        sum(result[1] for result in results), int(any(result[2] for result in results)),
    )  # fmt: skip


if __name__ == "__main__":
    _python_child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
