"""gateway: a Flask payment gateway adapter whose payment providers are pluggy plugins.

Plugin code imports the markers from here: ``from gateway import hookimpl``.

A plugin imports only the modules in `PLUGIN_API`; the rest of the package is private to the core and
may change in any release (the import-linter contracts in .importlinter hold the built-in providers
and the example to this).
"""

from gateway.hookspecs import PROJECT_NAME, hookimpl, hookspec

PLUGIN_API = (
    "gateway",  # hookimpl
    "gateway.hookspecs",  # the hooks, and their documentation
    "gateway.provider",  # the provider contract: Provider, its requests, answers and errors
    "gateway.settings",  # Settings, ConfigError
    "gateway.money",  # minor units <-> decimal text
    "gateway.iso4217",  # every ISO 4217 currency with its decimals, which ProviderInfo.currencies must agree with
    "gateway.fields",  # marshmallow fields for provider schemas
    "gateway.snapshots",  # what lifecycle hooks receive
    "gateway.http",  # ProviderHttp: the pooled session, time-outs, "no answer" as the contract's errors
    "gateway.sandbox",  # Sandbox, and a simulator's parts: state, fault queue, background sender
    "gateway.validation",  # marshmallow's error messages, flattened
    "gateway.testing",  # the conformance kit: harness, suite, pytest plugin, live server
)

__all__ = ["PLUGIN_API", "PROJECT_NAME", "create_app", "hookimpl", "hookspec"]


def create_app(test_config=None):  # type: ignore[no-untyped-def]
    """The Flask application factory (imported lazily so plugins can import `hookimpl` cheaply).

    No module of the package imports the package itself (each imports the module it needs, such as
    `gateway.hookspecs`), so this import closes no import cycle.
    """
    from gateway.app import create_app as _create_app

    return _create_app(test_config)
