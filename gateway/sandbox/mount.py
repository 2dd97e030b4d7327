"""Where a simulator is mounted, where its provider finds it, and where it keeps its state."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.plugin.settings import Settings

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MOUNT_PREFIX = "/sandbox"


def mount_path(name: str) -> str:
    """The path the core mounts the simulator `name` at: `/sandbox/<name>`."""
    return f"{MOUNT_PREFIX}/{name}"


def sandbox_url(settings: Settings, name: str) -> str:
    """The simulator's base URL in sandbox mode: the API URL a provider uses there.

    It is the gateway's own public URL (GATEWAY_PUBLIC_URL) plus `mount_path(name)`, so the
    provider's calls reach the simulator through the same server, as they would reach the
    real service.
    """
    return f"{settings.public_url}{mount_path(name)}"


def sandbox_state_path(settings: Settings, name: str) -> str:
    """The SQLite file for the state of simulator `name`, in the gateway's instance folder."""
    return str(Path(settings.instance_path) / f"{name}-sandbox.sqlite3")


@dataclass(frozen=True)
class Sandbox:
    """A simulator for `gateway_register_sandboxes` to return: its name and its WSGI app."""

    name: str
    app: WSGIApp

    @property
    def mount_path(self) -> str:
        return mount_path(self.name)
