"""A WSGI app served on a real loopback port from a thread, for tests that need real HTTP.

The conformance kit ships the same server to plugin authors; the project's tests use that one.
"""

from gateway.testing_support import LiveServer

__all__ = ["LiveServer"]
