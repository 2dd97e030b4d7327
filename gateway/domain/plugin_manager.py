"""Builds the pluggy plugin manager and the provider registry from it.

Providers, the built-in ones included, are found through the ``gateway.providers``
entry-point group; GATEWAY_PLUGINS adds modules by import path and GATEWAY_DISABLED_PLUGINS
blocks plugins by name. Anything broken stops start-up with a message naming the plugin.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from gateway.plugin import hookspecs
from gateway.plugin.provider import (
    CONTRACT_VERSION,
    DEPRECATED_CONTRACT_VERSIONS,
    QUERY,
    SUPPORTED_CONTRACT_VERSIONS,
    Provider,
    ProviderInfo,
)
from gateway.plugin.settings import ConfigError, Settings

if TYPE_CHECKING:  # the simulators' plumbing is imported in sandbox mode only (GATEWAY_SANDBOX=1)
    from gateway.sandbox import Sandbox

ENTRY_POINT_GROUP = "gateway.providers"

log = logging.getLogger("gateway.plugin_manager")  # the name operators' log filters know


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


VERSION_ATTRIBUTE = "GATEWAY_CONTRACT_VERSION"


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as exc:  # a hook with wrong arguments; registered twice
        raise ConfigError("plugins", f"plugin {name!r}: {exc}") from exc
    if not pm.get_hookcallers(plugin):
        # Nothing decorated with @hookimpl: the plugin would load and silently do nothing.
        pm.unregister(plugin)
        raise ConfigError("plugins", f"plugin {name!r} implements no gateway hook (missing @hookimpl?)")
    declared = getattr(plugin, VERSION_ATTRIBUTE, None)
    problem = _version_problem(declared)
    if problem:
        pm.unregister(plugin)
        raise ConfigError("plugins", f"plugin {name!r} {problem}")
    if isinstance(declared, int) and declared in DEPRECATED_CONTRACT_VERSIONS:
        _warn_deprecated_version(name, declared)


def _warn_deprecated_version(name: str, declared: int) -> None:
    """Loaded, within the deprecation window: operators see a log line, the plugin's own tests a warning."""
    message = (
        f"plugin {name!r} was built for contract version {declared}, which gateway "
        f"{DEPRECATED_CONTRACT_VERSIONS[declared]} stops loading: install a version of it built for "
        f"version {CONTRACT_VERSION}"
    )
    log.warning("%s", message)
    warnings.warn(message, DeprecationWarning, stacklevel=2)


def _version_problem(declared: object) -> str | None:
    """Why a plugin built for contract version `declared` cannot be loaded; None when it can."""
    supported = ", ".join(str(version) for version in sorted(SUPPORTED_CONTRACT_VERSIONS))
    if declared is None:
        return (
            f"does not say which contract version it was built for: add {VERSION_ATTRIBUTE} = {CONTRACT_VERSION} "
            "beside its hooks (after checking it against the contract's changes)"
        )
    if isinstance(declared, bool) or not isinstance(declared, int):
        return f"states {VERSION_ATTRIBUTE} = {declared!r}; it must be an integer such as {CONTRACT_VERSION}"
    if declared not in SUPPORTED_CONTRACT_VERSIONS and declared not in DEPRECATED_CONTRACT_VERSIONS:
        return (
            f"was built for contract version {declared}, and this gateway supports version {supported}: "
            "install a version of the plugin built for it (or disable the plugin with GATEWAY_DISABLED_PLUGINS)"
        )
    return None


def _results_by_plugin(hook: pluggy.HookCaller, what: str, **kwargs: Any) -> Iterator[tuple[str, list[Any]]]:
    """Each plugin's answer to a register_* `hook`, in pluggy's call order, with the plugin's name (for
    error messages): a list of `what`. Any other answer, or an exception, stops start-up naming the plugin."""
    for impl in reversed(hook.get_hookimpls()):
        if impl.wrapper or impl.hookwrapper:  # wrappers make no sense around a register_* hook
            continue
        try:
            answer = impl.function(*(kwargs[name] for name in impl.argnames))
        except ConfigError:
            raise  # the plugin's own message about its configuration
        except Exception as exc:
            problem = f"{hook.name} raised {type(exc).__name__}: {exc}"
            raise ConfigError("plugins", f"plugin {impl.plugin_name!r}: {problem}") from exc
        if answer is None:
            answer = []
        single = isinstance(answer, (Provider, str, bytes, Mapping)) or _is_sandbox(answer)
        if single or not isinstance(answer, Iterable):
            problem = f"{hook.name} must return a list of {what}, not a {type(answer).__name__}"
            raise ConfigError("plugins", f"plugin {impl.plugin_name!r}: {problem}")
        yield impl.plugin_name, list(answer)


def collect_providers(pm: pluggy.PluginManager, settings: Settings) -> dict[str, Provider]:
    registered = _results_by_plugin(pm.hook.gateway_register_providers, "Provider objects", settings=settings)
    providers = _collect_named(registered, provider_problem, "provider")
    log.info("providers enabled: %s", ", ".join(sorted(providers)) or "none")
    return dict(sorted(providers.items()))  # a stable order for /v1/providers, whatever the load order


def collect_sandboxes(pm: pluggy.PluginManager, settings: Settings) -> Mapping[str, Sandbox]:
    registered = _results_by_plugin(pm.hook.gateway_register_sandboxes, "Sandbox objects", settings=settings)
    return _collect_named(registered, sandbox_problem, "sandbox")


def _collect_named(
    results: Iterable[tuple[str, list[Any]]], problem_of: Callable[[object], str | None], kind: str
) -> dict[str, Any]:
    """Each plugin's registered objects by name: one that breaks the contract, or a name two plugins
    register, stops start-up naming the plugins (never a silent winner)."""
    found: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for plugin_name, registered in results:
        for item in registered:
            problem = problem_of(item)
            if problem:
                raise ConfigError("plugins", f"plugin {plugin_name!r}: {problem}")
            if item.name in found:
                problem = f"plugins {owners[item.name]!r} and {plugin_name!r} both register a {kind} named"
                raise ConfigError("plugins", f"{problem} {item.name!r}")
            found[item.name] = item
            owners[item.name] = plugin_name
    return found


def collect_live_settings(pm: pluggy.PluginManager, settings: Settings) -> list[str]:
    """The variables that plugins say point at their live services (gateway_live_settings), sorted."""
    names: set[str] = set()
    hook = pm.hook.gateway_live_settings
    for plugin_name, answered in _results_by_plugin(hook, "setting names", settings=settings):
        for name in answered:
            if not isinstance(name, str) or not _SETTING_NAME.fullmatch(name):
                problem = f"gateway_live_settings must return variable names, not a {type(name).__name__}"
                raise ConfigError("plugins", f"plugin {plugin_name!r}: {problem}")
            names.add(name)
    return sorted(names)


_SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,99}")


def provider_problem(provider: object) -> str | None:
    """What makes `provider` unusable, in words for its author; None when nothing does.

    Only types and names are quoted, never a repr: a provider's repr could hold its secret.
    """
    if not isinstance(provider, Provider):
        return f"gateway_register_providers returned a {type(provider).__name__}, not a Provider"
    info = getattr(provider, "info", None)  # a class-level annotation alone raises AttributeError
    if not isinstance(info, ProviderInfo):
        return f"its provider {type(provider).__name__} has no `info` (a ProviderInfo), but a {type(info).__name__}"
    if info.confirm_notifications and QUERY not in provider.operations:
        return f"provider {info.name!r} has info.confirm_notifications but no query_order to confirm them with"
    return None


def _is_sandbox(answer: object) -> bool:
    """A single Sandbox returned instead of a list, without importing gateway.sandbox outside the
    sandbox: if its module was never imported, no Sandbox exists."""
    mount = sys.modules.get("gateway.sandbox.mount")
    return mount is not None and isinstance(answer, mount.Sandbox)


def sandbox_problem(sandbox: object) -> str | None:
    from gateway.sandbox import Sandbox

    if not isinstance(sandbox, Sandbox):
        return f"gateway_register_sandboxes returned a {type(sandbox).__name__}, not a Sandbox"
    if not callable(sandbox.app):
        return (
            f"sandbox {sandbox.name!r} has a {type(sandbox.app).__name__} as its app, "
            "not a WSGI app (a callable taking environ and start_response)"
        )
    return None
