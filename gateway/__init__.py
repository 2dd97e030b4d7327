"""gateway: a Flask payment gateway adapter whose payment providers are pluggy plugins.

The layers are packages, each importing only the ones below it (the `layers` contract in
.importlinter): `ops` (the command, checks, server settings) and `web` (the app, API, console),
then `domain`, `telemetry`, `store`, and at the bottom `plugin`, the contract providers are
written against. `sandbox`, `testing` and `scaffold` serve plugin authors.

A plugin imports only the packages in `PLUGIN_API`; the rest is private to the core and may
change in any release. The top-level modules other than this one are the paths gateway 0.1 gave
plugins, kept for one minor version with a DeprecationWarning (docs/plugins/contract.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gateway.plugin.hookspecs import PROJECT_NAME, hookimpl, hookspec

if TYPE_CHECKING:
    from flask import Flask

PLUGIN_API = (
    "gateway",  # hookimpl (also in gateway.plugin)
    "gateway.plugin",  # the contract: Provider, its requests, answers and errors, hooks, Settings, money, http
    "gateway.sandbox",  # Sandbox, and a simulator's parts: state, fault queue, background sender
    "gateway.testing",  # the conformance kit: harness, suite, pytest plugin, live server
)

__all__ = ["PLUGIN_API", "PROJECT_NAME", "create_app", "hookimpl", "hookspec"]


def create_app(test_config: Mapping[str, object] | None = None) -> Flask:
    """The Flask application, with the `db` and `gateway` CLI commands (`flask --app wsgi db upgrade`).

    `test_config` overrides environment variables of the same names. The layers are imported
    lazily, so that plugins import `hookimpl` without the web layer.
    """
    from gateway.ops.cli import register
    from gateway.web.app import create_app as create_web_app

    app = create_web_app(test_config)
    register(app)
    return app
