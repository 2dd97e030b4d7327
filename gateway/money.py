"""Deprecated path: `gateway.money` is part of `gateway.plugin` now; import from there.

Kept, with a DeprecationWarning, for plugins written against gateway 0.1 (docs/plugins/contract.md).
"""

from gateway.plugin import *  # noqa: F403
from gateway.plugin.deprecation import warn_moved
from gateway.plugin.money import *  # noqa: F403  # the module's other names, which old plugins may import

warn_moved("gateway.money", "gateway.plugin")
