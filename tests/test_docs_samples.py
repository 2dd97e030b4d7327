"""Samples of output in the docs stay what the commands print: the README's `make run` banner comes
from running the Makefile's own recipe (with a stand-in `gateway`, so nothing is served), and the
`gateway check` sample names the newest migration."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from gateway.store import migrate

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
OBSERVABILITY = ROOT / "docs" / "operations" / "observability.md"
ADMIN_KEY = re.compile(r"(admin key: )\S+$")

# `gateway db upgrade` prints its last line (Alembic's log goes to stderr); `gateway run` would serve.
STAND_IN = """#!/bin/sh
if [ "$1" = db ]; then echo "database schema at head"; fi
"""


def readme_banner() -> list[str]:
    """The README's `make run PORT=8123` block, without gunicorn's log line that ends it."""
    text = README.read_text(encoding="utf-8")
    start = text.index("`make run PORT=8123`")
    block = re.search(r"```\n(.*?)```", text[start:], flags=re.DOTALL)
    assert block is not None
    lines = block.group(1).splitlines()
    assert "gunicorn.error: Listening at: http://127.0.0.1:8123" in lines[-1]
    return lines[:-1]


def test_the_readme_shows_what_make_run_prints(tmp_path: Path) -> None:
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "gateway").write_text(STAND_IN)
    (bin_dir / "gateway").chmod(0o755)
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("GATEWAY_", "MAKE"))}
    result = subprocess.run(
        ["make", "--no-print-directory", "run", "PORT=8123", f"BIN={bin_dir}", "STAMP="],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert result.returncode == 0, result.stderr
    printed = [
        ADMIN_KEY.sub(r"\1<key>", line.replace(str(bin_dir), ".venv/bin")) for line in result.stdout.splitlines()
    ]
    shown = [ADMIN_KEY.sub(r"\1<key>", line) for line in readme_banner()]
    assert shown == printed


def test_the_gateway_check_sample_names_the_newest_schema() -> None:
    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    sample = re.search(r"database: sqlite, schema at (\w+)", OBSERVABILITY.read_text(encoding="utf-8"))
    assert sample is not None and sample.group(1) == head


def test_the_scaffold_sample_counts_every_test_of_the_kit() -> None:
    """new-provider.md shows what the scaffold's suite prints; the scaffold is Example Pay renamed, so
    its tests are the kit's, as many as pytest collects for the example (passed and skipped)."""
    page = (ROOT / "docs" / "plugins" / "new-provider.md").read_text(encoding="utf-8")
    sample = re.search(r"^(\d+) passed, (\d+) skipped in ", page, flags=re.MULTILINE)
    assert sample is not None, "docs/plugins/new-provider.md no longer shows the scaffold's pytest summary"
    example = ROOT / "examples" / "gateway-example-provider"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(example / "tests")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(example), os.environ.get("PYTHONPATH")]))},
    )
    collected = re.search(r"^(\d+) tests? collected", result.stdout, flags=re.MULTILINE)
    assert collected is not None, result.stdout[-2000:] + result.stderr[-2000:]
    shown = int(sample.group(1)) + int(sample.group(2))
    assert shown == int(collected.group(1)), (
        f"new-provider.md shows {shown} tests ({sample.group(0)}...), the kit has {collected.group(1)}: "
        "run the scaffold's suite and show what it prints"
    )
