"""Samples of output in the docs stay what the commands print: the README's `make run` banner comes
from running the Makefile's own recipe (with a stand-in `gateway`, so nothing is served), and the
`gateway check` sample names the newest migration."""

from __future__ import annotations

import os
import re
import subprocess
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
