"""Deprecated: the worker class is `gateway.ops.gunicorn_worker.BalancedThreadWorker` now.

Kept, with a DeprecationWarning, for a GATEWAY_WORKER_CLASS set to the old path (gateway 0.1's default).
"""

from gateway.ops.gunicorn_worker import *  # noqa: F403
from gateway.plugin.deprecation import warn_moved

warn_moved("gateway.gunicorn_worker", "gateway.ops.gunicorn_worker")
