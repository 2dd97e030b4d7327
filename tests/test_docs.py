"""Meta-tests in datasette's manner: a hook, a provider method or a harness method that the README's
"Writing a provider plugin" section does not document, or a hook no test mentions, fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pluggy
import pytest

from gateway import PROJECT_NAME, hookspecs
from gateway.provider import Provider
from gateway.testing import ProviderHarness

ROOT = Path(__file__).resolve().parent.parent
SECTION = "Writing a provider plugin"


def hook_names() -> list[str]:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return sorted(name for name in vars(pm.hook) if not name.startswith("_"))


def plugin_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"^## {SECTION}\n(.*?)(?=^## |\Z)", readme, flags=re.MULTILINE | re.DOTALL)
    assert found is not None, f"README.md has no '## {SECTION}' section"
    return found.group(1)


def code_in(markdown: str) -> str:
    """Everything in code spans and fenced blocks: where an identifier counts as documented."""
    fenced = re.findall(r"^```.*?\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    return "\n".join(fenced + re.findall(r"`([^`\n]+)`", prose))


def files_of_tests() -> dict[Path, str]:
    paths = [path for path in (ROOT / "tests").rglob("test_*.py") if path != Path(__file__).resolve()]
    return {path: path.read_text(encoding="utf-8") for path in paths}


def public_provider_members() -> list[str]:
    members = set(vars(Provider)) | set(Provider.__annotations__)
    return sorted(name for name in members if not name.startswith("_"))


def test_the_hook_specs_are_found() -> None:
    assert "gateway_register_providers" in hook_names()  # guards the parametrizations below against []


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_section_in_the_readme(hook: str) -> None:
    headings = re.findall(r"^### (\S+)\s*$", plugin_section(), flags=re.MULTILINE)
    assert hook in headings, f"README.md '## {SECTION}' has no '### {hook}' subsection"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_mentioned_by_a_test(hook: str) -> None:
    mention = rf"\b{hook}\b|def test_\w*{hook}[_(]"  # by name, or in a test's name (datasette: test_hook_*)
    mentioned_by = [path.name for path, text in files_of_tests().items() if re.search(mention, text)]
    assert mentioned_by, f"no test under tests/ mentions {hook}"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_spec_has_a_docstring(hook: str) -> None:
    assert (getattr(hookspecs, hook).__doc__ or "").strip(), f"gateway/hookspecs.py: {hook} has no docstring"


def test_every_hook_heading_in_the_readme_is_a_hook() -> None:
    headings = re.findall(r"^### (gateway_\w+)\s*$", plugin_section(), flags=re.MULTILINE)
    assert sorted(set(headings) - set(hook_names())) == [], "README documents hooks that do not exist"


@pytest.mark.parametrize("member", public_provider_members())
def test_every_public_provider_member_is_documented(member: str) -> None:
    assert re.search(rf"\b{member}\b", code_in(plugin_section())), f"README never mentions `{member}` in code"


@pytest.mark.parametrize("method", sorted(ProviderHarness.__abstractmethods__))
def test_every_abstract_harness_method_is_documented(method: str) -> None:
    assert re.search(rf"\b{method}\b", code_in(plugin_section())), f"README never mentions `{method}` in code"
