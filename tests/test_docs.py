"""Meta-tests in datasette's manner: the lists come from the code, so a hook, a `Provider` member, a
contract dataclass field, a setting, an error code or a webhook event that someone adds fails here
until it has a documented place under docs/. Also: every relative link in README.md and docs/
resolves, and no doc or comment points at a file this repository does not have."""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pluggy
import pytest

import gateway.plugin
from gateway import PROJECT_NAME
from gateway.domain import outbox
from gateway.plugin import hookspecs, provider, snapshots
from gateway.plugin.provider import Provider
from gateway.testing import harness

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HOOKS_PAGE = DOCS / "plugins" / "hooks.md"
CONTRACT_PAGE = DOCS / "plugins" / "contract.md"
TESTING_PAGE = DOCS / "plugins" / "testing.md"
SETTINGS_PAGE = DOCS / "operations.md"
ERRORS_PAGE = DOCS / "api.md"
WEBHOOKS_PAGE = DOCS / "webhooks.md"
README_MAX_LINES = 150


# -- reading markdown ----------------------------------------------------------------------------


@cache
def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def section(path: Path, heading: str) -> str:
    """The body under `heading` (any level) up to the next heading of the same or a higher level."""
    found = re.search(rf"^(#+) {re.escape(heading)}\s*$", text(path), flags=re.MULTILINE)
    assert found is not None, f"{path.relative_to(ROOT)} has no heading {heading!r}"
    level = len(found.group(1))
    rest = text(path)[found.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, flags=re.MULTILINE)
    return rest[: end.start()] if end else rest


def headings(path: Path) -> list[str]:
    return re.findall(r"^#+ (.+?)\s*$", text(path), flags=re.MULTILINE)


def table_keys(markdown: str) -> set[str]:
    """The first `code` span of each table row (`| 404 | \\`NAME\\` | ...`): what a table documents."""
    return set(re.findall(r"^\|[^`\n]*`([^`\n]+)`", markdown, flags=re.MULTILINE))


def code_in(markdown: str) -> str:
    """Everything in code spans and fenced blocks: where an identifier counts as documented."""
    fenced = re.findall(r"^```.*?\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    return "\n".join(fenced + re.findall(r"`([^`\n]+)`", prose))


def markdown_files() -> list[Path]:
    """Every markdown file of the repository (README.md, docs/, bench/, examples/ ...)."""
    paths = [path.relative_to(ROOT) for path in ROOT.rglob("*.md")]
    hidden = [path for path in paths if any(part.startswith(".") or part.endswith(".egg-info") for part in path.parts)]
    return sorted(ROOT / path for path in paths if path not in hidden)


# -- what the code declares ----------------------------------------------------------------------


def hook_names() -> list[str]:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return sorted(name for name in vars(pm.hook) if not name.startswith("_"))


def public_provider_members() -> list[str]:
    members = set(vars(Provider)) | set(Provider.__annotations__)
    return sorted(name for name in members if not name.startswith("_"))


def defined_in(module: object, kind: type | None = None) -> list[type]:
    classes = [value for value in vars(module).values() if inspect.isclass(value)]
    return [
        value for value in classes if value.__module__ == module.__name__ and (kind is None or issubclass(value, kind))
    ]  # type: ignore[attr-defined]


def contract_dataclasses() -> list[type]:
    return [cls for cls in defined_in(provider) if dataclasses.is_dataclass(cls)]


def contract_fields() -> list[tuple[str, str]]:
    return [(cls.__name__, field.name) for cls in contract_dataclasses() for field in dataclasses.fields(cls)]


def contract_enum_members() -> list[tuple[str, str]]:
    return [(cls.__name__, member.name) for cls in defined_in(provider, enum.Enum) for member in cls]  # type: ignore[attr-defined]


def contract_errors() -> list[str]:
    return sorted(cls.__name__ for cls in defined_in(provider, Exception))


def python_files(*folders: str) -> Iterator[Path]:
    for folder in folders:
        path = ROOT / folder
        yield from [path] if path.is_file() else sorted(path.rglob("*.py"))


def string_constants(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def plugin_prefixes(folder: str) -> set[str]:
    """Each provider distribution's settings prefix: its `gateway.providers` entry point's name."""
    names = set()
    for pyproject in (ROOT / folder).glob("*/pyproject.toml"):
        entry_points = re.search(
            r'\[project\.entry-points\."gateway\.providers"\]\n(.*?)(?=^\[|\Z)', text(pyproject), re.M | re.S
        )
        if entry_points:
            names |= set(re.findall(r"^(\w+)\s*=", entry_points.group(1), flags=re.MULTILINE))
    return {name.upper() for name in names}


def settings_read(prefixes: set[str], *folders: str) -> set[str]:
    """Setting names the code spells out: string constants such as "GATEWAY_PUBLIC_URL"."""
    pattern = re.compile(rf"(?:{'|'.join(sorted(prefixes))})_[A-Z0-9_]*[A-Z0-9]")
    return {value for path in python_files(*folders) for value in string_constants(path) if pattern.fullmatch(value)}


# Names the scan finds that are not settings, and the page that documents each.
NOT_SETTINGS = {"GATEWAY_CONTRACT_VERSION": DOCS / "plugins" / "writing-a-provider.md"}  # a plugin module's attribute


def core_and_builtin_settings() -> set[str]:
    prefixes = {"GATEWAY"} | plugin_prefixes("plugins")
    found = settings_read(prefixes, "gateway", "plugins", "wsgi.py", "gunicorn.conf.py", "tests/conftest.py")
    return (found | set(re.findall(r"\b(GATEWAY_[A-Z0-9_]+) \?=", text(ROOT / "Makefile")))) - set(NOT_SETTINGS)


@pytest.mark.parametrize("name", sorted(NOT_SETTINGS))
def test_names_that_look_like_settings_but_are_not_are_documented_where_they_belong(name: str) -> None:
    assert name in code_in(text(NOT_SETTINGS[name])), f"{NOT_SETTINGS[name].relative_to(ROOT)} lacks `{name}`"


ERROR_CODE = re.compile(r"[a-z]+(?:_[a-z]+)*")


def error_codes() -> set[str]:
    """The stable `error` codes of the JSON error shape, found in the core's source (tests excluded):

    - `SomeError(<HTTP status>, "code", ...)`: a status literal followed by a code literal;
    - `NotFound("code", ...)`: the first argument of a class defined in an `errors.py` module;
    - `{<status>: "code"}` tables, and `.get(status, "code")` fallbacks on them;
    - `code = "..."` class attributes (domain errors that carry their code);
    - f-strings such as `f"provider_{exc.reason}"`, expanded with every `reason = "..."` class attribute.
    """
    sources = [path for path in python_files("gateway") if "testing" not in path.parts]
    parsed = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sources}
    trees = list(parsed.values())
    error_classes = {
        node.name
        for path, tree in parsed.items()
        if path.name == "errors.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    attributes: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    if (
                        isinstance(statement, ast.Assign)
                        and len(statement.targets) == 1
                        and isinstance(statement.targets[0], ast.Name)
                        and isinstance(statement.value, ast.Constant)
                        and isinstance(statement.value.value, str)
                    ):
                        attributes.setdefault(statement.targets[0].id, set()).add(statement.value.value)

    def spelled(node: ast.expr) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.JoinedStr):
            spellings = {""}
            for part in node.values:
                if isinstance(part, ast.Constant):
                    spellings = {before + str(part.value) for before in spellings}
                elif isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Attribute):
                    spellings = {
                        before + value for before in spellings for value in attributes.get(part.value.attr, ())
                    }
                else:
                    return set()
            return spellings
        return set()

    def is_status(node: ast.expr) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, int) and 400 <= node.value <= 599

    codes: set[str] = set(attributes.get("code", ()))
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for status, code in zip(node.args, node.args[1:], strict=False):
                    if is_status(status):
                        codes |= spelled(code)
                called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if called in error_classes and node.args and not is_status(node.args[0]):
                    codes |= spelled(node.args[0])
                codes |= {
                    value for keyword in node.keywords if keyword.arg == "code" for value in spelled(keyword.value)
                }
                target = node.func
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "get"
                    and isinstance(target.value, ast.Name)
                    and "CODE" in target.value.id.upper()
                    and len(node.args) == 2
                ):
                    codes |= spelled(node.args[1])
            elif (
                isinstance(node, ast.Dict)
                and node.keys
                and all(key is not None and is_status(key) for key in node.keys)
            ):
                codes |= {value for item in node.values for value in spelled(item)}
    return {code for code in codes if ERROR_CODE.fullmatch(code)}


# -- hooks ---------------------------------------------------------------------------------------


def test_the_lists_below_are_found() -> None:
    """Guards every parametrization here against an empty list, which would pass silently."""
    assert "gateway_register_providers" in hook_names()
    assert "create_order" in public_provider_members()
    assert ("Notification", "paid") in contract_fields()
    assert ("Verdict", "MISMATCH") in contract_enum_members()
    assert "ProviderError" in contract_errors()
    assert {
        "GATEWAY_PUBLIC_URL",
        "IOTPAY_SECRET_KEY",
        "STRIPE_SECRET_KEY",
        "GATEWAY_WORKERS",
    } <= core_and_builtin_settings()
    assert {"validation_error", "order_not_found", "provider_timeout", "internal_error", "http_error"} <= error_codes()


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_section_in_the_hooks_page(hook: str) -> None:
    assert hook in headings(HOOKS_PAGE), f"docs/plugins/hooks.md has no '### {hook}' section"


def test_every_hook_heading_is_a_hook() -> None:
    documented = {heading for heading in headings(HOOKS_PAGE) if heading.startswith("gateway_")}
    assert sorted(documented - set(hook_names())) == [], "docs/plugins/hooks.md documents hooks that do not exist"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_mentioned_by_a_test(hook: str) -> None:
    mention = rf"\b{hook}\b|def test_\w*{hook}[_(]"  # by name, or in a test's name (datasette: test_hook_*)
    tests = [path for path in (ROOT / "tests").rglob("test_*.py") if path != Path(__file__).resolve()]
    assert any(re.search(mention, path.read_text(encoding="utf-8")) for path in tests), f"no test mentions {hook}"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_spec_has_a_docstring(hook: str) -> None:
    assert (getattr(hookspecs, hook).__doc__ or "").strip(), f"gateway/plugin/hookspecs.py: {hook} has no docstring"


@pytest.mark.parametrize("field", [field.name for field in dataclasses.fields(snapshots.OrderSnapshot)])
def test_every_field_of_what_lifecycle_hooks_receive_is_documented(field: str) -> None:
    assert field in table_keys(section(HOOKS_PAGE, "OrderSnapshot")), f"docs/plugins/hooks.md: OrderSnapshot.{field}"


# -- the provider contract -----------------------------------------------------------------------


@pytest.mark.parametrize("member", public_provider_members())
def test_every_public_provider_member_is_documented(member: str) -> None:
    rows = "\n".join(table_keys(section(CONTRACT_PAGE, "Provider")))
    assert re.search(rf"^{member}\b", rows, flags=re.MULTILINE), f"docs/plugins/contract.md: Provider.{member}"


def test_the_contract_page_lists_exactly_the_front_door() -> None:
    """One front door, and the docs name exactly what is behind it: no more, no less."""
    table = CONTRACT_PAGE.read_text(encoding="utf-8").split("| Names | What they are |", 1)[1].split("\n\n", 1)[0]
    listed = [name for row in table.splitlines()[2:] for name in re.findall(r"`([^`]+)`", row.split(" | ")[0])]
    assert sorted(listed) == sorted(gateway.plugin.__all__)
    assert len(listed) == len(set(listed))


def errors_named(prose: str) -> set[str]:
    """The contract's errors that `prose` names (a docstring, or a table row of the contract page)."""
    return {error for error in contract_errors() if re.search(rf"\b{error}\b", prose)}


def documented_row(member: str) -> str:
    rows = [row for row in section(CONTRACT_PAGE, "Provider").splitlines() if re.match(rf"\| `{member}\b", row)]
    assert len(rows) == 1, f"docs/plugins/contract.md: one row for Provider.{member}"
    return rows[0]


@pytest.mark.parametrize(
    "member", [name for name in public_provider_members() if inspect.isfunction(getattr(Provider, name, None))]
)
def test_what_each_provider_method_may_raise_is_what_the_docs_say(member: str) -> None:
    """The method's docstring (what the core handles) and the contract page name the same errors."""
    in_code = errors_named(inspect.getdoc(getattr(Provider, member)) or "")
    assert errors_named(documented_row(member)) == in_code, f"docs/plugins/contract.md: what Provider.{member} raises"


def test_the_errors_a_method_may_raise_are_found() -> None:
    assert errors_named(documented_row("query_refund")) >= {"RefundFailed", "NotFound"}
    assert errors_named(inspect.getdoc(Provider.create_order) or "") == {"Refused", "OutcomeUnknown", "NoAnswer"}


@pytest.mark.parametrize(("cls", "field"), contract_fields())
def test_every_contract_dataclass_field_is_documented(cls: str, field: str) -> None:
    assert field in table_keys(section(CONTRACT_PAGE, cls)), f"docs/plugins/contract.md '### {cls}' lacks `{field}`"


@pytest.mark.parametrize(("cls", "member"), contract_enum_members())
def test_every_contract_enum_member_is_documented(cls: str, member: str) -> None:
    assert member in table_keys(section(CONTRACT_PAGE, cls)), f"docs/plugins/contract.md '### {cls}' lacks `{member}`"


@pytest.mark.parametrize("error", contract_errors())
def test_every_contract_error_is_documented(error: str) -> None:
    rows = "\n".join(table_keys(section(CONTRACT_PAGE, "Errors")))
    assert re.search(rf"^{error}\b", rows, flags=re.MULTILINE), f"docs/plugins/contract.md 'Errors' lacks {error}"


@pytest.mark.parametrize(
    "member",
    sorted(
        name
        for name in set(vars(harness.ProviderHarness)) | set(harness.ProviderHarness.__annotations__)
        if not name.startswith("_")
    ),
)
def test_every_harness_member_is_documented(member: str) -> None:
    assert re.search(rf"\b{member}\b", code_in(TESTING_PAGE.read_text())), f"docs/plugins/testing.md lacks `{member}`"


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (cls.__name__, field.name)
        for cls in (
            harness.HttpRequest,
            harness.KnownAnswer,
            harness.InvalidOrderExample,
            harness.ValidOrderExample,
            harness.FieldLimit,
            harness.ProviderAnswer,
        )
        for field in dataclasses.fields(cls)
    ],
)
def test_every_harness_dataclass_field_is_documented(cls: str, field: str) -> None:
    assert field in table_keys(section(TESTING_PAGE, cls)), f"docs/plugins/testing.md '### {cls}' lacks `{field}`"


# -- settings, error codes, webhook events -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(core_and_builtin_settings()))
def test_every_setting_the_code_reads_is_in_the_operations_page(name: str) -> None:
    assert name in table_keys(text(SETTINGS_PAGE)), f"docs/operations.md has no table row for `{name}`"


def test_every_documented_setting_is_read_by_the_code() -> None:
    prefixes = ("GATEWAY_", *(f"{prefix}_" for prefix in plugin_prefixes("plugins")))
    documented = {key for key in table_keys(text(SETTINGS_PAGE)) if key.startswith(prefixes)}
    assert sorted(documented - core_and_builtin_settings()) == [], "docs/operations.md documents unread settings"


@pytest.mark.parametrize("name", sorted(settings_read(plugin_prefixes("examples"), "examples")))
def test_every_setting_of_the_example_plugin_is_documented(name: str) -> None:
    assert name in code_in(text(DOCS / "plugins" / "writing-a-provider.md")), f"docs/plugins: `{name}`"


@pytest.mark.parametrize("code", sorted(error_codes()))
def test_every_error_code_is_in_the_api_page(code: str) -> None:
    assert code in table_keys(section(ERRORS_PAGE, "Error codes")), f"docs/api.md 'Error codes' lacks `{code}`"


def test_every_documented_error_code_exists() -> None:
    documented = {key for key in table_keys(section(ERRORS_PAGE, "Error codes")) if ERROR_CODE.fullmatch(key)}
    assert sorted(documented - error_codes()) == [], "docs/api.md documents error codes the code never sends"


@pytest.mark.parametrize("event_type", outbox.EVENT_TYPES)
def test_every_webhook_event_type_is_documented(event_type: str) -> None:
    assert event_type in table_keys(section(WEBHOOKS_PAGE, "Events")), f"docs/webhooks.md lacks `{event_type}`"


# -- links, samples, size ------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def relative_links(path: Path) -> Iterator[str]:
    prose = re.sub(r"^```.*?^```", "", text(path), flags=re.MULTILINE | re.DOTALL)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if not re.match(r"[a-z]+:", target):
            yield target


@pytest.mark.parametrize(
    ("page", "target"),
    [(str(path.relative_to(ROOT)), target) for path in markdown_files() for target in relative_links(path)],
)
def test_every_relative_link_resolves(page: str, target: str) -> None:
    file_part, _, anchor = target.partition("#")
    destination = (ROOT / page).parent / file_part if file_part else ROOT / page
    assert destination.exists(), f"{page}: link to {target}, which does not exist"
    if anchor:
        assert destination.suffix == ".md", f"{page}: anchor on a non-markdown link {target}"
        assert anchor in {slug(heading) for heading in headings(destination)}, f"{page}: no heading for {target}"


def test_links_are_found() -> None:
    assert "docs/api.md" in list(relative_links(ROOT / "README.md"))


@pytest.mark.parametrize("path", [str(path.relative_to(ROOT)) for path in markdown_files()])
def test_docs_copy_no_code_but_link_to_files_that_run(path: str) -> None:
    """A fenced code block may show a command, its output, JSON, TOML or YAML; code lives in files tests run."""
    languages = set(re.findall(r"^```(\w*)", text(ROOT / path), flags=re.MULTILINE)) - {""}
    copied = languages - {"sh", "json", "toml", "text", "yaml"}
    assert not copied, f"{path} copies code ({copied}): link to a file a test runs"


def test_the_readme_stays_short() -> None:
    assert len(text(ROOT / "README.md").splitlines()) <= README_MAX_LINES


def test_nothing_points_at_a_spec_file_outside_the_repository() -> None:
    """The project states external facts in its own words (docs/providers/) and cites public sources."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    forbidden = re.compile(r"\bSPEC(?:\.md|\s+(?:section|§|\d))|\.\./shared|/work/shared")
    offenders = [
        name
        for name in tracked
        if name != "tests/test_docs.py"
        and (ROOT / name).is_file()
        and forbidden.search((ROOT / name).read_text(encoding="utf-8", errors="replace"))
    ]
    assert offenders == []


# -- the operations page types commands one way ----------------------------------------------------


def code_blocks(path: Path) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text(path), flags=re.S)


def test_the_operations_page_types_every_command_as_gateway_not_flask() -> None:
    lines = [line for block in code_blocks(SETTINGS_PAGE) for line in block.splitlines()]
    assert not [line for line in lines if "flask --app" in line or "bin/flask" in line]
    for command in ("gateway db upgrade", "gateway check", "gateway db current", "gateway prune", "gateway worker"):
        assert any(command in line for line in lines), command


def test_the_webhooks_quick_start_uses_a_secret_the_gateway_accepts(tmp_path: Path) -> None:
    from gateway import create_app

    secrets = re.findall(r"export GATEWAY_WEBHOOK_SECRET=(\S+)", text(WEBHOOKS_PAGE))
    assert secrets, "the quick start sets GATEWAY_WEBHOOK_SECRET"
    for secret in secrets:
        app = create_app(
            {
                "GATEWAY_INSTANCE_PATH": str(tmp_path),
                "GATEWAY_SANDBOX": "1",  # as under `make run`, where the quick start runs
                "GATEWAY_WEBHOOK_URL": "http://127.0.0.1:9000/webhooks",
                "GATEWAY_WEBHOOK_SECRET": secret,
            }
        )
        app.extensions["gateway"].db.dispose()
