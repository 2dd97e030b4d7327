"""Request ids on every line, ids the line is about, and one JSON object per line when asked."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from gateway.plugin.settings import ConfigError
from gateway.telemetry import logs


def test_a_valid_request_id_is_echoed_and_an_invalid_one_replaced(client: Any) -> None:
    assert client.get("/healthz", headers={"X-Request-Id": "abc-123.x:y"}).headers["X-Request-Id"] == "abc-123.x:y"
    for bad in ("", "has space", "semi;colon", "x" * 200, "<script>", "é"):
        answered = client.get("/healthz", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert answered != bad and len(answered) == 32
    first, second = (client.get("/healthz").headers["X-Request-Id"] for _ in range(2))
    assert first != second


def test_error_answers_carry_the_request_id_too(client: Any) -> None:
    response = client.get("/v1/orders/nope", headers={"X-Request-Id": "req-404"})
    assert response.status_code == 404
    assert response.headers["X-Request-Id"] == "req-404"


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = logs.JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    return [json.loads(line) for line in lines if "\n" not in line]


def test_every_line_of_a_request_names_its_request_id_and_the_ids_involved(
    neutral_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = neutral_client.post(
            "/v1/orders",
            json={"channel": "wallet", "amount": 1250, "currency": "USD", "subject": "T", "body": "B"},
            headers={"X-Request-Id": "req-create-1"},
        )
        order = response.get_json()
    request_lines = [line for line in json_lines(caplog) if line.get("request_id") == "req-create-1"]
    call = next(line for line in request_lines if line["logger"] == "gateway.instrument")
    assert call["order_id"] == order["id"]
    assert call["merchant_order_no"] == order["merchant_order_no"]
    assert call["provider"] == "example"
    assert logs.bound() == {}  # nothing leaks into whatever the thread does next


def test_json_lines_are_one_object_each_even_with_a_traceback() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), exc_info=True)
        import sys

        record.exc_info = sys.exc_info()
    text = logs.JsonFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["message"] == "failed here" and "ValueError: boom" in line["exception"]


def test_ids_from_urls_cannot_forge_a_log_line() -> None:
    logs.bind(order_id="a b\nINFO forged=1")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
        assert logs.TextFormatter().format(record).count("\n") == 0
        assert logs.bound()["order_id"] == "a?b?INFO?forged=1"
    finally:
        logs.clear()


def test_only_ids_can_be_bound() -> None:
    with pytest.raises(ValueError, match="not a log id field"):
        logs.bind(secret_key="x")


def test_an_unknown_log_format_stops_start_up(app_factory: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_LOG_FORMAT"):
        app_factory(GATEWAY_LOG_FORMAT="xml")


def test_a_kept_out_secret_is_written_by_neither_formatter(monkeypatch: pytest.MonkeyPatch) -> None:
    # A plugin's own line quoting a provider's error that echoes the key back, with its traceback.
    monkeypatch.setattr(logs, "_SECRETS", set())
    monkeypatch.setattr(logs, "_secret_pattern", None)
    secret = "sk_live_0123456789abcdefXYZ"
    logs.keep_out([secret, ""])
    try:
        raise RuntimeError(f"Invalid API Key provided: {secret.upper()}")
    except RuntimeError:
        record = logging.LogRecord("gateway_plugin", logging.ERROR, __file__, 1, "said: %s", (secret,), None)
        record.exc_info = __import__("sys").exc_info()
    for formatter in (logs.TextFormatter(), logs.JsonFormatter()):
        text = formatter.format(record)
        assert secret.lower() not in text.lower(), text
        assert "said: [secret]" in text and "Invalid API Key provided: [secret]" in text, text
        record.exc_text = None  # each formatter formats the traceback itself
