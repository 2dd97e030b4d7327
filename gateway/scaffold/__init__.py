"""`gateway new-provider NAME`: a provider plugin of your own, installable, passing the kit as generated.

The skeleton is Example Pay (examples/gateway-example-provider in the gateway's repository)
with its names replaced: a JSON API signed with HMAC-SHA256, USD and JPY as decimal text,
queries, refunds (pending ones included), a simulator under sandbox/ and a harness for the
conformance kit. It works as it is, against its own simulator; an author then changes the
client, schemas and signing to speak their provider's API, the simulator to behave like it,
and keeps the kit passing.

The template (template/*.tmpl) is the example with its names turned into tokens
(`template_from`); tests/gateway/test_scaffold.py fails when the two drift apart, and
`make scaffold-template` writes the template again from the example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).with_name("template")
SUFFIX = ".tmpl"
EXAMPLE_PACKAGE = "gateway_example_provider"
PACKAGE_DIRECTORY = "package"  # the template's name for the plugin's package directory
# The files of the example that make up the skeleton; its README is the example's own story.
TEMPLATED = ("pyproject.toml", f"{EXAMPLE_PACKAGE}/**/*.py", "tests/**/*.py")
HANDWRITTEN = ("README.md",)  # in the template only: what the author does next
# Longest first: each name of the example, and the token that stands for it in the template.
TOKENS = (
    (EXAMPLE_PACKAGE, "{{package}}"),
    ("gateway-example-provider", "{{distribution}}"),
    ("Example Pay", "{{display_name}}"),
    ("EXAMPLE", "{{NAME}}"),
    ("Example", "{{Name}}"),
    ("example", "{{name}}"),
)
VALID_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


@dataclass(frozen=True)
class Names:
    """Every spelling of a new plugin's name that the template needs."""

    name: str  # the provider's and the entry point's name: acme_pay
    display_name: str  # what /v1/providers shows: Acme Pay

    @property
    def tokens(self) -> dict[str, str]:
        camel = "".join(part.capitalize() for part in self.name.split("_"))
        return {
            "{{package}}": f"gateway_{self.name}",
            "{{distribution}}": f"gateway-{self.name.replace('_', '-')}",
            "{{display_name}}": self.display_name,
            "{{NAME}}": self.name.upper(),
            "{{Name}}": camel,
            "{{name}}": self.name,
        }


def names(name: str, display_name: str | None = None) -> Names:
    """Checked names; ValueError says what is wrong with `name`."""
    if not VALID_NAME.fullmatch(name) or len(name) > 40:
        raise ValueError(
            f"{name!r} is not a provider name: use lower-case letters and digits, words joined by '_', "
            "starting with a letter (e.g. acmepay or acme_pay), at most 40 characters"
        )
    return Names(name, display_name or " ".join(part.capitalize() for part in name.split("_")))


def render(names: Names) -> dict[str, str]:
    """The skeleton's files: relative path -> text."""
    files: dict[str, str] = {}
    for template in sorted(TEMPLATE.rglob(f"*{SUFFIX}")):
        relative = template.relative_to(TEMPLATE).as_posix().removesuffix(SUFFIX)
        if relative.startswith(f"{PACKAGE_DIRECTORY}/"):
            relative = names.tokens["{{package}}"] + relative.removeprefix(PACKAGE_DIRECTORY)
        text = template.read_text(encoding="utf-8")
        for token, value in names.tokens.items():
            text = text.replace(token, value)
        files[relative] = text
    return files


def new_provider(name: str, into: Path, display_name: str | None = None) -> Path:
    """Write the skeleton of plugin `name` to `into`/gateway-<name>/ and return that directory.

    Refuses (FileExistsError) to write over anything: the directory must not exist yet.
    """
    checked = names(name, display_name)
    root = into / checked.tokens["{{distribution}}"]
    if root.exists():
        raise FileExistsError(f"{root} already exists: nothing was written")
    for relative, text in render(checked).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def template_from(example: Path) -> dict[str, str]:
    """The template's files (relative path -> text) made from the example project at `example`."""
    files: dict[str, str] = {}
    for pattern in TEMPLATED:
        for source in sorted(example.glob(pattern)):
            if "__pycache__" in source.parts:
                continue
            relative = source.relative_to(example).as_posix().replace(EXAMPLE_PACKAGE, PACKAGE_DIRECTORY, 1)
            text = source.read_text(encoding="utf-8")
            for original, token in TOKENS:
                text = text.replace(original, token)
            files[relative + SUFFIX] = text
    return files


def write_template(example: Path) -> None:
    """Make template/ the example's files as tokens again (`make scaffold-template`)."""
    for stale in TEMPLATE.rglob(f"*{SUFFIX}"):
        if stale.relative_to(TEMPLATE).as_posix().removesuffix(SUFFIX) not in HANDWRITTEN:
            stale.unlink()
    for relative, text in template_from(example).items():
        path = TEMPLATE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
