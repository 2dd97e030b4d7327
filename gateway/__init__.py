"""gateway: a Flask payment gateway adapter whose payment providers are pluggy plugins.

Plugin code imports the markers from here: ``from gateway import hookimpl``.
"""

import pluggy

PROJECT_NAME = "gateway"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "create_app", "hookimpl", "hookspec"]


def create_app(test_config=None):  # type: ignore[no-untyped-def]
    """The Flask application factory (imported lazily so plugins can import `hookimpl` cheaply)."""
    from gateway.app import create_app as _create_app

    return _create_app(test_config)
