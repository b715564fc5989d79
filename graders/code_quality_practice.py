"""The code_quality checks that go beyond pylint and function size: engineering practice
(docstrings, typing, configuration, logging, packaging, linters, CI) and hygiene smells
(files that do not parse, notebook exports, commented-out code, duplication, empty scaffolding,
prints in library modules, undefined names, unused imports, committed junk).

Practice checks are always listed (an achievement); hygiene checks are listed only when they
fail (a penalty). Red flags ``code_quality.broken`` and ``code_quality.throwaway`` mark code the
rubric caps at level 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from graders import code_quality_defects as defects
from graders import code_quality_signals as sig
from graders.base import Check, Evidence, GraderContext, RedFlag
from graders.source import CodeUnit, SubmissionSource

MAX_EVIDENCE = 10
MIN_SHARE = 0.5  # docstrings, type hints: at least half of the functions
COMMENTED_BLOCK_LINES = 5  # one commented-out block this long is a smell ...
COMMENTED_TOTAL_LINES = 10  # ... and so is this many commented-out code lines in all
DUPLICATED_SHARE = 0.08  # of normalised code lines
DUPLICATED_MIN_LINES = 12
LIBRARY_PRINTS = 5
UNUSED_IMPORTS = 5
BROKEN_SHARE = 0.5
NOTABLE_SMELLS = frozenset(
    {"code_quality.syntax_errors", "code_quality.notebook_export", "code_quality.commented_out_code",
     "code_quality.duplication", "code_quality.scaffolding", "code_quality.broken_references",
     "code_quality.path_hacks", "code_quality.import_time_work", "code_quality.cwd_paths",
     "code_quality.defects"}
)  # fmt: skip
#: Independent ways code fails or misleads when run; two or more make a works-ish script (level 1).
DEFECT_KINDS = ("failed_imports", "broken_names", "broken_scripts", "ignored_options",
                "debug_leftovers", "dynamic_eval")  # fmt: skip
DEFECTIVE_KINDS = 2
#: pylint messages meaning a reference in the candidate's own code is broken.
BROKEN_SYMBOLS = ("undefined-variable", "function-redefined", "relative-beyond-top-level",
                  "no-value-for-parameter", "too-many-function-args")  # fmt: skip
ARITY_SYMBOLS = frozenset({"no-value-for-parameter", "too-many-function-args"})
TOOLING_WEIGHT = 0.5  # packaging, linters, CI: level 4 needs all of them (rubric caps)  # of .py lines in files that do not parse


@dataclass
class LintReport:
    """pylint's messages with their snapshot locations (empty when pylint gave no report)."""

    messages: list[tuple[Any, tuple[str | None, int | None, int | None]]] = field(
        default_factory=list
    )
    reason: str = ""

    @property
    def available(self) -> bool:
        """True when pylint produced a report."""
        return not self.reason.startswith(("pylint not run", "pylint gave no", "pylint did not",
                                           "no pylint"))  # fmt: skip

    def spots(self, symbol: str, modules_only: bool = True) -> list[sig.Spot]:
        """Locations of ``symbol`` messages (in ``.py`` files only when ``modules_only``)."""
        found = []
        for message, (path, cell, line) in self.messages:
            if message.symbol != symbol or path is None:
                continue
            if modules_only and (cell is not None or not path.endswith(".py")):
                continue
            found.append(sig.Spot(path, cell, line, symbol, message.message))
        return found


def _evidence(spots: list[sig.Spot]) -> list[Evidence]:
    return [
        Evidence(
            path=s.path or None, cell=s.cell, line=s.line, excerpt=s.excerpt or None, note=s.note
        )
        for s in spots[:MAX_EVIDENCE]
    ]


def _check(check_id: str, passed: bool, sentence: str, spots: list[sig.Spot],
           weight: float = 1.0) -> Check:  # fmt: skip
    return Check(id=check_id, passed=passed, weight=weight, sentence=sentence,
                 evidence=_evidence(spots))  # fmt: skip


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def practice_checks(
    context: GraderContext, source: SubmissionSource, units: list[CodeUnit], lint: LintReport
) -> tuple[list[Check], list[Check], list[RedFlag], dict[str, Any]]:
    """``(practice checks, hygiene checks, red flags, details)``."""
    root = context.snapshot_root
    meta = context.snapshot_meta if isinstance(context.snapshot_meta, dict) else {}
    files = sig.snapshot_files(root, meta)
    modules = sig.module_units(source)
    code = [u for u in units if not sig.is_test_path(u.path)]
    positive = _practice(source, files, modules, code, root)
    hygiene, details = _hygiene(source, files, meta, modules, code, lint)
    flags = _level_one_flags(source, modules, code)
    kinds = details.pop("_defect_kinds", {})
    flags.extend(f for f in (smells_flag(hygiene), defective_flag(kinds),
                             undocumented_flag(code, modules)) if f is not None)  # fmt: skip
    return positive, hygiene, flags, details


def _practice(source: SubmissionSource, files: list[str], modules: list[CodeUnit],
              code: list[CodeUnit], root: Any) -> list[Check]:  # fmt: skip
    done, total, missing = sig.documented(code)
    # A vacuous 0 of 0 is not judged: the missing structure is reusable_code's failure alone.
    docs = _check(
        "code_quality.docstrings",
        total >= 2 and sig.share(done, total) >= MIN_SHARE,
        f"{done} of {_n(total, 'definition')} have a docstring "
        f"(at least half of at least two expected).",
        missing,
    ) if total else None
    typed, functions, examples = sig.annotated(modules)
    types = _check(
        "code_quality.type_hints",
        functions >= 2 and sig.share(typed, functions) >= MIN_SHARE,
        f"{typed} of {_n(functions, 'function')} in .py modules have annotated signatures "
        "(at least half expected).",
        examples,
    ) if functions else None
    config = sig.configuration(source, files, modules, root)
    configured = _check(
        "code_quality.configuration",
        bool(config),
        "Settings come from configuration the code reads (a config file of parameters, a config "
        "module, environment variables or command-line options)." if config else
        "No configuration: no config file of parameters read by the code, config module, "
        "environment variables or command-line options.",
        config,
    )  # fmt: skip
    logs = sig.logging_use(modules)
    logging = _check(
        "code_quality.logging",
        bool(logs),
        f"{_n(len(logs), '.py module')} log through logging." if logs else
        "No .py module uses logging (progress and errors go to print, if anywhere).",
        logs,
    ) if any(u.tree is not None and u.tree.body for u in modules) else None  # fmt: skip
    package = sig.packaging(root, files)
    linters = sig.lint_tooling(root, files)
    ci = sig.ci_workflows(root, files)
    checks = [
        docs,
        types,
        configured,
        logging,
        _check("code_quality.packaging", bool(package),
               "Packaged: a build definition and an importable package." if package else
               "Not packaged (no importable package with pyproject/setup metadata or a Dockerfile "
               "and requirements).",
               package, weight=TOOLING_WEIGHT),
        _check("code_quality.linters", bool(linters),
               "Linters, formatters or type checkers are configured." if linters else
               "No linter, formatter or type checker is configured (ruff, flake8, black, mypy, "
               "pre-commit).", linters, weight=TOOLING_WEIGHT),
        _check("code_quality.ci", bool(ci),
               "A CI workflow runs the tests or a linter." if ci else
               "No CI workflow runs tests or linters.", ci, weight=TOOLING_WEIGHT),
    ]  # fmt: skip
    return [c for c in checks if c is not None]


def _hygiene(source: SubmissionSource, files: list[str], meta: dict[str, Any],
             modules: list[CodeUnit], code: list[CodeUnit],
             lint: LintReport) -> tuple[list[Check], dict[str, Any]]:  # fmt: skip
    checks: list[Check] = []
    broken = [s for u in source.code_units if (s := sig.syntax_error(u))]
    checks.append(_check("code_quality.syntax_errors", not broken,
                         f"{_n(len(broken), '.py file')} do not parse: the code cannot run.",
                         broken, weight=2.0))  # fmt: skip
    exports = [s for u in source.code_units if (s := sig.export_leftovers(u))]
    checks.append(_check("code_quality.notebook_export", not exports,
                         f"{_n(len(exports), '.py file')} are raw notebook exports "
                         "(# In[ ]: markers, get_ipython(), shell lines).", exports))  # fmt: skip
    blocks = [b for u in code for b in sig.commented_code(u)]
    lines = sum(count for _, count in blocks)
    longest = max((count for _, count in blocks), default=0)
    bad = longest >= COMMENTED_BLOCK_LINES or lines >= COMMENTED_TOTAL_LINES
    checks.append(_check("code_quality.commented_out_code", not bad,
                         f"{lines} commented-out code lines in {_n(len(blocks), 'block')} "
                         f"(longest {longest}).", [s for s, _ in blocks]))  # fmt: skip
    duplicated, total, dup_spots = sig.duplication(code)
    bad = duplicated >= DUPLICATED_MIN_LINES and sig.share(duplicated, total) >= DUPLICATED_SHARE
    checks.append(_check("code_quality.duplication", not bad,
                         f"{duplicated} of {total} code lines repeat a block of "
                         f"{sig.DUP_WINDOW}+ lines found elsewhere (copy-paste).",
                         dup_spots))  # fmt: skip
    stubs = sig.scaffolding(modules)
    checks.append(_check("code_quality.scaffolding", not stubs,
                         f"{_n(len(stubs), 'empty module or function')} (scaffolding left "
                         "unfinished).", stubs))  # fmt: skip
    prints = sig.library_prints(source, modules)
    checks.append(_check("code_quality.library_prints", len(prints) < LIBRARY_PRINTS,
                         f"{_n(len(prints), 'print call')} inside functions of modules other "
                         "code imports (debug output instead of logging or return values).",
                         prints, weight=0.5))  # fmt: skip
    work = sig.import_time_work(source, modules)
    checks.append(_check("code_quality.import_time_work", not work,
                         f"{_n(len(work), 'imported module')} run pipeline work at import time "
                         "(top-level statements outside an if __name__ == '__main__' guard).",
                         work))  # fmt: skip
    roots = sig.relative_roots(modules)
    checks.append(_check("code_quality.cwd_paths", not roots,
                         f"{_n(len(roots), 'relative path')} reach the same folder from different "
                         "working directories: the scripts only run from where each was written.",
                         roots, weight=0.5))  # fmt: skip
    hacks = sig.path_hacks(code)
    checks.append(_check("code_quality.path_hacks", not hacks,
                         f"{_n(len(hacks), 'sys.path edit or os.chdir call')}: the code only runs "
                         "from one folder layout.", hacks))  # fmt: skip
    junk = sig.committed_junk(files, meta)
    checks.append(_check("code_quality.committed_junk", not junk,
                         "Committed caches or tool output: "
            + ", ".join(s.note.removeprefix("committed ") for s in junk[:5])
            + ".",
                         junk, weight=0.5))  # fmt: skip
    details: dict[str, Any] = {
        "unparseable_files": len(broken), "notebook_exports": len(exports),
        "commented_out_lines": lines, "duplicated_lines": duplicated, "code_lines": total,
        "scaffolding": len(stubs), "library_prints": len(prints), "committed_junk": len(junk),
    }  # fmt: skip
    own = sig.own_import_errors(source)
    failed_imports = [s for s in own if s.excerpt.startswith("from .")]  # unambiguously own
    broken_refs = [s for s in own if s not in failed_imports]
    broken_refs += defects.undefined_self_members(modules)
    if lint.available:
        broken_refs += [s for symbol in BROKEN_SYMBOLS for s in lint.spots(symbol)]
        unused = lint.spots("unused-import")
        checks.append(_check("code_quality.unused_imports", len(unused) < UNUSED_IMPORTS,
                             f"pylint finds {_n(len(unused), 'unused import')} in .py modules.",
                             unused, weight=0.5))  # fmt: skip
        details.update(unused_imports=len(unused))
    # Call-arity messages stay a smell but do not count towards `defective`: pylint raises them
    # on decorated commands (click's `main()`), which are fine at run time.
    kinds = {"failed_imports": failed_imports,
             "broken_names": [s for s in broken_refs if s.note not in ARITY_SYMBOLS]}  # fmt: skip
    broken_refs = sorted(failed_imports + broken_refs, key=lambda s: (s.path, s.line or 0))
    checks.append(_check("code_quality.broken_references", not broken_refs,
                         f"{_n(len(broken_refs), 'broken reference')} in .py modules (undefined "
                         "names, imports of the candidate's own modules or names that do not "
                         "exist, redefined functions, calls with the wrong arguments): those lines "
                         "fail when they run" + ("" if lint.available else
                                                 " (own imports only: pylint gave no report)")
                         + ".", broken_refs))  # fmt: skip
    details.update(broken_references=len(broken_refs), import_time_work=len(work),
                   cwd_paths=len(roots))
    details["path_hacks"] = len(hacks)
    kinds.update(
        broken_scripts=defects.broken_scripts(source.root, files),
        ignored_options=defects.ignored_options(source, modules),
        debug_leftovers=defects.debug_leftovers(modules),
        dynamic_eval=defects.dynamic_eval(modules),
    )
    found = [s for kind in DEFECT_KINDS[2:] for s in kinds[kind]]
    checks.append(_check("code_quality.defects", not found,
                         f"{_n(len(found), 'defect')} a careful reader sees without running the "
                         "code (broken shell scripts, options parsed but never read, debug "
                         "servers or breakpoints left in, eval/exec of computed values).",
                         found))  # fmt: skip
    details.update(defects=len(found), _defect_kinds=kinds)
    return checks, details


def smells_flag(hygiene: list[Check]) -> RedFlag | None:
    """``code_quality.smells`` when two or more notable smells failed (the rubric's level 2)."""
    notable = [c for c in hygiene if c.id in NOTABLE_SMELLS and not c.passed]
    if len(notable) < 2:
        return None
    names = ", ".join(c.id.removeprefix("code_quality.").replace("_", " ") for c in notable)
    evidence = [e for c in notable for e in c.evidence[:2]]
    return RedFlag(id="code_quality.smells", severity="low",
                   sentence=f"Notable smells: {names}.", evidence=evidence[:MAX_EVIDENCE])  # fmt: skip


def defective_flag(kinds: dict[str, list[sig.Spot]]) -> RedFlag | None:
    """``code_quality.defective`` when the code fails or misleads in two or more independent ways.

    The kinds: own modules imported that do not exist, undefined names or members and calls
    with the wrong arguments, broken shell scripts, options parsed and never read, debug leftovers
    and eval of computed values. One kind is a notable smell; two make a works-ish script.
    """
    found = [kind for kind in DEFECT_KINDS if kinds.get(kind)]
    if len(found) < DEFECTIVE_KINDS:
        return None
    names = ", ".join(kind.replace("_", " ") for kind in found)
    evidence = _evidence([s for kind in found for s in kinds[kind][:2]])
    return RedFlag(id="code_quality.defective", severity="medium",
                   sentence=f"The code cannot run as written or ignores what it is told in "
                   f"{len(found)} independent ways ({names}).", evidence=evidence)  # fmt: skip


def undocumented_flag(code: list[CodeUnit], modules: list[CodeUnit]) -> RedFlag | None:
    """``code_quality.undocumented`` when neither docstrings nor type hints document the code.

    The rubric's level 3 is "modular, documented": docstrings on at least half of the
    definitions or typed signatures on at least half of the module functions. Judged only when
    ``.py`` modules define two or more functions: notebook-only code is already held at level 2
    by ``notebook_only``, a single function by ``reusable_code``.
    """
    typed, functions, _ = sig.annotated(modules)
    done, total, missing = sig.documented(code)
    if functions < 2 or sig.share(typed, functions) >= MIN_SHARE or (
        sig.share(done, total) >= MIN_SHARE
    ):
        return None
    return RedFlag(id="code_quality.undocumented", severity="low",
                   sentence=f"The code is not documented: {done} of {_n(total, 'definition')} "
                   f"have a docstring and {typed} of {_n(functions, 'module function')} a typed "
                   "signature.", evidence=_evidence(missing[:3]))  # fmt: skip


def _level_one_flags(source: SubmissionSource, modules: list[CodeUnit],
                     code: list[CodeUnit]) -> list[RedFlag]:  # fmt: skip
    """``code_quality.broken`` and ``code_quality.throwaway`` (the rubric's level 1 and below)."""
    flags: list[RedFlag] = []
    py = [u for u in source.code_units if u.origin == "py" and u.code.strip()]
    py_lines = sum(u.code.count("\n") + 1 for u in py)
    bad = [u for u in py if u.tree is None]
    bad_lines = sum(u.code.count("\n") + 1 for u in bad)
    notebook_ok = any(u.tree is not None for u in code if u.origin == "notebook")
    if (
        bad
        and sig.share(bad_lines, py_lines) >= BROKEN_SHARE
        and (not notebook_ok or py_lines >= 100)
    ):
        flags.append(RedFlag(
            id="code_quality.broken", severity="medium",
            sentence=f"Most of the .py code does not parse ({bad_lines} of {py_lines} lines, "
            f"{_n(len(bad), 'file')}): it cannot run as submitted.",
            evidence=_evidence([s for u in bad if (s := sig.syntax_error(u))]),
        ))  # fmt: skip
    real = [(u, n) for u, n in sig.real_definitions(code)
            if not (u.origin == "py" and sig.export_leftovers(u))]  # fmt: skip
    pipelines = [s for s in sig.notebook_structure(source) if s.note.startswith("builds")]
    if not real and not pipelines:  # a notebook built on sklearn pipelines has structure
        where = sorted({u.path for u in code})
        flags.append(RedFlag(
            id="code_quality.throwaway", severity="medium",
            sentence="The code is one-off script statements: no function or class is defined "
            "anywhere outside notebook exports and tests.",
            evidence=[Evidence(path=p) for p in where[:MAX_EVIDENCE]],
        ))  # fmt: skip
    return flags


def notebook_share(units: list[CodeUnit]) -> float:
    """Share of non-test code lines that are in notebooks."""
    lines = {"notebook": 0, "py": 0}
    for unit in units:
        if not sig.is_test_path(unit.path) and PurePosixPath(unit.path).name != "setup.py":
            lines[unit.origin] += unit.code.count("\n") + 1
    return sig.share(lines["notebook"], lines["notebook"] + lines["py"])
