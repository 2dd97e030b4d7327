"""Builds the pluggy plugin manager and the provider registry from it.

Providers, the built-in IOTPay one included, are found through the ``gateway.providers``
entry-point group; GATEWAY_PLUGINS adds modules by import path and GATEWAY_DISABLED_PLUGINS
blocks plugins by name. Anything broken stops start-up with a message naming the plugin.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping

import pluggy

from gateway import PROJECT_NAME, hookspecs
from gateway.provider import Provider
from gateway.sandbox import Sandbox
from gateway.settings import ConfigError, Settings

ENTRY_POINT_GROUP = "gateway.providers"

log = logging.getLogger(__name__)


def build_plugin_manager(settings: Settings) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in settings.names("GATEWAY_DISABLED_PLUGINS"):
        pm.set_blocked(name)
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except Exception as exc:  # an import error inside someone's plugin
        raise ConfigError("plugins", f"a {ENTRY_POINT_GROUP} entry point failed to load: {exc!r}") from exc
    for module_name in settings.names("GATEWAY_PLUGINS"):
        if pm.is_blocked(module_name) or pm.has_plugin(module_name):
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError("GATEWAY_PLUGINS", f"cannot import {module_name!r}: {exc}") from exc
        pm.register(module, name=module_name)
    try:
        pm.check_pending()  # a misspelt hook name fails here instead of being silently ignored
    except pluggy.PluginValidationError as exc:
        raise ConfigError("plugins", str(exc)) from exc
    return pm


def collect_providers(pm: pluggy.PluginManager, settings: Settings) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    for registered in pm.hook.gateway_register_providers(settings=settings):
        for provider in registered or ():
            if not isinstance(provider, Provider):
                raise ConfigError("plugins", f"gateway_register_providers returned {provider!r}, not a Provider")
            if provider.name in providers:
                raise ConfigError("plugins", f"two plugins register a provider named {provider.name!r}")
            providers[provider.name] = provider
    log.info("providers enabled: %s", ", ".join(sorted(providers)) or "none")
    return providers


def collect_sandboxes(pm: pluggy.PluginManager, settings: Settings) -> Mapping[str, Sandbox]:
    sandboxes: dict[str, Sandbox] = {}
    for registered in pm.hook.gateway_register_sandboxes(settings=settings):
        for sandbox in registered or ():
            if sandbox.name in sandboxes:
                raise ConfigError("plugins", f"two plugins register a sandbox named {sandbox.name!r}")
            sandboxes[sandbox.name] = sandbox
    return sandboxes
