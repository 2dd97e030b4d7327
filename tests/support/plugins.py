"""Which installed plugins a test sees: the project's suite must pass with anyone's plugin installed beside it."""

from __future__ import annotations

from gateway.testing.live import installed_plugins


def all_plugins_but(*names: str) -> str:
    """A GATEWAY_DISABLED_PLUGINS value that leaves only `names` enabled, whatever else is installed
    (a test that counts providers would otherwise count a stranger's plugin too)."""
    return ",".join(name for name in installed_plugins() if name not in names)
