"""Warnings for plugins that use what the deprecation policy (docs/plugins/contract.md) still accepts."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from types import FrameType

_PACKAGE = str(Path(__file__).resolve().parent.parent)


def warn_moved(old: str, new: str) -> None:
    """A DeprecationWarning for importing `old`, attributed to the importing code, not to the core."""
    warnings.warn(
        f"{old} is deprecated: import from {new} instead (the old path goes in gateway {REMOVED_IN})",
        DeprecationWarning,
        stacklevel=_first_frame_outside_the_core(),
    )


REMOVED_IN = "0.3"
"""The release that drops the import paths gateway 0.2 moved (one minor version after the move)."""


def _first_frame_outside_the_core() -> int:
    """The stacklevel of the code that imported a moved module: past this package and the import system."""
    frame: FrameType | None = sys._getframe(2)
    level = 2
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith("<frozen") and not str(Path(filename).resolve()).startswith(_PACKAGE):
            return level
        frame = frame.f_back
        level += 1
    return 2
