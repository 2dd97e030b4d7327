"""`make mutate`'s machinery (mutation/run.py): mutants made one at a time, and equivalent-mutant lists
that name mutants which exist (a stale line would hide a real survivor's place)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import coverage
import pytest
from coverage.parser import PythonParser

from mutation.provider_side import renamed
from mutation.run import MODULES, PLUGINS, ROOT, LineReach, changed_line, equivalents, mutants_of, mutated_source

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


SCHEMA_AND_FUNCTION = """LIMIT = 30


def fee(amount: int = LIMIT) -> int:
    if amount > LIMIT:
        return (
            amount * 3
            // 100
        )
    return 0
"""


def test_a_mutant_in_a_function_is_judged_by_the_tests_that_ran_its_statement(tmp_path: Path) -> None:
    module = tmp_path / "fees.py"
    module.write_text(SCHEMA_AND_FUNCTION)
    ran = {
        1: frozenset({"test_import"}),
        4: frozenset({"test_import"}),
        5: frozenset({"test_small", "test_large"}),
        6: frozenset({"test_large"}),
    }
    tests = LineReach(PythonParser(filename=str(module)), ran)
    assert tests.tests_of(5) == ("test_large", "test_small")
    assert tests.tests_of(6) == ("test_large",)
    assert tests.tests_of(8) == ("test_large",), "a continuation line belongs to its statement's first line"


def test_a_mutant_run_at_import_or_between_tests_is_judged_by_the_whole_kit(tmp_path: Path) -> None:
    module = tmp_path / "fees.py"
    module.write_text(SCHEMA_AND_FUNCTION)
    ran = {1: frozenset({"test_import"}), 4: frozenset({"test_import"}), 5: frozenset({"", "test_small"})}
    tests = LineReach(PythonParser(filename=str(module)), ran)
    assert tests.tests_of(1) == (), "a module constant lasts past the test that imported it"
    assert tests.tests_of(4) == (), "so does a default argument"
    assert tests.tests_of(5) == (), "a line also run between tests belongs to no one test"
    assert tests.tests_of(10) == (), "a line no test ran gets the whole kit, never no test"


def test_the_clean_run_records_each_line_under_the_tests_that_ran_it(tmp_path: Path) -> None:
    (tmp_path / "fees.py").write_text(SCHEMA_AND_FUNCTION)
    (tmp_path / "test_fees.py").write_text(
        "from fees import fee\n\n\ndef test_small():\n    assert fee(1) == 0\n\n\n"
        "def test_large():\n    assert fee(1000) == 30\n"
    )
    data_file = tmp_path / ".coverage"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    env.pop("PYTEST_ADDOPTS", None)
    command = [
        sys.executable,
        "-m",
        "coverage",
        "run",
        f"--data-file={data_file}",
        "--include",
        str(tmp_path / "fees.py"),
    ]
    pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "mutation.per_test"]
    subprocess.run([*command, *pytest_args, str(tmp_path)], cwd=tmp_path, env=env, check=True, capture_output=True)

    measured = coverage.Coverage(data_file=str(data_file))
    measured.load()
    ran = {
        line: frozenset(name.rpartition("::")[2] for name in names)
        for line, names in measured.get_data().contexts_by_lineno(str(tmp_path / "fees.py")).items()
    }
    reach = LineReach(PythonParser(filename=str(tmp_path / "fees.py")), ran)
    assert reach.tests_of(5) == ("test_large", "test_small")
    assert reach.tests_of(7) == ("test_large",)
    assert reach.tests_of(10) == ("test_small",)


def test_what_plays_the_provider_runs_the_unmutated_package(tmp_path: Path) -> None:
    # A mutant of the plugin's status codes must not be its simulator's too: the provider never changes.
    site = tmp_path / "site"
    for package, paid in (("acme", 3), ("acme_pristine", 2)):  # the mutant says 3, the original 2
        (site / package / "sandbox").mkdir(parents=True)
        (site / package / "__init__.py").write_text("")
        (site / package / "schemas.py").write_text(f"PAID = {paid}\n")
        (site / package / "sandbox" / "__init__.py").write_text("")
        (site / package / "sandbox" / "app.py").write_text(f"from {package}.schemas import PAID\n")
    (tmp_path / "outside_harness.py").write_text(
        "from acme.sandbox.app import PAID as SIMULATED\nfrom acme import schemas\n"
    )
    (tmp_path / "test_sides.py").write_text(
        "import acme.schemas, acme.sandbox.app, outside_harness\n\n\n"
        "def test_sides():\n"
        "    assert acme.schemas.PAID == 3\n"
        "    assert acme.sandbox.app.PAID == 2 and outside_harness.SIMULATED == 2\n"
        "    assert outside_harness.schemas.PAID == 2\n"
    )
    side = {
        "package": "acme",
        "pristine": "acme_pristine",
        "harnesses": {"outside_harness": str(tmp_path / "outside_harness.py")},
    }
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
        "MUTATION_PROVIDER_SIDE": json.dumps(side),
    }
    env.pop("PYTEST_ADDOPTS", None)
    pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "mutation.provider_side"]
    ran = subprocess.run(
        [sys.executable, *pytest_args, str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_only_the_package_itself_is_renamed_for_the_provider_side() -> None:
    source = "from gateway_iotpay import signing\nimport gateway_iotpay_extra\nx = 'my_gateway_iotpay'\n"
    assert renamed(source, "gateway_iotpay", "gateway_iotpay_pristine") == (
        "from gateway_iotpay_pristine import signing\nimport gateway_iotpay_extra\nx = 'my_gateway_iotpay'\n"
    )


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_a_listed_line_its_module_holds_twice_says_which_one(name: str) -> None:
    # mutmut names a mutant by its line's text: `unknown = EXCLUDE` in two schemas is two mutants, and a
    # listing of one must not silently cover the other, which nobody judged.
    plugin = PLUGINS[name]
    unnamed = []
    for raw in plugin.equivalent_file.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        module, _, _, line = (part.strip() for part in raw.split(" | ", 3))
        source = (plugin.project / plugin.package / module.partition("@")[0]).read_text(encoding="utf-8")
        if "@" not in module and [text.strip() for text in source.splitlines()].count(line) > 1:
            unnamed.append(f"{module} | {line}")
    assert not unnamed, f"{plugin.equivalent_file}: say which of the identical lines (module@N): {unnamed}"
