"""`make mutate`: how many bugs the conformance kit notices in each plugin, measured by mutation testing.

mutmut's mutation engine changes one thing at a time (an operator, a constant, a keyword, a
call's argument) in a plugin's provider, client, signing and schema modules; the plugin's kit run
(and nothing else: not its unit tests) then runs against the mutant. A failing run *kills* the
mutant; a passing one lets it *survive*: a bug the kit would let through. Mutants on lines the kit
never executes survive without a run (coverage of one clean kit run says which).

Mutants are changed in a copy of the plugin's package, first on PYTHONPATH, never in the tree.
A surviving mutant is either killed by a new kit check or listed in `mutants-equivalent.txt`
beside the plugin, one line each: `<module>.py | <mutant index> | why | <the line's source>`.
The score is killed / (all - equivalent), per plugin.

    python -m mutation.run                         # every plugin, every mutant (hours; see README.md)
    python -m mutation.run --plugin example --sample 20 --budget 300   # what CI runs
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from coverage.parser import PythonParser
from mutmut import Context, RelativeMutationID, list_mutations, mutate

from mutation.provider_side import renamed

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("provider", "client", "signing", "schemas")
EQUIVALENT_FILE = "mutants-equivalent.txt"
TESTS_FAILED, TIMED_OUT = 1, -1  # pytest's exit code when tests failed; ours when the run took too long

EXAMPLE_KIT = """
import pytest
from gateway_example_provider.harness import ExampleHarness
from gateway.testing import ProviderConformance


class MutantHarness(ExampleHarness):
    plugin_name = "gateway_example_provider.plugin"   # loaded by module path: the copy is not installed

    def settings(self, public_url):
        return {**super().settings(public_url), "GATEWAY_PLUGINS": self.plugin_name}


class TestExampleKit(ProviderConformance):
    @pytest.fixture
    def harness(self, tmp_path):
        return MutantHarness(tmp_path)
"""


@dataclass(frozen=True)
class Plugin:
    name: str
    project: Path  # the folder that holds the package
    package: str
    kit: tuple[str, ...]  # pytest arguments: the plugin's kit run, nothing else
    harnesses: tuple[str, ...] = ()  # harness modules outside the package, which play the provider

    @property
    def equivalent_file(self) -> Path:
        return self.project / EQUIVALENT_FILE


PLUGINS = {
    "example": Plugin(
        "example", ROOT / "examples" / "gateway-example-provider", "gateway_example_provider", ("{kit_dir}",)
    ),
    "iotpay": Plugin(
        "iotpay",
        ROOT / "plugins" / "iotpay",
        "gateway_iotpay",
        ("tests/iotpay/test_conformance.py",),
        harnesses=("tests.iotpay.harness",),
    ),
    "stripe": Plugin(
        "stripe",
        ROOT / "plugins" / "stripe",
        "gateway_stripe",
        ("tests/stripe/test_stripe_conformance.py",),
        harnesses=("tests.stripe.harness",),
    ),
}


@dataclass(frozen=True)
class Mutant:
    module: str  # e.g. "provider.py"
    line: str  # the line's source, stripped (mutmut's identity for a mutant, stable across line moves)
    index: int
    line_number: int  # 1-based
    source_line: str = field(compare=False, repr=False, default="")  # unstripped, as mutmut compares it
    occurrence: int = 1  # of the module's lines with this same text, which one (`schemas.py@2` in a listing)

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.module, self.line, self.index, self.occurrence)


@dataclass
class Result:
    plugin: str
    total: int = 0
    equivalent: int = 0
    run: int = 0
    selected: int = 0  # mutants judged first by only the tests that reach their line
    killed: int = 0
    survived: list[dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0
    sampled: bool = False

    @property
    def score(self) -> float:
        judged = self.killed + len(self.survived)
        return 100.0 * self.killed / judged if judged else 100.0


def mutants_of(path: Path) -> Iterator[Mutant]:
    source = path.read_text(encoding="utf-8")
    lines = [line.strip() for line in source.splitlines()]
    for mutation_id in list_mutations(Context(source=source, filename=str(path))):
        line_number = mutation_id.line_number + 1
        stripped = mutation_id.line.strip()
        occurrence = lines[:line_number].count(stripped)
        yield Mutant(path.name, stripped, mutation_id.index, line_number, mutation_id.line, occurrence)


def mutated_source(path: Path, mutant: Mutant) -> str:
    source = path.read_text(encoding="utf-8")
    mutation_id = RelativeMutationID(line=mutant.source_line, index=mutant.index, line_number=mutant.line_number - 1)
    new, count = mutate(Context(source=source, mutation_id=mutation_id, filename=str(path)))
    assert count == 1, f"{mutant} did not apply"
    text: str = new
    return text


def equivalents(plugin: Plugin) -> dict[tuple[str, str, int, int], str]:
    """`mutants-equivalent.txt`: `module | index | why | line` (the line last: source may hold ` | `);
    `#` comments and blank lines skipped. A line whose text the module holds more than once names
    which one by `module@N` (the N-th from the top; plain `module` is the first)."""
    if not plugin.equivalent_file.exists():
        return {}
    listed: dict[tuple[str, str, int, int], str] = {}
    for raw in plugin.equivalent_file.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        module, index, why, line = (part.strip() for part in raw.split(" | ", 3))
        module, _, occurrence = module.partition("@")
        listed[(module, line, int(index), int(occurrence or 1))] = why
    return listed


class Workspace:
    """A copy of the plugin's package on PYTHONPATH, where one mutant at a time is written."""

    def __init__(self, plugin: Plugin, directory: Path) -> None:
        self.plugin = plugin
        self.site = directory / "site"
        shutil.copytree(plugin.project / plugin.package, self.site / plugin.package)
        # The provider's side (simulator, harness) runs an unmutated copy: mutation/provider_side.py.
        pristine = f"{plugin.package}_pristine"
        shutil.copytree(plugin.project / plugin.package, self.site / pristine)
        for path in (self.site / pristine).rglob("*.py"):
            path.write_text(renamed(path.read_text(encoding="utf-8"), plugin.package, pristine), encoding="utf-8")
        harnesses = {name: str(ROOT / (name.replace(".", "/") + ".py")) for name in plugin.harnesses}
        self.provider_side = json.dumps({"package": plugin.package, "pristine": pristine, "harnesses": harnesses})
        self.kit_dir = directory / "kit"
        self.kit_dir.mkdir()
        (self.kit_dir / "test_example_kit.py").write_text(EXAMPLE_KIT, encoding="utf-8")
        self.coverage_data = directory / ".coverage"

    def module(self, name: str) -> Path:
        return self.site / self.plugin.package / name

    def command(self, *, coverage: bool, tests: Sequence[str] = ()) -> list[str]:
        kit = list(tests) or [arg.format(kit_dir=self.kit_dir) for arg in self.plugin.kit]
        runner = [
            "-m",
            "coverage",
            "run",
            f"--data-file={self.coverage_data}",
            "--source",
            str(self.site / self.plugin.package),
        ]
        per_test = ["-p", "mutation.per_test"] if coverage else []
        plugins = ["-p", "no:cacheprovider", "-p", "no:randomly", "-p", "mutation.provider_side", *per_test]
        pytest = ["-m", "pytest", "-x", "-q", *plugins, *kit]
        return [sys.executable, *(runner if coverage else []), *pytest]

    def run(
        self, *, coverage: bool = False, tests: Sequence[str] = (), timeout: float | None = None
    ) -> tuple[int, float]:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(self.site), str(ROOT)]),
            "MUTATION_PROVIDER_SIDE": self.provider_side,
        }
        env.pop("PYTEST_ADDOPTS", None)
        started = time.monotonic()
        try:
            completed = subprocess.run(
                self.command(coverage=coverage, tests=tests),
                cwd=ROOT,
                env=env,
                timeout=timeout,
                capture_output=True,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return TIMED_OUT, time.monotonic() - started
        return completed.returncode, time.monotonic() - started

    def missed_lines(self) -> dict[str, set[int]]:
        """Per module, the statements the clean kit run never started. A statement's continuation
        lines are in no such set: a mutant there is run like any other."""
        import coverage

        measured = coverage.Coverage(data_file=str(self.coverage_data))
        measured.load()
        missed: dict[str, set[int]] = {}
        for module in MODULES:
            path = self.module(f"{module}.py")
            if path.exists():
                missed[path.name] = set(measured.analysis2(str(path))[3])
        return missed

    def reach(self) -> dict[str, LineReach]:
        """Per module, which of the clean run's tests started each statement (mutation/per_test.py)."""
        import coverage

        measured = coverage.Coverage(data_file=str(self.coverage_data))
        measured.load()
        data = measured.get_data()
        found: dict[str, LineReach] = {}
        for module in MODULES:
            path = self.module(f"{module}.py")
            if path.exists():
                contexts = {line: frozenset(names) for line, names in data.contexts_by_lineno(str(path)).items()}
                found[path.name] = LineReach(PythonParser(filename=str(path)), contexts)
        return found


@dataclass
class LineReach:
    parser: PythonParser
    contexts: dict[int, frozenset[str]]
    in_functions: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        self.parser.parse_source()
        self.in_functions = frozenset(function_body_lines(self.parser.text))

    def tests_of(self, line_number: int) -> tuple[str, ...]:
        """The tests that ran the statement holding this line; empty when the whole kit must judge
        it. A statement outside any function body (a module constant, a schema's field, a default
        argument, a decorator) runs once, at import, under whichever test imported the module
        first, and its effect lasts for every test after it."""
        first = self.parser.first_line(line_number)
        names = self.contexts.get(first, frozenset())
        if first not in self.in_functions or not names or "" in names:
            return ()
        return tuple(sorted(names))


def function_body_lines(source: str) -> Iterator[int]:
    for node in ast.walk(ast.parse(source)):
        # Not lambdas: a lambda's line is also the line of whatever holds it, often run at import.
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from range(node.body[0].lineno, max(line.end_lineno or line.lineno for line in node.body) + 1)


def measure(
    plugin: Plugin,
    *,
    sample: int | None,
    seed: int,
    budget: float | None,
    only: Sequence[str] = (),
    lines: Sequence[tuple[str, int]] = (),
    select: bool = True,
    shard: tuple[int, int] = (1, 1),
) -> Result:
    result = Result(plugin.name, sampled=sample is not None)
    listed = equivalents(plugin)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutate-{plugin.name}-") as directory:
        workspace = Workspace(plugin, Path(directory))
        code, baseline = workspace.run(coverage=True)
        if code != 0:
            raise SystemExit(f"{plugin.name}: the kit fails the unmutated plugin (exit {code}); fix that first")
        missed = workspace.missed_lines()
        reach = workspace.reach()
        if select:
            ran = (name for each in reach.values() for names in each.contexts.values() for name in sorted(names))
            some_test = next((name for name in ran if name), None)
            if some_test is not None and workspace.run(tests=[some_test])[0] != 0:
                raise SystemExit(f"{plugin.name}: {some_test} alone fails the unmutated plugin; try --whole-kit")
        mutants = [
            mutant
            for module in MODULES
            if workspace.module(f"{module}.py").exists() and (not only or module in only)
            for mutant in mutants_of(workspace.module(f"{module}.py"))
        ]
        result.total = len(mutants)
        judged = [mutant for mutant in mutants if mutant.key not in listed]
        result.equivalent = len(mutants) - len(judged)
        if lines:
            # Re-judging known survivors after a kit change, without drawing a sample again.
            judged = [mutant for mutant in judged if (mutant.module, mutant.line_number) in lines]
        if sample is not None and sample < len(judged):
            judged = sorted(random.Random(seed).sample(judged, sample), key=lambda m: (m.module, m.line_number))
        part, parts = shard
        judged = judged[part - 1 :: parts]
        timeout = baseline * 3 + 30
        for number, mutant in enumerate(judged, 1):
            if budget is not None and time.monotonic() - started > budget:
                print(f"{plugin.name}: budget of {budget:.0f}s spent after {number - 1} mutants", flush=True)
                break
            path = workspace.module(mutant.module)
            original = path.read_text(encoding="utf-8")
            mutant_source = mutated_source(path, mutant)
            if mutant.line_number in missed.get(mutant.module, set()):
                outcome, code = "survived (never run by the kit)", 0
            else:
                tests = reach[mutant.module].tests_of(mutant.line_number) if select else ()
                path.write_text(mutant_source, encoding="utf-8")
                try:
                    code, _ = workspace.run(tests=tests, timeout=timeout)
                    result.run += 1
                    if tests and code not in (TESTS_FAILED, TIMED_OUT):
                        # The tests that reach the line let it pass, or gave no verdict (pytest's usage error,
                        # say): the whole kit has the last word, for a test whose line ran in a thread after
                        # its own test had ended. Its clean run passed, so any failure of it is the mutant's.
                        code, _ = workspace.run(timeout=timeout)
                        result.run += 1
                finally:
                    path.write_text(original, encoding="utf-8")
                outcome = ("killed" if code != 0 else "survived") + (f" ({len(tests)} tests reach it)" if tests else "")
                result.selected += 1 if tests else 0
            if code != 0:
                result.killed += 1
            else:
                result.survived.append(
                    {
                        "module": mutant.module,
                        "line_number": mutant.line_number,
                        "line": mutant.line,
                        "index": mutant.index,
                        "mutant": changed_line(original, mutant_source),
                        "why": outcome,
                    }
                )
            print(f"{plugin.name} {number}/{len(judged)} {mutant.module}:{mutant.line_number} {outcome}", flush=True)
    result.seconds = time.monotonic() - started
    return result


def changed_line(before: str, after: str) -> str:
    for old, new in zip(before.splitlines(), after.splitlines(), strict=False):
        if old != new:
            return new.strip()
    return ""


def _shard(spec: str) -> tuple[int, int]:
    part, _, parts = spec.partition("/")
    if not (part.isdigit() and parts.isdigit() and 1 <= int(part) <= int(parts)):
        raise SystemExit(f"--shard wants K/N with 1 <= K <= N, got {spec!r}")
    return int(part), int(parts)


def _module_line(spec: str) -> tuple[str, int]:
    module, _, number = spec.partition(":")
    if not module.endswith(".py") or not number.isdigit():
        raise SystemExit(f"--line wants MODULE.py:LINE, got {spec!r}")
    return module, int(number)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugin", action="append", choices=sorted(PLUGINS), help="default: all three")
    parser.add_argument("--module", action="append", choices=MODULES, help="default: all four")
    parser.add_argument("--sample", type=int, help="judge this many mutants per plugin, drawn at random")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--budget", type=float, help="seconds per plugin; stop judging after that")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--line",
        action="append",
        default=[],
        metavar="MODULE.py:N",
        help="judge only the mutants on these lines (e.g. provider.py:120); repeatable",
    )
    parser.add_argument(
        "--shard",
        default="1/1",
        metavar="K/N",
        help="judge every N-th mutant from the K-th: N runs side by side share one plugin's mutants",
    )
    parser.add_argument(
        "--whole-kit",
        action="store_true",
        help="judge every mutant by the whole kit, not first by the tests that reach its line",
    )
    parser.add_argument("--min-score", type=float, default=0.0, help="exit 1 when a plugin scores less")
    args = parser.parse_args(argv)
    results = [
        measure(
            PLUGINS[name],
            sample=args.sample,
            seed=args.seed,
            budget=args.budget,
            only=args.module or (),
            lines=[_module_line(spec) for spec in args.line],
            select=not args.whole_kit,
            shard=_shard(args.shard),
        )
        for name in args.plugin or sorted(PLUGINS)
    ]
    print()
    for result in results:
        judged = result.killed + len(result.survived)
        print(
            f"{result.plugin}: {result.killed}/{judged} killed ({result.score:.1f}%), "
            f"{result.equivalent} listed equivalent, {result.total} mutants in all"
            f"{' (sample)' if result.sampled or judged < result.total - result.equivalent else ''}, "
            f"{result.run} kit runs ({result.selected} mutants first by the tests reaching them), "
            f"{result.seconds:.0f}s"
        )
        for survivor in result.survived:
            print(
                f"  survived {survivor['module']}:{survivor['line_number']} [{survivor['index']}] {survivor['mutant']}"
            )
    if args.json:
        args.json.write_text(json.dumps([vars(r) | {"score": r.score} for r in results], indent=2) + "\n")
    return 1 if any(result.score < args.min_score for result in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
