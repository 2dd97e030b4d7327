"""`make mutate`'s machinery (mutation/run.py): mutants made one at a time, and equivalent-mutant lists
that name mutants which exist (a stale line would hide a real survivor's place)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mutation.run import MODULES, PLUGINS, changed_line, equivalents, mutants_of, mutated_source

SOURCE = """def fee(amount: int) -> int:
    return amount * 3 // 100
"""


def test_each_mutant_changes_one_thing_and_the_source_is_left_alone(tmp_path: Path) -> None:
    module = tmp_path / "fees.py"
    module.write_text(SOURCE)
    mutants = list(mutants_of(module))
    assert len(mutants) >= 3, mutants
    changed = {changed_line(SOURCE, mutated_source(module, mutant)) for mutant in mutants}
    assert len(changed) == len(mutants), "two mutants made the same change"
    assert "return amount / 3 // 100" in changed or "return amount * 3 / 100" in changed, changed
    assert module.read_text() == SOURCE


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_every_listed_equivalent_mutant_exists(name: str) -> None:
    plugin = PLUGINS[name]
    listed = equivalents(plugin)
    existing = {
        mutant.key
        for module in MODULES
        if (plugin.project / plugin.package / f"{module}.py").exists()
        for mutant in mutants_of(plugin.project / plugin.package / f"{module}.py")
    }
    stale = sorted(set(listed) - existing)
    assert not stale, f"{plugin.equivalent_file} names mutants that no longer exist: {stale}"
    assert all(why.strip() for why in listed.values()), "every equivalent mutant needs a reason"
