"""gateway.sandbox.FaultQueue: faults armed for the next calls, consumed once, across processes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gateway.sandbox import DELAY, FaultQueue


def test_a_fault_fails_exactly_the_next_count_calls_of_its_operation(tmp_path: Path) -> None:
    faults = FaultQueue(str(tmp_path / "state.sqlite3"))
    faults.arm("refund", {"mode": "http_500"}, count=2)
    assert faults.take("create_order") is None
    assert [faults.take("refund") for _ in range(3)] == [{"mode": "http_500"}, {"mode": "http_500"}, None]


def test_arming_again_replaces_what_was_armed_and_clear_disarms_all(tmp_path: Path) -> None:
    faults = FaultQueue(str(tmp_path / "state.sqlite3"))
    faults.arm("refund", {"mode": "http_500"}, count=5)
    faults.arm("refund", {"mode": "fail", "err_code": "0010"})
    faults.arm("create_order", {"mode": "html"})
    assert faults.pending() == [
        {"operation": "create_order", "count": 1, "mode": "html"},
        {"operation": "refund", "count": 1, "mode": "fail", "err_code": "0010"},
    ]
    faults.clear()
    assert faults.pending() == []
    assert faults.take("refund") is None


def test_a_fault_armed_through_one_process_is_seen_and_consumed_once_by_all(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite3")
    FaultQueue(path).arm("query", {"mode": "fail"}, count=3)
    workers = [FaultQueue(path) for _ in range(4)]  # each gunicorn worker opens the same file
    with ThreadPoolExecutor(8) as pool:
        taken = list(pool.map(lambda i: workers[i % 4].take("query"), range(20)))
    assert sum(fault is not None for fault in taken) == 3


def test_a_delay_is_served_by_the_queue_and_the_call_then_goes_on(tmp_path: Path) -> None:
    faults = FaultQueue(str(tmp_path / "state.sqlite3"))
    faults.arm("create_order", {"mode": DELAY, "seconds": 0.2})
    started = time.monotonic()
    assert faults.take("create_order") is None
    assert time.monotonic() - started >= 0.2
    assert faults.pending() == []
