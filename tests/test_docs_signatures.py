"""Every call docs/plugins/ shows matches the code's signature: the names, in their order.

A plugin author reads `settings.count(name, default, maximum)` or `BackgroundSender.send(key,
message)` and calls it positionally; a page that lists the arguments in another order, or names
one the code does not take, sends them to `inspect.signature`. Each backticked call on the pages
(`owner.member(args)` or `member(args)`) whose owner the contract, the sandbox parts or the kit
defines is checked: positional arguments as the code's first parameters, in order; `name=value`
arguments as parameters it takes. And a member the code makes a property is called one.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import gateway.plugin
import gateway.sandbox
from gateway.plugin.settings import Settings
from gateway.sandbox.sender import BackgroundSender
from gateway.testing import harness, live

PAGES = sorted((Path(__file__).resolve().parent.parent / "docs" / "plugins").glob("*.md"))
CLASSES: list[type] = [
    gateway.plugin.Provider,
    harness.ProviderHarness,
    Settings,
    BackgroundSender,
    live.LiveGateway,
    live.LiveServer,
]
PUBLIC: dict[str, Any] = {
    **{name: getattr(gateway.sandbox, name) for name in getattr(gateway.sandbox, "__all__", ())},
    **{name: getattr(gateway.plugin, name) for name in gateway.plugin.__all__},
    **{cls.__name__: cls for cls in CLASSES},
}
OWNERS = {**PUBLIC, "settings": Settings}  # `settings.count(...)`: the hook's argument, as the pages call it
CALL = re.compile(r"`(?:(\w+)\.)?(\w+)\(([^`()]*)\)`")


def resolve(owner: str | None, name: str) -> Callable[..., Any] | None:
    if owner is not None:
        found = OWNERS.get(owner)
        return getattr(found, name, None) if found is not None else None
    if name in PUBLIC:
        return PUBLIC[name]  # type: ignore[no-any-return]
    return next((getattr(cls, name) for cls in CLASSES if hasattr(cls, name)), None)


def documented_calls() -> Iterator[tuple[str, str, Callable[..., Any], list[str]]]:
    for page in PAGES:
        for match in CALL.finditer(page.read_text(encoding="utf-8")):
            owner, name, text = match.groups()
            target = resolve(owner, name)
            arguments = [argument.strip() for argument in text.split(",") if argument.strip()]
            if target is None or not callable(target):
                continue
            if any(not re.fullmatch(r"\w+(=.+)?", argument) for argument in arguments):
                continue  # literal values (`"create_order"`) or an ellipsis: an example, not a signature
            yield page.name, match.group(0), target, arguments


CALLS = sorted({(page, call): (target, arguments) for page, call, target, arguments in documented_calls()}.items())


def test_the_pages_show_calls_to_check() -> None:
    assert len(CALLS) >= 60, f"only {len(CALLS)} documented calls found: has the pages' notation changed?"


@pytest.mark.parametrize(("where", "found"), CALLS, ids=[f"{page}:{call}" for (page, call), _ in CALLS])
def test_a_documented_call_matches_the_code(where: tuple[str, str], found: tuple[Any, list[str]]) -> None:
    target, arguments = found
    parameters = [
        parameter
        for parameter in inspect.signature(target).parameters.values()
        if parameter.name != "self" and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]
    positional = [argument for argument in arguments if "=" not in argument]
    keywords = [argument.split("=", 1)[0] for argument in arguments if "=" in argument]
    names = [parameter.name for parameter in parameters]
    assert names[: len(positional)] == positional, f"{where[0]} shows {where[1]}; the code takes ({', '.join(names)})"
    assert set(keywords) <= set(names), f"{where[0]} shows {where[1]}; the code takes ({', '.join(names)})"


PROVIDER_PROPERTIES = sorted(
    name for name, member in vars(gateway.plugin.Provider).items() if isinstance(member, property)
)


@pytest.mark.parametrize("member", PROVIDER_PROPERTIES)
def test_a_provider_property_is_documented_as_one(member: str) -> None:
    contract = next(page for page in PAGES if page.name == "contract.md").read_text(encoding="utf-8")
    row = next(line for line in contract.splitlines() if line.startswith(f"| `{member}"))
    assert "read-only property" in row, f"contract.md: Provider.{member} is a read-only property; its row must say so"
