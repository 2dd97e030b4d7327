"""Usage errors of the CLI in one line (`Error: ...`), not click's usage block."""

from __future__ import annotations

from typing import Any

import click


class UsageProblem(click.ClickException):
    exit_code = 2  # click's own status for usage errors


class OneLineErrors(click.Command):
    """Usage errors (unknown option, bad value, missing argument) in one line, not click's usage block."""

    problem: type[click.ClickException] = UsageProblem  # the error raised, and so the exit status

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            command = f"{parent.command_path} {info_name}" if parent else info_name
            message = " ".join(exc.format_message().split())  # click lists choices on lines of their own
            raise self.problem(f"{message} (see '{command} --help')") from None
