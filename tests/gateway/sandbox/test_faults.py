"""gateway.sandbox.FaultQueue: faults armed for the next calls, consumed once, across processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from marshmallow import ValidationError, fields, validate

from gateway.sandbox import FaultQueue, FaultRequest


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


def test_a_fault_comes_back_as_it_was_armed(tmp_path: Path) -> None:
    faults = FaultQueue(str(tmp_path / "state.sqlite3"))
    faults.arm("query_order", {"mode": "misdirect", "argument": "ORDER-2", "seconds": 1.5, "nested": {"a": [1]}})
    assert faults.take("query_order") == {
        "mode": "misdirect",
        "argument": "ORDER-2",
        "seconds": 1.5,
        "nested": {"a": [1]},
    }


def test_is_armed_looks_without_consuming(tmp_path: Path) -> None:
    faults = FaultQueue(str(tmp_path / "state.sqlite3"))
    assert not faults.is_armed("notify")
    faults.arm("notify", {"mode": "hold"})
    assert faults.is_armed("notify") and faults.is_armed("notify")
    faults.clear()
    assert not faults.is_armed("notify")


class ExampleFault(FaultRequest):
    operation = fields.String(required=True, validate=validate.OneOf(("create_order", "refund")))
    mode = fields.String(required=True, validate=validate.OneOf(("delay", "http_500")))


def test_the_faults_control_arms_lists_and_disarms(tmp_path: Path) -> None:
    faults = FaultQueue(str(tmp_path / "state.sqlite3"))
    armed = faults.control("POST", {"operation": "refund", "mode": "http_500", "count": 2}, ExampleFault())
    assert armed == (201, [{"operation": "refund", "count": 2, "mode": "http_500", "seconds": 1.0}])
    assert faults.control("GET", None, ExampleFault()) == (200, armed[1])
    assert faults.control("DELETE", None, ExampleFault()) == (200, [])


@pytest.mark.parametrize(
    "body",
    [None, [], {"operation": "query", "mode": "delay"}, {"operation": "refund", "mode": "delay", "count": 0}],
)
def test_the_faults_control_refuses_a_bad_fault_and_arms_nothing(tmp_path: Path, body: object) -> None:
    faults = FaultQueue(str(tmp_path / "state.sqlite3"))
    with pytest.raises(ValidationError):
        faults.control("POST", body, ExampleFault())
    assert faults.pending() == []
