"""Every call docs/plugins/ shows matches the code's signature: the names, in their order.

A plugin author reads `settings.count(name, default, maximum)` or `BackgroundSender.send(key,
message)` and calls it positionally; a page that lists the arguments in another order, or names
one the code does not take, sends them to `inspect.signature`. Each backticked call on the pages
(`owner.member(args)` or `member(args)`) whose owner the contract, the sandbox parts or the kit
defines is checked: positional arguments as the code's first parameters, in order; `name=value`
arguments as parameters it takes. And a member the code makes a property is called one.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import marshmallow
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
# `settings.count(...)`, `clock.now()`: the hook's argument and `Provider.clock`, as the pages call them;
# `plugin.iso_currencies(...)`, `sandbox.Sandbox(...)`: the tail of `gateway.plugin.iso_currencies(...)`.
OWNERS = {
    **PUBLIC,
    "settings": Settings,
    "clock": gateway.plugin.Clock,
    "plugin": gateway.plugin,
    "sandbox": gateway.sandbox,
}
CALL = re.compile(r"`(?:[\w.]*?(\w+)\.)?(\w+)\(([^`()]*)\)`")  # `gateway.plugin.iso_currencies(...)`: owner `plugin`


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
            if any(not re.fullmatch(r"\*{0,2}\w*(=.+)?", argument) for argument in arguments):
                continue  # literal values (`"create_order"`) or an ellipsis: an example, not a signature
            # `*` (keyword-only arguments follow), `*codes`, `**kwargs`: the code's parameters list those in order too
            arguments = [argument for argument in arguments if not argument.startswith("*")]
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


def public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    """What a plugin author may call: the contract's, the sandbox parts' and the kit's functions and
    classes, and the public methods those classes define (dataclasses and enums are their fields and
    members, which tests/test_docs.py checks against their tables; marshmallow's own classes are
    marshmallow's)."""
    seen: set[int] = set()
    for name, found in sorted({**PUBLIC, "LiveGateway": live.LiveGateway, "LiveServer": live.LiveServer}.items()):
        if id(found) in seen or not callable(found) or not getattr(found, "__module__", "").startswith("gateway"):
            continue
        seen.add(id(found))
        if not isinstance(found, type):
            yield name, found
            continue
        if issubclass(found, (enum.Enum, Exception, marshmallow.Schema, marshmallow.fields.Field)):
            continue
        if not dataclasses.is_dataclass(found) and "__init__" in vars(found) and found is not live.LiveGateway:
            yield name, found  # (a dataclass's constructor is its fields; the fixtures build a LiveGateway)
        for member, method in sorted(vars(found).items()):
            if not member.startswith("_") and isinstance(method, (classmethod, staticmethod)):
                yield f"{name}.{member}", getattr(found, member)
            elif not member.startswith("_") and inspect.isfunction(method):
                yield f"{name}.{member}", method


def _parameters(target: Callable[..., Any]) -> list[inspect.Parameter]:
    return [
        parameter
        for parameter in inspect.signature(target).parameters.values()
        if parameter.name not in ("self", "cls")
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]


def _shows_every_parameter(target: Callable[..., Any], arguments: list[str]) -> bool:
    shown = [argument.split("=", 1)[0] for argument in arguments]
    return all(parameter.name in shown for parameter in _parameters(target))


def _same(one: Callable[..., Any], other: Callable[..., Any]) -> bool:
    """The same function, a classmethod's bound methods included (each `getattr` makes a new one)."""
    return inspect.unwrap(getattr(one, "__func__", one)) is inspect.unwrap(getattr(other, "__func__", other))


SIGNATURES = sorted(public_callables(), key=lambda pair: pair[0])


@pytest.mark.parametrize(("name", "target"), SIGNATURES, ids=[name for name, _ in SIGNATURES])
def test_every_public_callable_shows_its_whole_signature_somewhere(name: str, target: Callable[..., Any]) -> None:
    """A plugin author never needs `inspect.signature`: each public call is shown, every argument
    named, on a page of docs/plugins/ (and test_a_documented_call_matches_the_code keeps the order)."""
    shown = [arguments for _, (found, arguments) in CALLS if _same(found, target)]
    wanted = ", ".join(parameter.name for parameter in _parameters(target))
    assert any(_shows_every_parameter(target, arguments) for arguments in shown), (
        f"docs/plugins/ never shows `{name.rsplit('.', 1)[-1]}({wanted})` with every argument named"
        + (f" (shown: {[', '.join(a) for a in shown]})" if shown else "")
    )
