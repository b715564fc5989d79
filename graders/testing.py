"""Tests grader (``tests``): the candidate's own tests, found statically and run in the sandbox.

Static part (always): test files (``test_*.py``, ``*_test.py``) and test functions (``def test*``
at module level or in ``Test*`` classes), tests that assert nothing, and code that tampers with
pytest's reporting (outcome-changing hooks, patches of ``_pytest`` or ``pytest`` internals,
start-up files such as ``sitecustomize.py`` / ``*.pth``).

Run part (when the sandbox ran the tests stage): outcomes per test case from the JUnit XML and
the line coverage of the candidate's non-test modules from ``coverage json``. Both files were
written next to candidate code and are parsed as hostile input.
"""

from __future__ import annotations

import ast
import functools
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
    clip,
)
from graders.source import CodeUnit, SubmissionSource, dotted_name, source_for

MAX_JUNIT_BYTES = 5_000_000
MAX_TESTCASES = 20_000
MAX_EVIDENCE = 10
COVERAGE_BANDS = ((80.0, "high"), (50.0, "moderate"), (0.0, "low"))  # lower bound, band
MIN_COVERAGE = 50.0

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


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


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


def _pytest_roots(tree: ast.Module) -> set[str]:
    """Local names bound to ``pytest`` / ``_pytest`` modules or objects imported from them."""
    roots: set[str] = set()
    for node in ast.walk(tree):
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
    roots = _pytest_roots(unit.tree)
    for node in ast.walk(unit.tree):
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
    cases: list[CaseResult], root: Path, static: dict[tuple[str, str], TestFunction]
) -> tuple[Check, dict[str, int]]:
    """``tests.pass``: every collected test passes (skips allowed), at least one ran."""
    counts = Counter(case.outcome for case in cases)
    summary = {k: counts.get(k, 0) for k in ("passed", "failed", "error", "skipped")}
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
    return (
        Check(
            id="tests.pass",
            passed=ran > 0 and not bad,
            weight=2.0,
            sentence=sentence,
            evidence=evidence,
        ),
        summary,
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


class TestsGrader:
    """Judges the candidate's tests: presence, outcomes, coverage, assertions, integrity."""

    __test__ = False  # not a pytest test class
    name = "tests"
    version = "1"

    def grade(self, context: GraderContext) -> GraderResult:
        """Grade the tests statically and, when the sandbox ran them, by their results."""
        source = source_for(context)
        root = context.snapshot_root
        artifacts = context.artifacts
        integrity = _integrity(artifacts)
        red_flags: list[RedFlag] = []
        tampering = tampering_flag(source, root, integrity)
        if tampering is not None:
            red_flags.append(tampering)

        test_files = sorted(
            u.path for u in source.code_units if u.origin == "py" and is_test_file(u.path)
        )
        tests = [t for u in source.code_units if u.origin == "py" for t in find_test_functions(u)]
        tests.sort(key=lambda t: (t.path, t.line, t.name))
        details: dict[str, Any] = {"test_files": test_files, "test_functions": len(tests)}
        if not tests:
            check = Check(
                id="tests.present",
                passed=False,
                sentence=(
                    "No tests: no test_*.py or *_test.py file defines a test function."
                    if not test_files
                    else f"{_plural(len(test_files), 'test file')} but no test function "
                    "(def test...) in them."
                ),
                evidence=[Evidence(path=p) for p in test_files[:MAX_EVIDENCE]],
            )
            return GraderResult.from_checks(
                self.name,
                self.version,
                [check],
                red_flags,
                details=details,
                reason="No tests were written, so this scores 0.",
            )

        checks = [
            Check(
                id="tests.present",
                passed=True,
                sentence=f"{_plural(len(tests), 'test function')} in "
                f"{_plural(len(test_files), 'test file')}.",
                evidence=[
                    Evidence(path=t.path, line=t.line, excerpt=t.excerpt)
                    for t in tests[:MAX_EVIDENCE]
                ],
            )
        ]
        silent = [t for t in tests if not t.asserts]
        checks.append(
            Check(
                id="tests.assertions",
                passed=not silent,
                sentence=(
                    f"Every one of the {len(tests)} tests asserts something."
                    if not silent
                    else f"{len(silent)} of {len(tests)} tests assert nothing (no assert, "
                    "pytest.raises or assert_* call): they pass whatever the code does."
                ),
                evidence=[
                    Evidence(path=t.path, line=t.line, excerpt=t.excerpt, note=t.name)
                    for t in silent[:MAX_EVIDENCE]
                ],
            )
        )
        if silent:
            red_flags.append(
                RedFlag(
                    id="tests.assert_free",
                    severity="medium",
                    sentence=f"{len(silent)} of {len(tests)} tests assert nothing, so their "
                    "passing proves nothing.",
                    evidence=[
                        Evidence(path=t.path, line=t.line, excerpt=t.excerpt, note=t.name)
                        for t in silent[:MAX_EVIDENCE]
                    ],
                )
            )
        reason = self._run_checks(artifacts, root, tests, checks, details)
        return GraderResult.from_checks(
            self.name, self.version, checks, red_flags, details=details, reason=reason
        )

    def _run_checks(
        self,
        artifacts: Artifacts | None,
        root: Path,
        tests: list[TestFunction],
        checks: list[Check],
        details: dict[str, Any],
    ) -> str:
        """Append ``tests.pass`` / ``tests.coverage`` when the sandbox ran the tests."""
        found = f"{len(tests)} tests found statically"
        if artifacts is None:
            return f"{found}; not run (graded with --no-run)."
        stage = artifacts.stages.get("tests")
        if stage is not None and stage.verdict == "sandbox_error":
            details["tests_stage"] = stage.verdict
            return f"{found}; run not scored: the sandbox failed (not the candidate's fault)."
        text = (
            read_text_capped(artifacts.junit_xml, MAX_JUNIT_BYTES) if artifacts.junit_xml else None
        )
        cases = parse_junit(text) if text is not None else None
        if cases is None:
            if stage is None:
                return f"{found}; not run (the sandbox did not run a tests stage)."
            checks.append(
                Check(
                    id="tests.pass",
                    passed=False,
                    weight=2.0,
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
            )
            details["tests_stage"] = stage.verdict
            return f"{found}; the tests stage produced no results ({stage.verdict})."
        static = {(t.path, t.name): t for t in tests}
        check, summary = run_check(cases, root, static)
        checks.append(check)
        details["junit"] = summary
        if stage is not None:
            details["tests_stage"] = stage.verdict
        document = read_json_capped(artifacts.coverage_json) if artifacts.coverage_json else None
        if document is not None:
            coverage = coverage_check(document, root)
            checks.append(coverage)
            metric = coverage.evidence[0].metric if coverage.evidence else None
            details["coverage_percent"] = metric.get("percent_covered") if metric else None
        return (
            f"{found}; in the sandbox {summary['passed']} passed, {summary['failed']} failed, "
            f"{summary['error']} errored, {summary['skipped']} skipped."
        )
