"""A pytest plugin for mutant runs: what plays the provider runs the plugin's original code.

A plugin's simulator and harness stand in for the provider, which does not change when the plugin has
a bug. Yet they import the plugin's own modules: IOTPay's simulator checks requests with the
plugin's request schemas and signs with its `signing`; Example Pay's harness signs notifications
with it. Left so, a mutant in those modules is the simulator's too, and both sides agree on the
wrong status code, bound or signature.

So a mutant run also has an unmutated copy of the package under another name (`<package>_pristine`,
every import of the package renamed in it), and this plugin, loaded before any test module, puts that
copy's simulator (`<package>.sandbox` and its modules) and harness in `sys.modules` under the
package's own names. A harness kept outside the package (`tests/iotpay/harness.py`) is loaded from its
own file with the package's name in its imports renamed. The gateway's side (the entry point's
plugin, its provider, client, signing and schemas) is still the mutant.

`MUTATION_PROVIDER_SIDE` (JSON) says what to do: {"package", "pristine", "harnesses": {module: path}}.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
import sys
import types
from pathlib import Path

import pytest

PROVIDER_SIDE = ("sandbox", "harness")  # the package's modules that play the provider


def renamed(source: str, package: str, pristine: str) -> str:
    """`source` importing `pristine` wherever it imported `package`."""
    return re.sub(rf"\b{re.escape(package)}\b", pristine, source)


def install(package: str, pristine: str, harnesses: dict[str, str]) -> None:
    for part in PROVIDER_SIDE:
        try:
            module = importlib.import_module(f"{pristine}.{part}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{pristine}.{part}":
                raise
            continue
        if hasattr(module, "__path__"):
            for found in pkgutil.walk_packages(module.__path__, f"{module.__name__}."):
                importlib.import_module(found.name)
    importlib.import_module(package)  # the mutant's package itself, so the aliases below can hang off it
    for name, module in sorted(sys.modules.items()):
        if any(name == f"{pristine}.{part}" or name.startswith(f"{pristine}.{part}.") for part in PROVIDER_SIDE):
            alias = package + name[len(pristine) :]
            sys.modules[alias] = module
            parent, _, child = alias.rpartition(".")
            setattr(sys.modules[parent], child, module)
    for name, path in harnesses.items():
        load_renamed(name, Path(path), package, pristine)


def load_renamed(name: str, path: Path, package: str, pristine: str) -> None:
    parent = name.rpartition(".")[0]
    if parent:
        importlib.import_module(parent)
    module = types.ModuleType(name)
    module.__file__ = str(path)  # its own folder, for the files it reads beside it
    module.__package__ = parent
    sys.modules[name] = module
    source = renamed(path.read_text(encoding="utf-8"), package, pristine)
    exec(compile(source, str(path), "exec"), module.__dict__)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # Before the first conftest (tests/conftest.py imports IOTPay's simulator), after pytest's own
    # plugins and import hooks are in place.
    wanted = os.environ.get("MUTATION_PROVIDER_SIDE")
    if wanted:
        spec = json.loads(wanted)
        install(spec["package"], spec["pristine"], spec.get("harnesses", {}))
