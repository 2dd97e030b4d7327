"""Structured logs: every line of a request carries its request id and the ids it is about.

The request id comes from a valid `X-Request-Id` header, or is made up, and is echoed in the
response (gateway.web.request_ids). Code that learns an id worth naming (an order, a refund, a provider) binds it with
`bind(order_id=...)`; every later line of the same request then carries it, in text and in JSON.

`GATEWAY_LOG_FORMAT=json` gives one JSON object per line (gunicorn.conf.py and the `gateway`
command pick the formatter; the app itself never touches the process's logging setup).
Only ids are bound, never payloads: secrets cannot reach a log line through here. And both formatters
write every value registered with `keep_out` (each provider's keys, as the core builds the provider) as
`[secret]`, in the message and in the traceback: a plugin's own line that quotes a provider's error
echoing the key would otherwise write it out.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

REQUEST_ID_HEADER = "X-Request-Id"
# Letters, digits and a few separators, at most 128: enough for UUIDs and tracing ids, and never
# a way to inject a line break or markup into a log line.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,127}")
# The ids a line may name; anything else passed to bind() is refused, so payloads stay out.
ID_FIELDS = ("request_id", "provider", "order_id", "merchant_order_no", "provider_order_id", "refund_id", "event_id")
_MAX_ID_LENGTH = 128
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_secret_pattern: re.Pattern[str] | None = None

_NONE: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("gateway_log_context", default=_NONE)


def keep_out(values: Iterable[str]) -> None:
    """Never write any of `values` (in any case) in a log line from now on: `[secret]` stands in its place."""
    global _secret_pattern
    new = {value for value in values if value} - _SECRETS
    if not new:
        return
    with _SECRETS_LOCK:
        _SECRETS.update(new)
        longest_first = sorted(_SECRETS, key=len, reverse=True)  # a secret holding another is taken out whole
        _secret_pattern = re.compile("|".join(map(re.escape, longest_first)), re.IGNORECASE)


def without_secrets(text: str) -> str:
    pattern = _secret_pattern
    return pattern.sub("[secret]", text) if pattern is not None else text


def bind(**ids: object) -> None:
    """Name ids on every later line of this request (or thread); None values are skipped."""
    unknown = set(ids) - set(ID_FIELDS)
    if unknown:
        raise ValueError(f"not a log id field: {sorted(unknown)}")
    current = dict(_context.get())
    current.update({name: _printable(value) for name, value in ids.items() if value is not None})
    _context.set(current)


def _printable(value: object) -> str:
    """Ids can come from URLs: no line breaks or spaces that would forge a log line or a field."""
    return _UNPRINTABLE.sub("?", str(value)[:_MAX_ID_LENGTH])


def bound() -> Mapping[str, str]:
    return _context.get()


def clear() -> None:
    _context.set(_NONE)


def request_id_from(header: str | None) -> str:
    if header and _VALID_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


_STAMP = "gateway_ids"


def install_record_factory() -> None:
    """Stamp the bound ids on each record when it is made, so a handler that formats it later (or
    in another thread) still names the request it came from."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_gateway_stamps", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        ids = _context.get()
        if ids:
            setattr(record, _STAMP, ids)
        return record

    factory._gateway_stamps = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


# -- formatters ----------------------------------------------------------------------------------

# gunicorn's access log passes its atoms as the record's args; response headers are `{name}o`.
_ACCESS_REQUEST_ID = "{" + REQUEST_ID_HEADER.lower() + "}o"


def _record_ids(record: logging.LogRecord) -> dict[str, str]:
    ids = dict(getattr(record, _STAMP, None) or _context.get())
    for name in ID_FIELDS:  # extra={"order_id": ...} on one call names it on that line only
        value = record.__dict__.get(name)
        if value is not None:
            ids[name] = _printable(value)
    args = record.args
    if "request_id" not in ids and isinstance(args, Mapping):
        echoed = args.get(_ACCESS_REQUEST_ID)
        if isinstance(echoed, str) and _VALID_REQUEST_ID.fullmatch(echoed):
            ids["request_id"] = echoed
    return ids


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": without_secrets(record.getMessage()),
        }
        line.update(_record_ids(record))
        if record.exc_info:
            line["exception"] = without_secrets(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = without_secrets(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


# Line breaks and other control characters (C0, DEL, C1, Unicode's line and paragraph separators):
# a URL's %0A, decoded into the path gunicorn's access line prints, must not start a line of its own.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_CONTROLS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """`text` on one line: each control character as a visible escape (`\\n`, `\\x1b`, `\\u2028`)."""
    return _CONTROL.sub(lambda match: _NAMED_CONTROLS.get(match[0]) or f"\\u{ord(match[0]):04x}", text)


class TextFormatter(logging.Formatter):
    """The classic line, with the bound ids appended as `key=value`.

    The message is escaped (`escape_controls`), so nothing a client sends (a path, a header)
    can write a line of its own; only a traceback, appended after it, spans several lines.
    """

    def __init__(self, fmt: str | None = None, datefmt: str | None = None) -> None:
        super().__init__(fmt or "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s", datefmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        text = without_secrets(super().format(record))
        ids = _record_ids(record)
        if not ids:
            return text
        first, newline, rest = text.partition("\n")
        return first + " " + " ".join(f"{name}={value}" for name, value in ids.items()) + newline + rest


def formatter_class(log_format: str | None) -> type[logging.Formatter]:
    """GATEWAY_LOG_FORMAT: `json`, or `text` (the default)."""
    choice = (log_format or "text").strip().lower()
    if choice == "json":
        return JsonFormatter
    if choice in ("text", ""):
        return TextFormatter
    from gateway.plugin.settings import ConfigError

    raise ConfigError("GATEWAY_LOG_FORMAT", "must be json or text")


_PROCESS_HANDLER = "gateway_process_handler"


def configure_process_logging(log_format: str | None, level_name: str | None) -> None:
    """For processes of their own (`gateway worker`, `gateway reconcile`): log to stderr in the chosen format."""
    root = logging.getLogger()
    level = logging.getLevelNamesMapping().get((level_name or "info").upper(), logging.INFO)
    if root.handlers:
        # Someone (gunicorn, pytest) already decided; or the `gateway` command did, for the app's
        # start-up (quiet: its answer is what it prints), and now a command sets its own level.
        if any(getattr(handler, _PROCESS_HANDLER, False) for handler in root.handlers):
            root.setLevel(level)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(formatter_class(log_format)())
    setattr(handler, _PROCESS_HANDLER, True)
    root.addHandler(handler)
    root.setLevel(level)
