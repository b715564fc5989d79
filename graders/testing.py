"""Tests grader (``tests``): the candidate's own tests, found statically and run in the sandbox.

Static part (always): test files (``test_*.py``, ``*_test.py``) and test functions (``def test*``
at module level or in ``Test*`` classes), tests that assert nothing, and code that tampers with
pytest's reporting (outcome-changing hooks, patches of ``_pytest`` or ``pytest`` internals,
start-up files such as ``sitecustomize.py`` / ``*.pth``).

Run part (when the sandbox ran the tests stage): outcomes per test case from the JUnit XML and
the line coverage of the candidate's non-test modules from ``coverage json``. Both files were
written next to candidate code and are parsed as hostile input. The outcomes are cross-checked
against the other readings of the same run: pytest's exit code (as the host and the stage script
saw it), the JUnit counts the stage script parsed the moment pytest exited, pytest's terminal
summary line and the number of test functions found statically. Any contradiction raises
``tests.tampering`` and ``tests.pass`` then never passes.

With ``--no-run`` (no artifacts) the grader is not applicable: presence and assertions alone
cannot judge tests that never ran; the static findings and red flags are still reported.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import stat
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from graders.artifacts import read_json_capped, read_text_capped
from graders.base import (
    Artifacts,
    Check,
    Evidence,
    GraderContext,
    GraderResult,
    RedFlag,
    StageRecord,
    clip,
    plural,
)
from graders.source import CodeUnit, SubmissionSource, dotted_name, source_for
from graders.testing_static import StaticTest, SuiteReading, read_suite

MAX_JUNIT_BYTES = 5_000_000
MAX_TESTCASES = 20_000
MAX_EVIDENCE = 10
EXCERPT_SENTENCE_CHARS = 900
COVERAGE_BANDS = ((80.0, "high"), (50.0, "moderate"), (0.0, "low"))  # lower bound, band
MIN_COVERAGE = 50.0
EVIDENCE_MARKER = "TAKEHOME_TESTS_EVIDENCE"  # last stdout line of the tests stage script
MAX_EVIDENCE_LINE = 4_000
# Constructs that make one test function yield several JUnit test cases (or collect others).
MULTIPLIERS = re.compile(
    r"parametri[sz]e|\bparams\s*=|pytest_generate_tests|pytest_collect_file|"
    r"pytest_pycollect_makeitem"
)
_SUMMARY_PART = re.compile(r"(\d+) ([a-z]+)")
_SUMMARY_WORDS = {"error": "error", "errors": "error", "warning": "", "warnings": ""}

TAMPER_HOOKS = frozenset(
    {
        "pytest_runtest_makereport",
        "pytest_collection_modifyitems",
        "pytest_report_teststatus",
        "pytest_terminal_summary",
        "pytest_runtest_logreport",
        "pytest_runtest_protocol",
        "pytest_runtest_call",
        "pytest_pyfunc_call",
        "pytest_sessionfinish",
        "pytest_collectreport",
        "pytest_make_collect_report",
        "pytest_ignore_collect",
        "pytest_deselected",
        "pytest_report_collectionfinish",
        "pytest_assertion_pass",
    }
)
REPORTING_MODULES = frozenset({"runner", "reports", "terminal", "junitxml", "main"})
STARTUP_FILES = frozenset({"sitecustomize.py", "usercustomize.py"})
ASSERT_CALLS = frozenset({"raises", "warns", "deprecated_call", "fail"})
_SKIPPED_DIRS = frozenset({".git", "__pycache__", "node_modules", "site-packages"})
_TEST_NAME = re.compile(r"^(test_.*|.*_test)\.py$")
_WORKSPACE_PREFIXES = ("/workspace/", "/submission/", "./")


@functools.lru_cache(maxsize=8)
def _source_lines(code: str) -> tuple[str, ...]:
    return tuple(code.split("\n"))


def _excerpt(unit: CodeUnit, line: int) -> str:
    """The stripped source line ``line`` (1-based) of ``unit``, clipped."""
    lines = _source_lines(unit.code)
    return clip(lines[line - 1].strip(), 300) if 0 < line <= len(lines) else ""


def is_test_file(path: str) -> bool:
    """True for ``test_*.py`` and ``*_test.py`` files (pytest's default patterns)."""
    return bool(_TEST_NAME.match(PurePosixPath(path).name))


def is_candidate_module(path: str) -> bool:
    """True for ``.py`` files that are neither tests nor ``conftest.py``."""
    return not is_test_file(path) and PurePosixPath(path).name != "conftest.py"


# --------------------------------------------------------------------------- static tests


@dataclass(frozen=True)
class TestFunction:
    """A test function or method found statically."""

    __test__ = False  # not a pytest test class
    path: str
    line: int
    name: str  # "test_x" or "TestClass.test_x"
    asserts: bool
    excerpt: str


def _is_assertion_call(node: ast.Call, helpers: set[str]) -> bool:
    name = dotted_name(node.func) or ""
    last = name.rsplit(".", 1)[-1]
    if last.lower().startswith("assert") or last in ASSERT_CALLS:
        return True
    if ".testing." in f".{name}":  # np.testing.*, pd.testing.*, torch.testing.*
        return True
    return isinstance(node.func, ast.Name) and node.func.id in helpers


def asserts_something(node: ast.AST, helpers: set[str]) -> bool:
    """True when ``node`` contains an assert, a ``pytest.raises``-like block or assert call."""
    for child in ast.walk(node):
        if isinstance(child, ast.Assert):
            return True
        if isinstance(child, ast.Call) and _is_assertion_call(child, helpers):
            return True
    return False


def _helpers(tree: ast.Module) -> set[str]:
    """Module-level non-test functions that assert, directly or through each other."""
    functions = {
        n.name: n
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and not n.name.startswith("test")
    }
    callers: dict[str, set[str]] = {}
    for name, node in functions.items():
        for child in ast.walk(node):
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Name):
                callers.setdefault(child.func.id, set()).add(name)
    helpers = {name for name, node in functions.items() if asserts_something(node, set())}
    pending = sorted(helpers)
    while pending:  # a function calling a helper is a helper too
        for caller in sorted(callers.get(pending.pop(), set()) - helpers):
            helpers.add(caller)
            pending.append(caller)
    return helpers


def find_test_functions(unit: CodeUnit) -> list[TestFunction]:
    """Test functions of one test file, in source order."""
    if unit.tree is None or not is_test_file(unit.path):
        return []
    helpers = _helpers(unit.tree)
    found: list[TestFunction] = []

    def add(node: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str) -> None:
        found.append(
            TestFunction(
                unit.path,
                node.lineno,
                qualname,
                asserts_something(node, helpers),
                _excerpt(unit, node.lineno),
            )
        )

    for node in unit.tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(
            "test"
        ):
            add(node, node.name)
        elif isinstance(node, ast.ClassDef) and (
            node.name.startswith("Test")
            or any("TestCase" in (dotted_name(b) or "") for b in node.bases)
        ):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                    item.name.startswith("test")
                ):
                    add(item, f"{node.name}.{item.name}")
    return found


# --------------------------------------------------------------------------- tampering


def _pytest_roots(unit: CodeUnit) -> set[str]:
    """Local names bound to ``pytest`` / ``_pytest`` modules or objects imported from them."""
    roots: set[str] = set()
    for node in unit.nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in {"pytest", "_pytest"}:
                    roots.add(alias.asname or alias.name.split(".")[0])
        elif _imports_from_pytest_internals(node):
            roots.update(a.asname or a.name for a in node.names if a.name != "*")
    return roots


def _imports_from_pytest_internals(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.ImportFrom)
        and node.level == 0
        and (node.module or "").split(".")[0] == "_pytest"
    )


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def tampering_sites(unit: CodeUnit) -> list[tuple[int, str]]:
    """``(line, what)`` for every pytest-tampering construct in a ``.py`` file."""
    if unit.tree is None:
        return []
    sites: list[tuple[int, str]] = []
    roots = _pytest_roots(unit)
    for node in unit.nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in TAMPER_HOOKS:
            sites.append((node.lineno, f"defines the pytest hook {node.name}"))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _root_name(target) in roots:
                    sites.append((node.lineno, f"overwrites {dotted_name(target) or 'pytest'}"))
        elif isinstance(node, ast.Call):
            sites.extend(_patch_call(node, roots))
        elif _imports_from_pytest_internals(node) and any(
            a.name in REPORTING_MODULES for a in node.names
        ):
            sites.append((node.lineno, f"imports pytest internals from {node.module}"))
    return sorted(set(sites))


def _patch_call(node: ast.Call, roots: set[str]) -> list[tuple[int, str]]:
    name = dotted_name(node.func) or ""
    if name.rsplit(".", 1)[-1] != "setattr" or not node.args:
        return []
    target = node.args[0]
    if isinstance(target, ast.Constant) and isinstance(target.value, str):
        if target.value.split(".")[0] in {"_pytest", "pytest"}:
            return [(node.lineno, f"patches {clip(target.value, 80)}")]
        return []
    if _root_name(target) in roots:
        return [(node.lineno, f"patches {dotted_name(target) or 'pytest internals'}")]
    return []


def startup_files(root: Path, integrity: dict[str, Any]) -> list[str]:
    """``sitecustomize.py`` / ``usercustomize.py`` / ``*.pth`` files in the snapshot, sorted.

    Files inside ``site-packages`` and virtualenvs are ignored (a committed environment).
    Paths reported by the sandbox's integrity scan are added when they exist in the snapshot.
    """
    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        current = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SKIPPED_DIRS and not (current / d / "pyvenv.cfg").exists()
        )
        for name in sorted(filenames):
            if name in STARTUP_FILES or name.endswith(".pth"):
                found.add((current / name).relative_to(root).as_posix())
        if len(found) > 100:
            break
    for key in ("sitecustomize", "pth_files"):
        for item in integrity.get(key) or []:
            rel = _snapshot_rel(item, root) if isinstance(item, str) else None
            if rel is not None and "site-packages" not in rel:
                found.add(rel)
    return sorted(found)


def _snapshot_rel(path: str, root: Path) -> str | None:
    """A path reported from inside the sandbox, relative to the snapshot, if it exists there."""
    rel = path
    for prefix in _WORKSPACE_PREFIXES:
        rel = rel.removeprefix(prefix)
    rel = rel.lstrip("/")
    if not rel or ".." in PurePosixPath(rel).parts:
        return None
    try:
        info = os.lstat(root / rel)
    except (OSError, ValueError):
        return None
    return rel if stat.S_ISREG(info.st_mode) else None


# --------------------------------------------------------------------------- junit


@dataclass(frozen=True)
class CaseResult:
    """One ``<testcase>`` of the JUnit XML."""

    classname: str
    name: str
    outcome: str  # passed, failed, error, skipped
    message: str


def parse_junit(text: str) -> list[CaseResult] | None:
    """Outcome of every test case, or None when the XML is not readable JUnit.

    Documents with a DTD or entities are refused (pytest never writes them); counts come from
    the test cases themselves, not from the suites' summary attributes.
    """
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return None
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError, RecursionError):
        return None
    if root.tag not in {"testsuites", "testsuite"}:
        return None
    cases: list[CaseResult] = []
    for case in root.iter("testcase"):
        if len(cases) >= MAX_TESTCASES:
            break
        outcome, message = "passed", ""
        for child in case:
            if child.tag in {"failure", "error", "skipped"}:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                message = child.get("message") or (child.text or "").strip()
                if outcome != "skipped":
                    break
        cases.append(
            CaseResult(
                str(case.get("classname") or "")[:300],
                str(case.get("name") or "")[:300],
                outcome,
                clip(message, 300),
            )
        )
    return cases


def _case_location(
    case: CaseResult, root: Path, static: dict[tuple[str, str], TestFunction]
) -> tuple[str | None, int | None]:
    """Snapshot path and line of a test case, from its dotted classname.

    A collection error has an empty classname and the module as its name.
    """
    base = case.name.split("[", 1)[0]
    dotted = case.classname
    if not dotted:
        dotted, base = base, ""
    parts = [p for p in dotted.split(".") if p]
    for cut in range(len(parts), 0, -1):
        rel = "/".join(parts[:cut]) + ".py"
        if _snapshot_rel(rel, root) is None:
            continue
        qual = ".".join(parts[cut:] + ([base] if base else []))
        test = static.get((rel, qual)) if qual else None
        return rel, test.line if test else None
    return None, None


def run_check(
    cases: list[CaseResult],
    root: Path,
    static: dict[tuple[str, str], TestFunction],
    cross: CrossCheck | None = None,
) -> tuple[Check, dict[str, int]]:
    """``tests.pass``: every collected test passes (skips allowed), at least one ran.

    With a cross-check, the worst reading counts and contradictory readings never pass; a
    known exit code other than 0 fails too.
    """
    summary = _counts_of(cases)
    if cross is not None and cross.problems:
        summary = pessimistic(cross.readings)
    bad = [c for c in cases if c.outcome in {"failed", "error"}]
    evidence = [Evidence(metric=dict(summary))]
    for case in bad[:MAX_EVIDENCE]:
        path, line = _case_location(case, root, static)
        evidence.append(
            Evidence(
                path=path,
                line=line,
                excerpt=clip(f"{case.name}: {case.message}", 300),
                note=case.outcome if path else f"{case.outcome} ({case.classname})",
            )
        )
    ran = summary["passed"] + summary["failed"] + summary["error"]
    sentence = (
        f"In the sandbox {summary['passed']} tests passed, {summary['failed']} failed, "
        f"{summary['error']} errored and {summary['skipped']} were skipped."
    )
    if not cases:
        sentence = "pytest ran in the sandbox but collected no test cases."
    passed = ran > 0 and not bad and summary["failed"] + summary["error"] == 0
    if cross is not None and cross.problems:
        passed = False
        sentence = (
            "The readings of the test run contradict each other (see tests.tampering), so the "
            f"worst counts: at most {summary['passed']} tests passed, at least "
            f"{summary['failed']} failed and {summary['error']} errored."
        )
    elif passed and cross is not None and cross.exit_code not in (None, 0):
        passed = False
        sentence += (
            f" pytest exited with {cross.exit_code} "
            f"({_EXIT_MEANING.get(cross.exit_code, 'other')})."
        )
    return (
        Check(
            id="tests.pass", passed=passed, weight=RUN_WEIGHT, sentence=sentence, evidence=evidence
        ),
        summary,
    )


# --------------------------------------------------------------------------- cross-check

_EXIT_MEANING = {
    0: "all tests passed",
    1: "some tests failed",
    2: "interrupted",
    3: "internal error",
    4: "usage error",
    5: "no tests collected",
}


@dataclass(frozen=True)
class RunEvidence:
    """What the stage script recorded about the pytest run the moment pytest exited."""

    exit_code: int | None  # pytest's exit code as the stage script saw it
    timed_out: bool
    junit_counts: dict[str, int] | None  # parsed from the private JUnit XML at once
    summary_line: str | None  # pytest's terminal summary line
    summary_lines: tuple[str, ...]  # every summary-shaped line pytest's output held
    planted: tuple[str, ...]  # files candidate code wrote into the harness's output folder
    origin: str  # "stage output" (host-captured stdout) or "tests.json"


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _counts_or_none(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    keys = ("passed", "failed", "error", "skipped")
    counts = {k: _int_or_none(value.get(k)) for k in keys}
    if any(v is None or v < 0 for v in counts.values()):
        return None
    return {k: int(v or 0) for k, v in counts.items()}


def evidence_from(document: Any, origin: str) -> RunEvidence | None:
    """A :class:`RunEvidence` from the stage script's ``evidence`` mapping, None if malformed."""
    if not isinstance(document, dict):
        return None
    line = document.get("summary_line")
    planted = document.get("planted")
    lines = document.get("summary_lines")
    return RunEvidence(
        exit_code=_int_or_none(document.get("exit_code")),
        timed_out=document.get("timed_out") is True,
        junit_counts=_counts_or_none(document.get("junit_counts")),
        summary_line=clip(line, 300) if isinstance(line, str) else None,
        summary_lines=tuple(
            clip(x, 300)
            for x in (lines if isinstance(lines, list) else [])[:5]
            if isinstance(x, str)
        ),
        planted=tuple(
            clip(p, 120)
            for p in (planted if isinstance(planted, list) else [])[:20]
            if isinstance(p, str)
        ),
        origin=origin,
    )


def stdout_evidence(stage: StageRecord | None) -> RunEvidence | None:
    """The evidence line the stage script printed last on its own stdout (host-captured)."""
    if stage is None:
        return None
    for line in reversed(stage.stdout_tail.splitlines()):
        if line.startswith(EVIDENCE_MARKER + " ") and len(line) <= MAX_EVIDENCE_LINE:
            try:
                document = json.loads(line[len(EVIDENCE_MARKER) + 1 :])
            except (ValueError, RecursionError):
                return None
            return evidence_from(document, "stage output")
    return None


def file_evidence(artifacts: Artifacts) -> RunEvidence | None:
    """The ``evidence`` recorded in ``tests.json`` (next to junit.xml), None when absent."""
    candidates = [artifacts.root / "checks" / "takehome" / "tests.json"]
    if artifacts.junit_xml is not None:
        candidates.append(artifacts.junit_xml.parent / "tests.json")
    for path in candidates:
        if path.is_file() and not path.is_symlink():
            document = read_json_capped(path)
            if isinstance(document, dict):
                return evidence_from(document.get("evidence"), "tests.json")
    return None


def summary_counts(line: str | None) -> dict[str, int] | None:
    """``{passed, failed, error, skipped, xfailed, xpassed}`` from pytest's summary line."""
    if line is None:
        return None
    head = line.strip(" =").rsplit(" in ", 1)[0]
    counts = dict.fromkeys(("passed", "failed", "error", "skipped", "xfailed", "xpassed"), 0)
    for number, word in _SUMMARY_PART.findall(head):
        key = _SUMMARY_WORDS.get(word, word)
        if key in counts:
            counts[key] += int(number)
    return counts


def _describe(counts: dict[str, int]) -> str:
    return f"{counts['passed']} passed, {counts['failed']} failed, {counts['error']} errored"


def _exit_disagrees(code: int, counts: dict[str, int]) -> bool:
    """True when pytest's exit code cannot come from a run with these outcomes."""
    bad = counts["failed"] + counts["error"]
    ran = counts["passed"] + bad
    return (code == 0 and bad > 0) or (code == 1 and bad == 0) or (code == 5 and ran > 0)


def _multiplying_class(node: ast.AST) -> bool:
    """A class inheriting another ``Test*`` class, or holding a nested ``Test*`` class."""
    if not isinstance(node, ast.ClassDef):
        return False
    bases = [(dotted_name(b) or "").rsplit(".", 1)[-1] for b in node.bases]
    if any(b.startswith("Test") and b != "TestCase" for b in bases):
        return True
    return any(isinstance(n, ast.ClassDef) and n.name.startswith("Test") for n in node.body)


def uses_multipliers(source: SubmissionSource) -> bool:
    """True when tests may yield more JUnit cases than the ``def test`` functions found.

    Parametrisation, fixture params, collection hooks, a test class inheriting another
    ``Test*`` class (its tests run once per subclass) or a nested ``Test*`` class.
    """
    for unit in source.code_units:
        if unit.origin != "py":
            continue
        if not (is_test_file(unit.path) or PurePosixPath(unit.path).name == "conftest.py"):
            continue
        if MULTIPLIERS.search(unit.code):
            return True
        if unit.tree is not None and any(_multiplying_class(n) for n in unit.nodes):
            return True
    return False


@dataclass
class CrossCheck:
    """The readings of one pytest run and the contradictions between them."""

    readings: dict[str, dict[str, int]]  # name -> passed/failed/error/skipped
    exit_code: int | None
    problems: list[str]


def cross_check(
    cases: list[CaseResult],
    stage: StageRecord | None,
    evidence: list[RunEvidence],
    static_tests: int,
    multiplied: bool,
) -> CrossCheck:
    """Compare every reading of the run; each sentence in ``problems`` names what disagrees."""
    junit = _counts_of(cases)
    readings: dict[str, dict[str, int]] = {"the published junit.xml": junit}
    problems: list[str] = []
    host_code = stage.exit_code if stage and stage.verdict in {"ok", "exit_nonzero"} else None
    primary = evidence[0] if evidence else None
    if primary is not None and primary.junit_counts is not None:
        readings["the JUnit report read as pytest exited"] = primary.junit_counts
    summary = summary_counts(primary.summary_line) if primary else None
    if summary is not None:
        readings[f"pytest's summary line ({primary.summary_line!r})"] = {
            "passed": summary["passed"] + summary["xpassed"],
            "failed": summary["failed"],
            "error": summary["error"],
            "skipped": summary["skipped"] + summary["xfailed"],
        }
    problems += _evidence_problems(evidence, host_code)
    problems += _reading_problems(readings, junit, summary)
    code = primary.exit_code if primary and not primary.timed_out else None
    code = host_code if code is None else code
    if code is not None:
        for name, counts in readings.items():
            if _exit_disagrees(code, counts):
                problems.append(
                    f"pytest exited with {code} ({_EXIT_MEANING.get(code, 'other')}) but "
                    f"{name} says {_describe(counts)}"
                )
    collected = sum(1 for c in cases if c.classname or c.outcome != "error")
    if collected > static_tests and not multiplied:
        problems.append(
            f"the published junit.xml lists {collected} test cases but only "
            f"{plural(static_tests, 'test function')} exist and nothing is parametrised"
        )
    return CrossCheck(readings, code, problems)


def _counts_of(cases: list[CaseResult]) -> dict[str, int]:
    counts = Counter(case.outcome for case in cases)
    return {k: counts.get(k, 0) for k in ("passed", "failed", "error", "skipped")}


def _evidence_problems(evidence: list[RunEvidence], host_code: int | None) -> list[str]:
    """Planted files, the stage record against the host's exit code, and the two records."""
    problems: list[str] = []
    planted = sorted({p for e in evidence for p in e.planted})
    if planted:
        problems.append(
            "candidate code wrote the harness's own files while the tests ran ("
            + ", ".join(f"takehome/{p}" for p in planted[:5])
            + ")"
        )
    primary = evidence[0] if evidence else None
    if primary is not None and len(set(primary.summary_lines)) > 1:
        problems.append(
            f"pytest's output holds {len(primary.summary_lines)} different summary lines "
            f"({'; '.join(repr(x) for x in primary.summary_lines[:3])}) where pytest prints one"
        )
    if primary is not None and primary.exit_code is not None and host_code is not None:
        code = primary.exit_code
        expected = 124 if primary.timed_out else code if 0 <= code < 124 else 1
        if expected != host_code:
            problems.append(
                f"the tests stage exited with {host_code} but {primary.origin} says pytest "
                f"exited with {code}"
            )
    if len(evidence) == 2 and (evidence[0].exit_code, evidence[0].junit_counts) != (
        evidence[1].exit_code,
        evidence[1].junit_counts,
    ):
        problems.append("tests.json disagrees with what the tests stage printed (rewritten)")
    return problems


def _reading_problems(
    readings: dict[str, dict[str, int]],
    junit: dict[str, int],
    summary: dict[str, int] | None,
) -> list[str]:
    """The published JUnit counts against the at-exit JUnit counts and the summary line."""
    problems: list[str] = []
    published = "the published junit.xml"
    for name, counts in readings.items():
        if name == published:
            continue
        if name.startswith("pytest's summary") and summary is not None:
            # A passing test whose teardown errors is "1 passed, 1 error" in the summary and a
            # single errored case in JUnit: allow exactly that slack, nothing else.
            agree = (
                counts["failed"] == junit["failed"]
                and junit["error"] <= counts["error"]
                and counts["passed"] - counts["error"] <= junit["passed"] <= counts["passed"]
            )
        else:
            agree = counts == junit
        if not agree:
            problems.append(
                f"{name} says {_describe(counts)} but {published} says {_describe(junit)}"
            )
    return problems


def pessimistic(readings: dict[str, dict[str, int]]) -> dict[str, int]:
    """The worst reading: fewest passed, most failed, errored and skipped."""
    values = list(readings.values())
    return {
        "passed": min(r["passed"] for r in values),
        "failed": max(r["failed"] for r in values),
        "error": max(r["error"] for r in values),
        "skipped": max(r["skipped"] for r in values),
    }


def tampering_from_run(problems: list[str]) -> RedFlag | None:
    """``tests.tampering`` (high) naming which readings of the test run disagree."""
    if not problems:
        return None
    return RedFlag(
        id="tests.tampering",
        severity="high",
        sentence=clip(
            "The test results contradict each other, so something rewrote them: "
            + "; ".join(problems[:4])
            + ".",
            EXCERPT_SENTENCE_CHARS,
        ),
        evidence=[Evidence(note=clip(p, 300)) for p in problems[:MAX_EVIDENCE]],
    )


# --------------------------------------------------------------------------- coverage


def coverage_band(percent: float) -> str:
    """``high`` (>= 80 %), ``moderate`` (>= 50 %) or ``low``."""
    for bound, band in COVERAGE_BANDS:
        if percent >= bound:
            return band
    return "low"


def coverage_check(document: Any, root: Path) -> Check:
    """``tests.coverage``: line coverage of the candidate's non-test modules in the snapshot."""
    files = document.get("files") if isinstance(document, dict) else None
    rows: list[tuple[str, int, int]] = []  # path, covered, statements
    if isinstance(files, dict):
        for raw_path, entry in sorted(files.items())[:5_000]:
            summary = entry.get("summary") if isinstance(entry, dict) else None
            if not isinstance(raw_path, str) or not isinstance(summary, dict):
                continue
            rel = _snapshot_rel(raw_path, root)
            covered, statements = summary.get("covered_lines"), summary.get("num_statements")
            if rel is None or not rel.endswith(".py") or not is_candidate_module(rel):
                continue
            if isinstance(covered, int) and isinstance(statements, int) and statements > 0:
                rows.append((rel, max(0, min(covered, statements)), statements))
    if not rows:
        return Check(
            id="tests.coverage",
            passed=False,
            weight=RUN_WEIGHT,
            sentence="The coverage report names none of the candidate's modules: the tests do "
            "not exercise the submitted code.",
        )
    covered = sum(r[1] for r in rows)
    statements = sum(r[2] for r in rows)
    percent = round(100.0 * covered / statements, 1)
    band = coverage_band(percent)
    worst = sorted((r for r in rows if r[1] < r[2]), key=lambda r: (r[1] / r[2], r[0]))[:5]
    return Check(
        id="tests.coverage",
        passed=percent >= MIN_COVERAGE,
        weight=RUN_WEIGHT,
        sentence=(
            f"The tests cover {percent:g}% of {statements} statements in {len(rows)} candidate "
            f"modules ({band}; at least {MIN_COVERAGE:g}% expected)."
        ),
        evidence=[Evidence(metric={"percent_covered": percent, "band": band})]
        + [
            Evidence(
                path=r[0],
                metric={"percent_covered": round(100.0 * r[1] / r[2], 1), "statements": r[2]},
                note="least covered",
            )
            for r in worst
        ],
    )


# --------------------------------------------------------------------------- grader


def _integrity(artifacts: Artifacts | None) -> dict[str, Any]:
    if artifacts is None or artifacts.environment_json is None:
        return {}
    document = read_json_capped(artifacts.environment_json)
    integrity = document.get("integrity") if isinstance(document, dict) else None
    return integrity if isinstance(integrity, dict) else {}


def tampering_flag(
    source: SubmissionSource, root: Path, integrity: dict[str, Any]
) -> RedFlag | None:
    """``tests.tampering`` (high) when code or start-up files can change pytest's verdicts."""
    evidence: list[Evidence] = []
    for unit in source.code_units:
        if unit.origin != "py":
            continue
        for line, what in tampering_sites(unit):
            evidence.append(
                Evidence(path=unit.path, line=line, excerpt=_excerpt(unit, line), note=what)
            )
    for rel in startup_files(root, integrity):
        evidence.append(Evidence(path=rel, note="runs automatically when Python starts"))
    seen = {e.path for e in evidence}
    for rel, note in integrity_hooks(integrity, root):
        if rel not in seen:  # e.g. a conftest.py the static view could not parse
            evidence.append(Evidence(path=rel, note=note))
    if not evidence:
        return None
    evidence.sort(key=lambda e: (e.path or "", e.line or 0, e.note or ""))
    places = sorted({e.path for e in evidence if e.path})
    return RedFlag(
        id="tests.tampering",
        severity="high",
        sentence=(
            "The submission contains code that can change how pytest collects or reports tests "
            f"({', '.join(places[:5])}); the test results may not be trustworthy."
        ),
        evidence=evidence[: MAX_EVIDENCE * 2],
    )


def integrity_hooks(integrity: dict[str, Any], root: Path) -> list[tuple[str, str]]:
    """``(conftest path, note)`` for outcome-changing hooks the sandbox's inventory reported.

    The inventory lists ``{"path", "hooks": [...], "plugins", "parse_error"}`` per conftest.py;
    only hooks in :data:`TAMPER_HOOKS` count, and only for files that exist in the snapshot.
    """
    found: list[tuple[str, str]] = []
    items = integrity.get("pytest_hooks")
    for item in items[:200] if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            continue
        rel = _snapshot_rel(item["path"], root)
        hooks = item.get("hooks") if isinstance(item.get("hooks"), list) else []
        bad = sorted({h for h in hooks if isinstance(h, str) and h in TAMPER_HOOKS})
        if rel is not None and bad:
            found.append((rel, f"defines {', '.join(bad)} (sandbox inventory)"))
    return sorted(found)


# --------------------------------------------------------------------------- levels (ladder)
#
# Four rungs of weight 1 each track RUBRIC levels 1-4 (placeholders only or nothing: 0). A rung
# passes only when the rungs below it pass, so the weighted share is level / 4. The sandbox's
# tests.pass and tests.coverage weigh RUN_WEIGHT each (together under 1): they move the score
# inside the level's band, and the rubric's caps lower the level when they fail.

RUN_WEIGHT = 0.4
MEANINGFUL_MAX_BROKEN_SHARE = 0.5  # more broken than this: a broken suite (level 1)
SUITE_MIN_VALUE_TESTS = 4  # more than the "1-3 meaningful tests" of level 2
SUITE_MAX_BROKEN_SHARE = 0.25
SUITE_MIN_COVERAGE = 30.0  # measured, replaces the static module count for rung 3
FULL_MIN_VALUE_TESTS = 10
FULL_MIN_EDGE_TESTS = 2
FULL_MIN_MODULE_SHARE = 1 / 3  # static estimate of breadth for rung 4
FULL_MIN_COVERAGE = MIN_COVERAGE  # measured breadth for rung 4


def _test_evidence(tests: list[StaticTest], note: str | None = None) -> list[Evidence]:
    return [
        Evidence(path=t.path, line=t.line, excerpt=t.excerpt, note=note or t.name)
        for t in tests[:MAX_EVIDENCE]
    ]


def absent_check(test_files: list[str]) -> Check:
    """``tests.present`` (failed): no test function anywhere."""
    return Check(
        id="tests.present",
        passed=False,
        sentence=(
            "No tests: no .py file defines a test function."
            if not test_files
            else f"{plural(len(test_files), 'test file')} but no test function "
            "(def test...) in them."
        ),
        evidence=[Evidence(path=p) for p in test_files[:MAX_EVIDENCE]],
    )


def present_check(reading: SuiteReading, suffix: str) -> Check:
    """Rung 1 ``tests.present``: some test is more than an empty placeholder."""
    real = reading.real
    placeholders = [t for t in reading.tests if t.placeholder]
    silent = [t for t in real if not t.asserts]
    broken = [t for t in real if t.broken]
    files = plural(len(reading.test_files), "file")
    parts = [f"{plural(len(reading.tests), 'test function')} in {files}"]
    for count, what in (
        (placeholders, "empty placeholder"),
        (broken, "broken"),
        (silent, "assert-free"),
    ):
        if count:
            parts.append(f"{len(count)} {what}")
    if real:
        sentence = f"{', '.join(parts)}{suffix}."
    else:
        sentence = (
            f"Only empty placeholders (pass, a docstring, assert True): {', '.join(parts)}{suffix}."
        )
    return Check(
        id="tests.present",
        passed=bool(real),
        sentence=sentence,
        evidence=_test_evidence(real or placeholders),
    )


def _why_not_meaningful(reading: SuiteReading) -> str:
    real = [t for t in reading.real if not t.skipped]
    reasons = Counter()
    for t in real:
        if t.broken:
            reasons["cannot import what they test"] += 1
        elif t.nonportable:
            reasons["cannot run elsewhere (absolute paths, network, data not shipped)"] += 1
        elif not t.modules:
            reasons["never call the candidate's own code"] += 1
        else:
            reasons[
                "assert nothing about the results (no assert, or only not-None / isinstance)"
            ] += 1
    return "; ".join(f"{n} {why}" for why, n in reasons.most_common()) or "none runs"


def meaningful_check(reading: SuiteReading, below: bool, suffix: str) -> Check:
    """Rung 2 ``tests.meaningful``: a test asserts on the candidate's own code, and can run."""
    meaningful = reading.meaningful
    real = reading.real
    broken = [t for t in real if t.broken]
    mostly_broken = len(broken) > MEANINGFUL_MAX_BROKEN_SHARE * len(real)
    passed = below and bool(meaningful) and not mostly_broken
    if meaningful and mostly_broken:
        sentence = (
            f"{len(broken)} of {len(real)} tests cannot import or call what they test, so the "
            f"suite is broken; only {plural(len(meaningful), 'test')} would assert on the "
            f"candidate's code{suffix}."
        )
        evidence = [
            Evidence(path=p, line=line, note=clip(why, 200))
            for p, line, why in reading.broken_imports[:MAX_EVIDENCE]
        ] or _test_evidence(broken, None)
    elif meaningful:
        values = len(reading.value_tests)
        sentence = (
            f"{plural(len(meaningful), 'test')} assert on results of the candidate's own code "
            f"({values} check computed values, {len(meaningful) - values} only expect an "
            f"error){suffix}."
        )
        evidence = _test_evidence(meaningful)
    else:
        sentence = (
            f"No test asserts on what the candidate's code computes: "
            f"{_why_not_meaningful(reading)}{suffix}."
        )
        evidence = [
            Evidence(path=p, line=line, note=clip(why, 200))
            for p, line, why in reading.broken_imports[:MAX_EVIDENCE]
        ] + [
            Evidence(path=t.path, line=t.line, excerpt=t.excerpt, note=clip(t.nonportable, 200))
            for t in reading.real
            if t.nonportable and not t.broken
        ][:MAX_EVIDENCE]
    return Check(id="tests.meaningful", passed=passed, sentence=sentence, evidence=evidence)


def _breadth(
    reading: SuiteReading, coverage: float | None, minimum: float, share: float
) -> tuple[bool, str]:
    """Whether the tests reach enough of the candidate's code, and the words saying so."""
    if coverage is not None:
        return coverage >= minimum, f"measured coverage {coverage:g}% (at least {minimum:g}%)"
    total = len(reading.candidate_modules)
    used = len(reading.exercised_modules)
    needed = max(min(2, total), int(-(-total * share // 1)) if share else 0)
    return used >= needed and used > 0, (
        f"{used} of {plural(total, 'candidate module')} exercised (at least {needed})"
    )


def suite_check(reading: SuiteReading, below: bool, coverage: float | None, suffix: str) -> Check:
    """Rung 3 ``tests.suite``: a real suite over several modules, with fixtures."""
    values = reading.value_tests
    real = reading.real
    broken = [t for t in real if t.broken]
    broad, breadth_words = _breadth(reading, coverage, SUITE_MIN_COVERAGE, 0.0)
    fixtures = bool(reading.fixtures) or any(t.uses_fixtures or t.parametrised for t in values)
    broken_ok = len(broken) <= SUITE_MAX_BROKEN_SHARE * max(len(real), 1)
    conditions = [
        (
            len(values) >= SUITE_MIN_VALUE_TESTS,
            f"{len(values)} tests check computed values (at least {SUITE_MIN_VALUE_TESTS})",
        ),
        (broad, breadth_words),
        (fixtures, "fixtures or parametrisation used" if fixtures else "no fixtures"),
        (broken_ok, f"{len(broken)} of {len(real)} tests broken"),
    ]
    return _rung(
        "tests.suite",
        below,
        conditions,
        suffix,
        _test_evidence(values)
        + [
            Evidence(path=p, line=line, note=f"fixture {name}")
            for p, line, name in reading.fixtures[:3]
        ],
    )


def comprehensive_check(
    reading: SuiteReading, below: bool, coverage: float | None, suffix: str
) -> Check:
    """Rung 4 ``tests.comprehensive``: unit and integration tests, edge cases, CI."""
    values = reading.value_tests
    edge = [t for t in reading.meaningful if t.edge]
    integration = [t for t in reading.meaningful if t.integration]
    ci = reading.ci_running_tests
    broad, breadth_words = _breadth(reading, coverage, FULL_MIN_COVERAGE, FULL_MIN_MODULE_SHARE)
    conditions = [
        (
            len(values) >= FULL_MIN_VALUE_TESTS,
            f"{len(values)} tests check computed values (at least {FULL_MIN_VALUE_TESTS})",
        ),
        (len(edge) >= FULL_MIN_EDGE_TESTS, f"{len(edge)} edge-case tests"),
        (bool(integration), f"{len(integration)} integration tests"),
        (bool(ci), f"CI runs the tests ({ci[0].path})" if ci else "no CI runs the tests"),
        (broad, breadth_words),
    ]
    evidence = (
        [
            Evidence(path=c.path, line=c.line, excerpt=c.excerpt or None, note="runs the tests")
            for c in ci[:2]
        ]
        + _test_evidence(integration[:3], "integration test")
        + _test_evidence(edge[:3], "edge case")
    )
    return _rung("tests.comprehensive", below, conditions, suffix, evidence)


def _rung(
    check_id: str,
    below: bool,
    conditions: list[tuple[bool, str]],
    suffix: str,
    evidence: list[Evidence],
) -> Check:
    met = all(ok for ok, _ in conditions)
    missing = [words for ok, words in conditions if not ok]
    found = [words for ok, words in conditions if ok]
    if met and below:
        sentence = f"{'; '.join(found)}{suffix}."
    elif not below:
        sentence = f"Not reached (a lower level is missing); {'; '.join(w for _, w in conditions)}{suffix}."
    else:
        sentence = (
            f"Missing: {'; '.join(missing)}"
            + (f" (found: {'; '.join(found)})" if found else "")
            + f"{suffix}."
        )
    return Check(
        id=check_id,
        passed=met and below,
        sentence=clip(sentence, EXCERPT_SENTENCE_CHARS),
        evidence=evidence[:MAX_EVIDENCE],
    )


def ladder_checks(reading: SuiteReading, coverage: float | None, run: bool) -> list[Check]:
    """The four rungs, each passing only when the one below passes."""
    suffix = "" if run else " (read, not run)"
    present = present_check(reading, suffix)
    meaningful = meaningful_check(reading, present.passed, suffix)
    suite = suite_check(reading, meaningful.passed, coverage, suffix)
    full = comprehensive_check(reading, suite.passed, coverage, suffix)
    return [present, meaningful, suite, full]


def static_level(checks: list[Check]) -> int:
    """How many rungs passed (the level the reading alone supports)."""
    return sum(1 for c in checks if c.passed and c.id in LADDER_IDS)


LADDER_IDS = ("tests.present", "tests.meaningful", "tests.suite", "tests.comprehensive")


def broken_flag(reading: SuiteReading) -> RedFlag | None:
    """``tests.broken`` (medium): tests import modules or names the submission does not have."""
    broken = [t for t in reading.tests if t.broken and not t.placeholder]
    if not broken:
        return None
    return RedFlag(
        id="tests.broken",
        severity="medium",
        sentence=(
            f"{len(broken)} of {len(reading.tests)} tests import a module or a name the "
            "submission does not have, so they fail before running."
        ),
        evidence=[
            Evidence(path=p, line=line, note=clip(why, 200))
            for p, line, why in reading.broken_imports[:MAX_EVIDENCE]
        ],
    )


def _silent_evidence(silent: list[TestFunction]) -> list[Evidence]:
    return [
        Evidence(path=t.path, line=t.line, excerpt=t.excerpt, note=t.name)
        for t in silent[:MAX_EVIDENCE]
    ]


def assert_free_flag(tests: list[TestFunction], silent: list[TestFunction]) -> RedFlag | None:
    """``tests.assert_free`` (medium) when some tests assert nothing."""
    if not silent:
        return None
    return RedFlag(
        id="tests.assert_free",
        severity="medium",
        sentence=f"{len(silent)} of {len(tests)} tests assert nothing, so their "
        "passing proves nothing.",
        evidence=_silent_evidence(silent),
    )


def no_report_check(stage: StageRecord) -> Check:
    """``tests.pass`` (failed) when the tests stage left no readable JUnit report."""
    return Check(
        id="tests.pass",
        passed=False,
        weight=RUN_WEIGHT,
        sentence=(
            f"The tests stage ended with verdict {stage.verdict}"
            f"{': ' + clip(stage.reason, 200) if stage.reason else ''} and left no "
            "readable JUnit report."
        ),
        evidence=[
            Evidence(
                excerpt=clip(stage.stderr_tail or stage.stdout_tail, 600) or None,
                note="tests stage output tail",
            )
        ],
    )


def merge_flags(static: RedFlag | None, run: RedFlag) -> RedFlag:
    """One ``tests.tampering`` flag from the static finding (if any) and the run's."""
    if static is None:
        return run
    return RedFlag(
        id="tests.tampering",
        severity="high",
        sentence=clip(f"{static.sentence} {run.sentence}", EXCERPT_SENTENCE_CHARS),
        evidence=(static.evidence + run.evidence)[: MAX_EVIDENCE * 3],
    )


class TestsGrader:
    """Judges the candidate's tests by reading them, refined by their run in the sandbox."""

    __test__ = False  # not a pytest test class
    name = "tests"
    version = "3"

    def grade(self, context: GraderContext) -> GraderResult:
        """Grade the tests statically and, when the sandbox ran them, by their results."""
        source = source_for(context)
        root = context.snapshot_root
        artifacts = context.artifacts
        reading = read_suite(source, root)
        tampering = tampering_flag(source, root, _integrity(artifacts))
        tests = [TestFunction(t.path, t.line, t.name, t.asserts, t.excerpt) for t in reading.tests]
        silent = [t for t in tests if not t.asserts]
        details = _reading_details(reading, silent)
        flags = [
            f
            for f in (tampering, broken_flag(reading), assert_free_flag(tests, silent))
            if f is not None
        ]
        if not tests:
            return GraderResult.from_checks(
                self.name,
                self.version,
                [absent_check(reading.test_files)],
                flags,
                details=details,
                reason="No tests were written, so this scores 0.",
            )
        run_checks: list[Check] = []
        problems: list[str] = []
        if artifacts is None:
            reason = "Judged by reading the tests only (not run: static grading)"
        else:
            reason, problems = self._run_checks(source, artifacts, root, tests, run_checks, details)
        coverage = details.get("coverage_percent")
        ran = any(c.id == "tests.pass" for c in run_checks)
        ladder = ladder_checks(reading, coverage if isinstance(coverage, float) else None, ran)
        level = static_level(ladder)
        details["static_level"] = level
        details["judged_from"] = "reading and sandbox run" if ran else "reading only"
        summary = (
            f"{len(reading.meaningful)} of {plural(len(tests), 'test')} meaningful, "
            f"{len(reading.exercised_modules)} of {len(reading.candidate_modules)} candidate "
            f"modules exercised, CI {'runs them' if reading.ci_running_tests else 'absent'}"
        )
        if not ran:
            reason = f"{reason}: {summary}; the level is what reading supports ({level})."
        else:
            reason = f"{reason} Read: {summary}."
        run_flag = tampering_from_run(problems)
        if run_flag is not None:
            flags = [f for f in flags if f.id != "tests.tampering"]
            flags.insert(0, merge_flags(tampering, run_flag))
        return GraderResult.from_checks(
            self.name, self.version, ladder + run_checks, flags, details=details, reason=reason
        )

    def _run_checks(
        self,
        source: SubmissionSource,
        artifacts: Artifacts,
        root: Path,
        tests: list[TestFunction],
        checks: list[Check],
        details: dict[str, Any],
    ) -> tuple[str, list[str]]:
        """Append ``tests.pass`` / ``tests.coverage``; return the reason and contradictions."""
        found = f"{len(tests)} tests found statically"
        stage = artifacts.stages.get("tests")
        if stage is not None and stage.verdict == "sandbox_error":
            details["tests_stage"] = stage.verdict
            why = "run not scored: the sandbox failed (not the candidate's fault)"
            return f"{found}; {why}; judged by reading the tests only", []
        text = (
            read_text_capped(artifacts.junit_xml, MAX_JUNIT_BYTES) if artifacts.junit_xml else None
        )
        cases = parse_junit(text) if text is not None else None
        if cases is None:
            if stage is None:
                why = "not run (the sandbox did not run a tests stage)"
                return f"{found}; {why}; judged by reading the tests only", []
            checks.append(no_report_check(stage))
            details["tests_stage"] = stage.verdict
            return f"{found}; the tests stage produced no results ({stage.verdict}).", []
        evidence = [e for e in (stdout_evidence(stage), file_evidence(artifacts)) if e]
        cross = cross_check(cases, stage, evidence, len(tests), uses_multipliers(source))
        static = {(t.path, t.name): t for t in tests}
        check, summary = run_check(cases, root, static, cross)
        checks.append(check)
        details["junit"] = _counts_of(cases)
        if cross.problems:
            details["run_contradictions"] = cross.problems
        if stage is not None:
            details["tests_stage"] = stage.verdict
        document = read_json_capped(artifacts.coverage_json) if artifacts.coverage_json else None
        if document is not None:
            coverage = coverage_check(document, root)
            checks.append(coverage)
            metric = coverage.evidence[0].metric if coverage.evidence else None
            details["coverage_percent"] = metric.get("percent_covered") if metric else None
        worst = "at worst " if cross.problems else ""
        reason = (
            f"{found}; in the sandbox {worst}{summary['passed']} passed, {summary['failed']} "
            f"failed, {summary['error']} errored, {summary['skipped']} skipped."
        )
        return reason, cross.problems


def _reading_details(reading: SuiteReading, silent: list[TestFunction]) -> dict[str, Any]:
    """What the reading found, as numbers and paths (``details``)."""
    return {
        "test_files": reading.test_files,
        "test_functions": len(reading.tests),
        "assert_free": len(silent),
        "placeholders": sum(1 for t in reading.tests if t.placeholder),
        "broken": sum(1 for t in reading.tests if t.broken),
        "meaningful": len(reading.meaningful),
        "value_tests": len(reading.value_tests),
        "edge_tests": sum(1 for t in reading.meaningful if t.edge),
        "integration_tests": sum(1 for t in reading.meaningful if t.integration),
        "fixtures": len(reading.fixtures),
        "candidate_modules": len(reading.candidate_modules),
        "exercised_modules": reading.exercised_modules[:50],
        "ci": [c.path for c in reading.ci_running_tests],
    }
