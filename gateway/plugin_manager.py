"""Builds the pluggy plugin manager and the provider registry from it.

Providers, the built-in ones included, are found through the ``gateway.providers``
entry-point group; GATEWAY_PLUGINS adds modules by import path and GATEWAY_DISABLED_PLUGINS
blocks plugins by name. Anything broken stops start-up with a message naming the plugin.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pluggy

from gateway import hookspecs
from gateway.provider import Provider
from gateway.sandbox import Sandbox
from gateway.settings import ConfigError, Settings

ENTRY_POINT_GROUP = "gateway.providers"

log = logging.getLogger(__name__)


def build_plugin_manager(settings: Settings) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    disabled = settings.names("GATEWAY_DISABLED_PLUGINS")
    for name in disabled:
        pm.set_blocked(name)
    entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    _refuse_name_clashes(entry_points)
    known = {entry_point.name for entry_point in entry_points} | set(settings.names("GATEWAY_PLUGINS"))
    for name in sorted(set(disabled) - known):
        log.warning("GATEWAY_DISABLED_PLUGINS names %r, which is no installed plugin (a typo?)", name)
    # Not pm.load_setuptools_entrypoints: its errors do not say which entry point failed.
    for entry_point in entry_points:
        if pm.is_blocked(entry_point.name) or pm.has_plugin(entry_point.name):
            continue  # a blocked plugin is never imported, so disabling one works around its bugs
        try:
            plugin = entry_point.load()
        except Exception as exc:  # an import error inside someone's plugin
            problem = f"plugin {entry_point.name!r} ({entry_point.value}) failed to load: {type(exc).__name__}: {exc}"
            raise ConfigError("plugins", problem) from exc
        _register(pm, plugin, entry_point.name)
    for module_name in settings.names("GATEWAY_PLUGINS"):
        if pm.is_blocked(module_name) or pm.has_plugin(module_name):
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # ImportError, or any error raised while the module runs
            problem = f"cannot import {module_name!r}: {type(exc).__name__}: {exc}"
            raise ConfigError("GATEWAY_PLUGINS", problem) from exc
        _register(pm, module, module_name)
    try:
        pm.check_pending()  # a misspelt hook name fails here instead of being silently ignored
    except pluggy.PluginValidationError as exc:
        raise ConfigError("plugins", f"plugin {pm.get_name(exc.plugin)!r}: {exc}") from exc
    return pm


def _refuse_name_clashes(entry_points: list[importlib.metadata.EntryPoint]) -> None:
    """Two distributions naming a plugin alike would let one silently shadow the other."""
    seen: dict[str, str] = {}
    for entry_point in entry_points:
        first = seen.setdefault(entry_point.name, entry_point.value)
        if first != entry_point.value:
            problem = f"two installed plugins are named {entry_point.name!r}: {first} and {entry_point.value}"
            raise ConfigError("plugins", problem)


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as exc:  # a hook with wrong arguments; registered twice
        raise ConfigError("plugins", f"plugin {name!r}: {exc}") from exc
    if not pm.get_hookcallers(plugin):
        # Nothing decorated with @hookimpl: the plugin would load and silently do nothing.
        pm.unregister(plugin)
        raise ConfigError("plugins", f"plugin {name!r} implements no gateway hook (missing @hookimpl?)")


def _results_by_plugin(hook: pluggy.HookCaller, **kwargs: Any) -> Iterator[tuple[str, Any]]:
    """Each plugin's answer to `hook`, in pluggy's call order, with the plugin's name (for error messages)."""
    for impl in reversed(hook.get_hookimpls()):
        if not (impl.wrapper or impl.hookwrapper):  # wrappers make no sense around a register_* hook
            yield impl.plugin_name, impl.function(*(kwargs[name] for name in impl.argnames))


def collect_providers(pm: pluggy.PluginManager, settings: Settings) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    owners: dict[str, str] = {}
    for plugin_name, registered in _results_by_plugin(pm.hook.gateway_register_providers, settings=settings):
        for provider in registered or ():
            if not isinstance(provider, Provider):  # the type only: a repr could hold a secret
                problem = f"gateway_register_providers returned a {type(provider).__name__}, not a Provider"
                raise ConfigError("plugins", f"plugin {plugin_name!r}: {problem}")
            if provider.name in providers:
                problem = f"plugins {owners[provider.name]!r} and {plugin_name!r} both register a provider named"
                raise ConfigError("plugins", f"{problem} {provider.name!r}")
            providers[provider.name] = provider
            owners[provider.name] = plugin_name
    log.info("providers enabled: %s", ", ".join(sorted(providers)) or "none")
    return dict(sorted(providers.items()))  # a stable order for /v1/providers, whatever the load order


def collect_sandboxes(pm: pluggy.PluginManager, settings: Settings) -> Mapping[str, Sandbox]:
    sandboxes: dict[str, Sandbox] = {}
    owners: dict[str, str] = {}
    for plugin_name, registered in _results_by_plugin(pm.hook.gateway_register_sandboxes, settings=settings):
        for sandbox in registered or ():
            if sandbox.name in sandboxes:
                problem = f"plugins {owners[sandbox.name]!r} and {plugin_name!r} both register a sandbox named"
                raise ConfigError("plugins", f"{problem} {sandbox.name!r}")
            sandboxes[sandbox.name] = sandbox
            owners[sandbox.name] = plugin_name
    return sandboxes
