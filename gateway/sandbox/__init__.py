"""Simulators: a provider's stand-in that the core mounts at /sandbox/<name> in sandbox mode.

What a plugin needs to build one, so that no plugin keeps its own copy:

- `Sandbox`, what `gateway_register_sandboxes` returns, and `sandbox_url` / `sandbox_state_path`,
  where the provider finds its simulator and where the simulator keeps its state;
- `SqliteState`, state shared by every process serving the simulator (gunicorn workers);
- `FaultQueue`, failures a test arms for the next calls of an operation;
- `BackgroundSender`, notifications sent from a thread and retried until acknowledged.
"""

from __future__ import annotations

from gateway.sandbox.faults import FaultQueue, FaultRequest
from gateway.sandbox.mount import Sandbox, WSGIApp, mount_path, sandbox_state_path, sandbox_url
from gateway.sandbox.sender import DEFAULT_RETRY_DELAYS, Attempt, BackgroundSender, Outgoing, answered_2xx
from gateway.sandbox.state import SqliteState

__all__ = [
    "DEFAULT_RETRY_DELAYS",
    "Attempt",
    "BackgroundSender",
    "FaultQueue",
    "FaultRequest",
    "Outgoing",
    "Sandbox",
    "SqliteState",
    "WSGIApp",
    "answered_2xx",
    "mount_path",
    "sandbox_state_path",
    "sandbox_url",
]
