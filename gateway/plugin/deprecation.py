"""Warnings for plugins that use what the deprecation policy (docs/plugins/contract.md) still accepts."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from types import FrameType

log = logging.getLogger("gateway.plugin_manager")  # where operators look for news of their plugins
_PACKAGE = str(Path(__file__).resolve().parent.parent)


def warn_moved(old: str, new: str) -> None:
    """A DeprecationWarning for importing `old`, attributed to the importing code, not to the core; and a
    log line, since a server shows no DeprecationWarning by default and operators should learn of it."""
    message = f"{old} is deprecated: import from {new} instead (the old path goes in gateway {REMOVED_IN})"
    log.warning("%s", message)
    warnings.warn(message, DeprecationWarning, stacklevel=_first_frame_outside_the_core())


REMOVED_IN = "0.3"
"""The release that drops the import paths gateway 0.2 moved (one minor version after the move)."""


def _first_frame_outside_the_core() -> int:
    """The stacklevel of the code that imported a moved module: past this package and the import system
    (whose frames `warnings.warn` skips by itself, so they are not counted)."""
    frame: FrameType | None = sys._getframe(2)
    level = 2
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith("<frozen"):
            if not str(Path(filename).resolve()).startswith(_PACKAGE):
                return level
            level += 1
        frame = frame.f_back
    return 2
