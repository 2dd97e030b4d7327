"""A pytest plugin for the clean kit run under coverage: every line a test runs is recorded under
that test's node id, so `make mutate` can judge a mutant by the tests that reach its line only.

Coverage's context is global to the process, not per thread: a line the simulator's or the
gateway's threads run during a test is recorded under that test. Lines run at import or between
tests carry the empty context, and a mutant there is judged by the whole kit.
"""

from __future__ import annotations

from collections.abc import Iterator

import coverage
import pytest


def test_id(item: pytest.Item) -> str:
    """The test's node id with its file's absolute path: pytest takes it back from any folder (the
    example kit's file lies outside the project, so its own node id is relative to another rootdir)."""
    return f"{item.path}::{item.nodeid.partition('::')[2]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    measuring = coverage.Coverage.current()
    if measuring is not None:
        measuring.switch_context(test_id(item))
    yield
    if measuring is not None:
        measuring.switch_context("")
