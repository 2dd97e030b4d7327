"""A provider simulator that the core mounts at /sandbox/<name> in sandbox mode."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Sandbox:
    name: str
    app: WSGIApp

    @property
    def mount_path(self) -> str:
        return f"/sandbox/{self.name}"
