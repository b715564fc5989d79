"""Code quality grader: pylint's verdict, long functions, deep nesting, reusable modules,
committed secrets and absolute paths from the candidate's machine.

pylint ran in the sandbox (its ``json2`` report is read here as untrusted input); everything
else is static, over the ``ast`` of ``.py`` files and notebook code cells. Secrets are never
copied into the result: every excerpt shows them masked. Absolute paths show ``<user>`` in place
of the account name (reports may be blind).
"""

from __future__ import annotations

import ast
import functools
import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from graders import code_quality_signals as signals
from graders.artifacts import read_json_capped, read_text_capped
from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag, clip, plural
from graders.code_quality_practice import LintReport, notebook_share, practice_checks
from graders.source import CodeUnit, SubmissionSource, source_for

MIN_PYLINT_SCORE = 7.0
MAX_PYLINT_MESSAGES = 20_000
TOP_SYMBOLS = 5
MIN_REUSABLE = 2  # functions or classes with real bodies, used by the code
MAX_FUNCTION_STATEMENTS = 50
MAX_FUNCTION_LINES = 50
MAX_NESTING = 4
MAX_EVIDENCE = 10
MAX_SCAN_FILES = 2_000
MAX_SCAN_BYTES = 1_000_000
EXCERPT_WINDOW = 160

CONFIG_SUFFIXES = frozenset(
    {".env", ".cfg", ".ini", ".toml", ".yaml", ".yml", ".json", ".sh", ".conf", ".properties"}
)
CONFIG_NAMES = frozenset({".env", ".envrc", ".netrc", ".pypirc", "credentials", "secrets"})
_SKIPPED_DIRS = frozenset({".git", "__pycache__", "node_modules", "site-packages", ".venv", "venv"})
_TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test|conftest)\.py$")


# --------------------------------------------------------------------------- pylint


@dataclass(frozen=True)
class PylintMessage:
    """One pylint message, with the path as pylint reported it."""

    symbol: str
    message: str
    path: str
    line: int | None
    absolute_path: str = ""


def parse_pylint(document: Any) -> tuple[float | None, list[PylintMessage]]:
    """Score and messages of a pylint ``json2`` report (anything malformed is dropped)."""
    if not isinstance(document, dict):
        return None, []
    statistics = document.get("statistics")
    score = statistics.get("score") if isinstance(statistics, dict) else None
    score = (
        float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None
    )
    if score is not None and not -1e6 < score < 1e6:
        score = None
    messages: list[PylintMessage] = []
    raw = document.get("messages")
    for item in raw[:MAX_PYLINT_MESSAGES] if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("symbol"), str):
            continue
        line = item.get("line")
        messages.append(
            PylintMessage(
                symbol=item["symbol"][:80],
                message=str(item.get("message", ""))[:300],
                path=str(item.get("path", ""))[:500],
                line=line if isinstance(line, int) and line > 0 else None,
                absolute_path=str(item.get("absolutePath", ""))[:500],
            )
        )
    return score, messages


@dataclass(frozen=True)
class NotebookExport:
    """A notebook the lint stage exported to a .py file: its path and cells' first lines."""

    path: str  # snapshot-relative notebook path
    cells: tuple[tuple[int, int], ...]  # (first line in the export, cell index), sorted


def read_lint_sources(document: Any) -> dict[str, NotebookExport]:
    """``lint_sources.json``: export file path -> :class:`NotebookExport` (malformed dropped)."""
    notebooks = document.get("notebooks") if isinstance(document, dict) else None
    exports: dict[str, NotebookExport] = {}
    for target, entry in sorted(notebooks.items())[:500] if isinstance(notebooks, dict) else []:
        if not isinstance(target, str) or not isinstance(entry, dict):
            continue
        cells = entry.get("cells")
        pairs = sorted(
            (c["first_line"], c["cell"])
            for c in (cells if isinstance(cells, list) else [])[:100_000]
            if isinstance(c, dict)
            and isinstance(c.get("first_line"), int)
            and isinstance(c.get("cell"), int)
        )
        if isinstance(entry.get("path"), str):
            exports[target] = NotebookExport(entry["path"], tuple(pairs))
    return exports


def locate(
    message: PylintMessage, root: Path, exports: dict[str, NotebookExport]
) -> tuple[str | None, int | None, int | None]:
    """Snapshot ``(path, cell, line)`` of a pylint message; notebook exports map back to cells."""
    for candidate in (message.absolute_path, message.path):
        export = exports.get(candidate) if candidate else None
        if export is None and candidate:
            export = next(
                (e for t, e in exports.items() if t.endswith("/" + candidate.lstrip("./"))), None
            )
        if export is None:
            continue
        rel = snapshot_path(export.path, root)
        if rel is None or message.line is None:
            return rel, None, None
        before = [pair for pair in export.cells if pair[0] <= message.line]
        if not before:
            return rel, None, None
        first_line, cell = before[-1]
        return rel, cell, message.line - first_line + 1
    rel = snapshot_path(message.path, root)
    return rel, None, message.line if rel else None


def snapshot_path(path: str, root: Path) -> str | None:
    """A path reported from the sandbox, relative to the snapshot, when that file exists."""
    rel = path.replace("\\", "/")
    for prefix in ("/workspace/", "/submission/", "./"):
        rel = rel.removeprefix(prefix)
    rel = rel.lstrip("/")
    if not rel or ".." in PurePosixPath(rel).parts:
        return None
    try:
        return rel if stat.S_ISREG(os.lstat(root / rel).st_mode) else None
    except (OSError, ValueError):
        return None


#: Messages a formatter or a naming convention settles; reviewers judge substance, not these.
FORMATTING_SYMBOLS = frozenset(
    {"trailing-whitespace", "line-too-long", "missing-final-newline", "trailing-newlines",
     "bad-indentation", "mixed-line-endings", "unnecessary-semicolon", "multiple-statements",
     "superfluous-parens", "wrong-import-order", "ungrouped-imports", "multiple-imports",
     "invalid-name", "consider-using-f-string", "unexpected-line-ending-format"}
)  # fmt: skip
_TYPE_WEIGHT = {"error": 5, "fatal": 0, "warning": 1, "refactor": 1, "convention": 1}


def substantive_score(score: float, types: Any, messages: list[PylintMessage]) -> float | None:
    """pylint's score without formatting-only messages (None when it cannot be derived).

    pylint's score is ``10 - 10 * (5 error + warning + refactor + convention) / statements``;
    the statement count is recovered from the score and the message type counts.
    """
    if not isinstance(types, dict) or not 0 <= score < 10 or len(messages) >= MAX_PYLINT_MESSAGES:
        return None
    penalty = sum(_TYPE_WEIGHT.get(str(k), 0) * v for k, v in types.items() if isinstance(v, int))
    if penalty <= 0:
        return None
    statements = 10 * penalty / (10 - score)
    formatting = sum(1 for m in messages if m.symbol in FORMATTING_SYMBOLS)
    return max(0.0, 10 - 10 * (penalty - formatting) / statements)


def pylint_check(
    score: float,
    messages: list[PylintMessage],
    root: Path,
    exports: dict[str, NotebookExport],
    substantive: float | None = None,
) -> Check:
    """``code_quality.pylint_score`` with the most frequent message kinds as evidence.

    Passes on the substantive score (formatting-only messages left out) when it is known.
    """
    counts = Counter(m.symbol for m in messages)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_SYMBOLS]
    evidence = [Evidence(metric={"pylint_score": round(score, 2), "messages": len(messages)})]
    for symbol, count in top:
        (path, cell, line), first = min(
            ((locate(m, root, exports), m) for m in messages if m.symbol == symbol),
            key=lambda item: (
                item[0][0] is None,
                item[0][0] or "",
                -1 if item[0][1] is None else item[0][1],
                item[0][2] or 0,
                item[1].path,
                item[1].line or 0,
            ),
        )
        evidence.append(
            Evidence(
                path=path,
                cell=cell,
                line=line,
                excerpt=clip(first.message, 200),
                metric={"count": count},
                note=symbol if path else f"{symbol} (in {clip(first.path, 100)}:{first.line})",
            )
        )
    kinds = ", ".join(f"{symbol} ×{count}" for symbol, count in top)
    sentence = f"pylint scores the code {score:.2f}/10"
    judged = score
    if substantive is not None and round(substantive, 2) != round(score, 2):
        judged = substantive
        sentence += f", {substantive:.2f} without formatting-only messages"
        evidence[0].metric["substantive_score"] = round(substantive, 2)  # type: ignore[index]
    sentence += f" (at least {MIN_PYLINT_SCORE:g} expected)"

    sentence += f"; most frequent: {kinds}." if kinds else "; no messages."
    return Check(
        id="code_quality.pylint_score",
        passed=judged >= MIN_PYLINT_SCORE,
        weight=2.0,
        sentence=sentence,
        evidence=evidence,
    )


def lint_configs(root: Path, integrity: dict[str, Any]) -> list[str]:
    """Candidate pylint configuration files at the root (pylintrc, .pylintrc, setup.cfg, ...).

    Reported in ``details`` only: the lint stage passes its own ``--rcfile``, so these are
    never read; an interviewer may still want to know the candidate tuned pylint.
    """
    found: set[str] = set()
    for name in ("pylintrc", ".pylintrc"):
        if snapshot_path(name, root):
            found.add(name)
    for name, marker in (
        ("setup.cfg", "[pylint"),
        ("pyproject.toml", "[tool.pylint"),
        ("tox.ini", "[pylint"),
    ):
        text = read_text_capped(root / name, MAX_SCAN_BYTES) if snapshot_path(name, root) else None
        if text is not None and marker in text.lower():
            found.add(name)
    for item in integrity.get("pylintrc") or []:
        rel = snapshot_path(item, root) if isinstance(item, str) else None
        if rel:
            found.add(rel)
    return sorted(found)


# --------------------------------------------------------------------------- functions, nesting


_COMPOUND = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.If,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.TryStar,
    ast.Match,
)


def count_statements(body: list[ast.stmt]) -> int:
    """Statements in ``body``, recursively; a nested def or class counts as one."""
    total = 0
    for node in body:
        total += 1
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            total += count_statements(getattr(node, field, []) or [])
        for handler in getattr(node, "handlers", []) or []:
            total += count_statements(handler.body)
        for case in getattr(node, "cases", []) or []:
            total += count_statements(case.body)
    return total


@functools.lru_cache(maxsize=8)
def source_lines(code: str) -> tuple[str, ...]:
    """``code`` split into lines (cached: findings in one unit share one split)."""
    return tuple(code.split("\n"))


def code_lines(unit: CodeUnit, node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Non-blank, non-comment lines of a function, without its docstring."""
    lines = source_lines(unit.code)
    start, end = node.lineno, node.end_lineno or node.lineno
    skip: set[int] = set()
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        skip = set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return sum(
        1
        for number in range(start, min(end, len(lines)) + 1)
        if number not in skip
        and lines[number - 1].strip()
        and not lines[number - 1].strip().startswith("#")
    )


@dataclass(frozen=True)
class Finding:
    """A location in the code with a short description."""

    path: str
    cell: int | None
    line: int
    note: str
    excerpt: str

    def evidence(self, reproduced: bool = True) -> Evidence:
        """This finding as :class:`Evidence`."""
        return Evidence(
            path=self.path,
            cell=self.cell,
            line=self.line,
            excerpt=self.excerpt,
            note=self.note,
            reproduced=reproduced,
        )


def _line(unit: CodeUnit, number: int) -> str:
    lines = source_lines(unit.code)
    return clip(lines[number - 1].strip(), 200) if 0 < number <= len(lines) else ""


def long_functions(unit: CodeUnit) -> list[Finding]:
    """Functions with more than 50 statements or 50 code lines."""
    if unit.tree is None:
        return []
    found = []
    for node in unit.nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            statements = count_statements(node.body)
            lines = code_lines(unit, node)
            if statements > MAX_FUNCTION_STATEMENTS or lines > MAX_FUNCTION_LINES:
                found.append(
                    Finding(
                        unit.path,
                        unit.cell,
                        node.lineno,
                        f"{node.name}: {statements} statements, {lines} lines",
                        _line(unit, node.lineno),
                    )
                )
    return sorted(found, key=lambda f: f.line)


def _children_blocks(node: ast.stmt) -> Iterator[tuple[list[ast.stmt], bool]]:
    """``(block, deeper)`` for each statement list inside a compound statement."""
    if isinstance(node, ast.If):
        yield node.body, True
        if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
            yield node.orelse, False  # elif: same level as the if
        else:
            yield node.orelse, True
        return
    for field in ("body", "orelse", "finalbody"):
        yield getattr(node, field, []) or [], True
    for handler in getattr(node, "handlers", []) or []:
        yield handler.body, True
    for case in getattr(node, "cases", []) or []:
        yield case.body, True


def deep_nesting(unit: CodeUnit) -> list[Finding]:
    """The first statement nested deeper than 4 blocks, per function (or module level)."""
    if unit.tree is None:
        return []
    found: list[Finding] = []

    def scope(body: list[ast.stmt], name: str) -> None:
        deepest: list[tuple[int, int]] = []  # (depth, line) of the first too-deep block

        def visit(block: list[ast.stmt], depth: int) -> None:
            for node in block:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    scope(node.body, node.name)
                    continue
                if isinstance(node, _COMPOUND):
                    level = depth + 1
                    if level > MAX_NESTING and not deepest:
                        deepest.append((level, node.lineno))
                    for child, deeper in _children_blocks(node):
                        visit(child, level if deeper else depth)

        visit(body, 0)
        if deepest:
            _, line = deepest[0]
            found.append(
                Finding(
                    unit.path,
                    unit.cell,
                    line,
                    f"more than {MAX_NESTING} nested blocks in {name}",
                    _line(unit, line),
                )
            )

    scope(unit.tree.body, "module level" if unit.origin == "py" else "the cell")
    return sorted(found, key=lambda f: f.line)


def _findings_check(check_id: str, findings: list[Finding], ok: str, bad: str) -> Check:
    return Check(
        id=check_id,
        passed=not findings,
        sentence=ok if not findings else bad,
        evidence=[f.evidence() for f in findings[:MAX_EVIDENCE]],
    )


# --------------------------------------------------------------------------- reusable code


def reusable_check(source: SubmissionSource) -> tuple[Check, list[RedFlag]]:
    """The reusable-code check, with ``notebook_only`` and ``single_module`` red flags.

    Reusable code is at least two functions or classes with real bodies, in non-test modules,
    that the code uses: two read_csv wrappers beside a notebook are not structure. Notebook-only
    work is judged on its own structure (sklearn pipelines, functions reused across cells).
    """
    real = signals.reusable_definitions(source)
    modules = sorted({u.path for u, _ in real})
    notebooks = sorted({u.path for u in source.code_units if u.origin == "notebook"})
    if len(real) >= MIN_REUSABLE:
        names = ", ".join(f"{u.path}:{n.name}" for u, n in real[:5])  # type: ignore[attr-defined]
        check = Check(
            id="code_quality.reusable_code",
            passed=True,
            weight=2.0,
            sentence=f"Reusable code: {len(real)} functions or classes with real "
            f"bodies that the code uses, in {plural(len(modules), '.py module')} ({names}).",
            evidence=[Evidence(path=u.path, line=n.lineno, note=n.name)  # type: ignore[attr-defined]
                      for u, n in real[:MAX_EVIDENCE]],
        )  # fmt: skip
        flags = []
        if len(modules) == 1:
            flags.append(RedFlag(
                id="code_quality.single_module", severity="low",
                sentence=f"All reusable code is in one module ({modules[0]}): structured, "
                "but not split into modules.",
                evidence=[Evidence(path=modules[0])],
            ))  # fmt: skip
        return check, flags
    trivial = sorted({u.path for u in signals.module_units(source) if is_module_with_defs(u)})
    detail = (
        f"the functions in {', '.join(trivial[:3])} are thin wrappers or unused"
        if trivial
        else "no .py module defines a function or class"
    )
    if not notebooks:
        return Check(
            id="code_quality.reusable_code",
            passed=False,
            weight=2.0,
            sentence=f"No reusable code: {detail}; the code is mostly top-level statements.",
            evidence=[Evidence(path=p) for p in trivial[:MAX_EVIDENCE]],
        ), []
    structure = signals.notebook_structure(source)
    evidence = [Evidence(path=p, note="notebook") for p in notebooks[:MAX_EVIDENCE]]
    if structure:
        what = "; ".join(sorted({s.note for s in structure})[:4])
        sentence = (f"No importable module holds reusable code ({detail}); the notebooks are "
                    f"structured inside ({what}).")  # fmt: skip
        severity = "low"
        evidence = [Evidence(path=s.path, cell=s.cell, line=s.line, excerpt=s.excerpt or None,
                             note=s.note) for s in structure[:MAX_EVIDENCE]]  # fmt: skip
    else:
        sentence = f"No importable module holds reusable code ({detail}), and the notebooks " \
                   "neither build sklearn pipelines nor reuse functions across cells."
        severity = "medium"
    check = Check(id="code_quality.reusable_code", passed=False, weight=2.0, sentence=sentence,
                  evidence=evidence)  # fmt: skip
    flag = RedFlag(id="code_quality.notebook_only", severity=severity,
                   sentence=f"The code lives in notebooks with nothing reusable: {sentence}",
                   evidence=evidence)  # fmt: skip
    return check, [flag]


def is_module_with_defs(unit: CodeUnit) -> bool:
    """A non-test ``.py`` file defining at least one top-level function or class."""
    if unit.origin != "py" or unit.tree is None or _TEST_FILE.search(unit.path):
        return False
    if PurePosixPath(unit.path).name == "setup.py" or signals.export_leftovers(unit):
        return False
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and not signals.is_stub(n)
        for n in unit.tree.body
    )


# --------------------------------------------------------------------------- secrets


@dataclass(frozen=True)
class SecretPattern:
    """A kind of secret: a regex whose ``secret`` group (or whole match) is masked."""

    kind: str
    regex: re.Pattern[str]
    keep_prefix: int = 0  # characters of the match kept visible (a public, fixed prefix)


SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern("AWS access key id", re.compile(r"\b(?P<secret>(?:AKIA|ASIA)[0-9A-Z]{16})\b"), 4),
    SecretPattern("GitHub token", re.compile(r"\b(?P<secret>gh[pousr]_[A-Za-z0-9]{30,})\b"), 4),
    SecretPattern("GitHub token", re.compile(r"\b(?P<secret>github_pat_[A-Za-z0-9_]{30,})"), 11),
    SecretPattern("Slack token", re.compile(r"\b(?P<secret>xox[abposr]-[A-Za-z0-9-]{10,})"), 5),
    SecretPattern("Google API key", re.compile(r"\b(?P<secret>AIza[0-9A-Za-z_\-]{35})"), 4),
    SecretPattern(
        "OpenAI-style key", re.compile(r"(?<![\w-])(?P<secret>sk-[A-Za-z0-9_\-]{20,})"), 3
    ),
    SecretPattern("Hugging Face token", re.compile(r"\b(?P<secret>hf_[A-Za-z0-9]{30,})\b"), 3),
    SecretPattern("Stripe key", re.compile(r"\b(?P<secret>[sr]k_live_[A-Za-z0-9]{20,})"), 8),
    SecretPattern(
        "private key", re.compile(r"(?P<secret>-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----)"), 0
    ),
    SecretPattern(
        "credentials in a URL",
        re.compile(
            r"(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]{0,30}://(?P<user>[^\s:/@'\"]{1,200}):"
            r"(?P<secret>[^\s@'\"/]{3,200})@"
        ),
    ),
    SecretPattern(
        "password assignment",
        re.compile(
            r"(?i)(?:password|passwd)['\"]?\s*[:=]\s*[rbuf]?(['\"])"
            r"(?P<secret>[^'\"\s]{6,})\1"
        ),
    ),
    SecretPattern(
        "key or token assignment",
        re.compile(
            r"(?i)(?:api[_\-]?key|apikey|secret|secret[_\-]?key|access[_\-]?key|"
            r"auth[_\-]?token|access[_\-]?token|token|client[_\-]?secret)['\"]?\s*[:=]\s*"
            r"[rbuf]?(['\"])(?P<secret>[A-Za-z0-9_\-./+=]{16,})\1"
        ),
    ),
)
_PLACEHOLDER = re.compile(
    r"(?i)(your|xxx|\*\*\*|example|changeme|change_me|placeholder|dummy|redacted|replace|"
    r"insert|todo|fake|sample|test|<|>|\$\{|\{\{|\.\.\.)"
)
#: Well-known default passwords of local service containers (not a leaked credential).
_SERVICE_DEFAULTS = frozenset(
    {"password", "postgres", "admin", "root", "airflow", "guest", "mysql", "minio", "minioadmin",
     "redis", "mongo", "secret", "pass", "user"}
)  # fmt: skip


def _looks_real(kind: str, value: str, user: str = "") -> bool:
    if _PLACEHOLDER.search(value) or value.lower() in _SERVICE_DEFAULTS or value == user:
        return False
    if kind == "key or token assignment":
        return bool(re.search(r"\d", value)) and bool(re.search(r"[A-Za-z]", value))
    return True


def secret_spans(line: str) -> list[tuple[int, int, str, int]]:
    """``(start, end, kind, visible prefix)`` of each secret in ``line``, sorted, merged."""
    spans: list[tuple[int, int, str, int]] = []
    for pattern in SECRET_PATTERNS:
        for match in pattern.regex.finditer(line):
            value = match.group("secret")
            user = match.group("user") if "user" in pattern.regex.groupindex else ""
            if _looks_real(pattern.kind, value, user or ""):
                spans.append(
                    (match.start("secret"), match.end("secret"), pattern.kind, pattern.keep_prefix)
                )
    spans.sort()
    merged: list[tuple[int, int, str, int]] = []
    for span in spans:
        if merged and span[0] < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], span[1]), last[2], min(last[3], span[3]))
        else:
            merged.append(span)
    return merged


def mask_line(line: str, spans: list[tuple[int, int, str, int]]) -> str:
    """``line`` with every span replaced by its public prefix and ``[masked N chars]``."""
    out, cursor = [], 0
    for start, end, _, keep in spans:
        out.append(line[cursor:start])
        keep = keep if end - start > keep else 0
        out.append(f"{line[start : start + keep]}[masked {end - start - keep} chars]")
        cursor = end
    out.append(line[cursor:])
    return "".join(out)


def _window(text: str, position: int) -> str:
    start = max(0, position - EXCERPT_WINDOW // 2)
    piece = text[start : start + EXCERPT_WINDOW].strip()
    return ("…" if start else "") + piece


@dataclass(frozen=True)
class TextBlob:
    """A piece of submission text to scan: a file, a code cell or a cell output."""

    path: str
    cell: int | None
    text: str
    reproduced: bool = True
    is_output: bool = False


def scan_blobs(source: SubmissionSource, root: Path) -> list[TextBlob]:
    """Code units, notebook outputs, text files and config files (including dotfiles)."""
    blobs = [TextBlob(u.path, u.cell, u.code) for u in source.code_units]
    blobs += [TextBlob(o.path, o.cell, o.text, o.reproduced, True) for o in source.output_units]
    blobs += [TextBlob(m.path, m.cell, m.text) for m in source.markdown_units]
    for rel in _config_files(root):
        text = read_text_capped(root / rel, MAX_SCAN_BYTES)
        if text is not None:
            blobs.append(TextBlob(rel, None, text))
    return blobs


def _config_files(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        current = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SKIPPED_DIRS and not (current / d / "pyvenv.cfg").exists()
        )
        for name in sorted(filenames):
            suffix = PurePosixPath(name).suffix.lower()
            if name.lower() in CONFIG_NAMES or suffix in CONFIG_SUFFIXES or name.startswith(".env"):
                full = current / name
                try:
                    info = os.lstat(full)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_SCAN_BYTES:
                    found.append(full.relative_to(root).as_posix())
            if len(found) >= MAX_SCAN_FILES:
                return sorted(found)
    return sorted(found)


def find_secrets(blobs: list[TextBlob]) -> list[tuple[Evidence, str]]:
    """Evidence (secret masked) and kind for every line holding a secret, by location."""
    found: list[tuple[Evidence, str]] = []
    for blob in blobs:
        for number, line in enumerate(blob.text.split("\n"), start=1):
            if len(line) > 100_000:
                line = line[:100_000]
            spans = secret_spans(line)
            if not spans:
                continue
            masked = mask_line(line, spans)
            first = masked.find("[masked")
            found.append(
                (
                    Evidence(
                        path=blob.path,
                        cell=blob.cell,
                        line=None if blob.is_output else number,
                        excerpt=_window(masked, first),
                        reproduced=blob.reproduced,
                        note=spans[0][2] + (" (in a cell output)" if blob.is_output else ""),
                    ),
                    spans[0][2],
                )
            )
    return sorted(found, key=lambda item: _evidence_key(item[0]))


def _evidence_key(evidence: Evidence) -> tuple[str, int, int]:
    cell = -1 if evidence.cell is None else evidence.cell
    return (evidence.path or "", cell, evidence.line or 0)


# --------------------------------------------------------------------------- absolute paths


ABSOLUTE_PATH = re.compile(
    r"(?<![\w.~])(?P<head>/Users/|/home/|(?<![A-Za-z0-9])[A-Za-z]:[\\/]+(?:Users[\\/]+)?)"
    r"(?P<user>[^/\\\s'\"]+)?"
)
_USER_DIRS = re.compile(r"(?i)^(/Users/|/home/|[A-Za-z]:[\\/]+Users[\\/]+)$")


def mask_user(text: str) -> str:
    """Replace the account name after ``/Users/``, ``/home/`` or ``C:\\Users\\`` with <user>."""

    def repl(match: re.Match[str]) -> str:
        head, user = match.group("head"), match.group("user") or ""
        if user and _USER_DIRS.match(head):
            return head + "<user>"
        return head + user

    return ABSOLUTE_PATH.sub(repl, text)


def _is_machine_path(value: str) -> bool:
    for match in ABSOLUTE_PATH.finditer(value):
        head = match.group("head")
        if head in ("/Users/", "/home/"):
            if match.group("user") and match.end() < len(value):
                return True
        else:
            return True
    return False


def absolute_paths(unit: CodeUnit) -> list[Finding]:
    """String literals holding a path from the candidate's machine (first per line)."""
    found: dict[int, Finding] = {}
    if unit.tree is not None:
        lines = [
            node.lineno
            for node in unit.nodes
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _is_machine_path(node.value)
        ]
    else:
        lines = [
            i
            for i, text in enumerate(source_lines(unit.code), start=1)
            if re.search(r"['\"]", text) and _is_machine_path(text)
        ]
    for number in sorted(set(lines)):
        found[number] = Finding(
            unit.path, unit.cell, number, "absolute path", mask_user(_line(unit, number))
        )
    return [found[k] for k in sorted(found)]


# --------------------------------------------------------------------------- grader


def structure_checks(
    source: SubmissionSource, units: list[CodeUnit]
) -> tuple[list[Check], list[RedFlag], dict[str, int]]:
    """Function length, nesting and reusable code (with ``code_quality.notebook_only``)."""
    long_found = [f for u in units for f in long_functions(u)]
    deep_found = [f for u in units for f in deep_nesting(u)]
    checks = [
        _findings_check(
            "code_quality.function_length",
            long_found,
            f"No function is longer than {MAX_FUNCTION_STATEMENTS} statements or lines.",
            f"{plural(len(long_found), 'function')} longer than {MAX_FUNCTION_STATEMENTS} "
            "statements or lines.",
        ),
        _findings_check(
            "code_quality.nesting",
            deep_found,
            f"No code is nested deeper than {MAX_NESTING} blocks.",
            f"Blocks nested deeper than {MAX_NESTING} levels in {len(deep_found)} "
            + ("function or cell." if len(deep_found) == 1 else "functions or cells."),
        ),
    ]
    reusable, flags = reusable_check(source)
    checks.append(reusable)
    counts = {"long_functions": len(long_found), "deeply_nested": len(deep_found)}
    return checks, flags, counts


def secret_checks(source: SubmissionSource, root: Path) -> tuple[Check, RedFlag | None, int]:
    """``code_quality.no_secrets`` and the ``code_quality.secrets`` red flag (values masked)."""
    secrets = find_secrets(scan_blobs(source, root))
    if not secrets:
        check = Check(
            id="code_quality.no_secrets",
            passed=True,
            sentence="No API keys, tokens or passwords are committed.",
        )
        return check, None, 0
    kinds = ", ".join(sorted({kind for _, kind in secrets}))
    evidence = [e for e, _ in secrets[:MAX_EVIDENCE]]
    places = ", ".join(sorted({e.path for e, _ in secrets if e.path})[:5])
    check = Check(
        id="code_quality.no_secrets",
        passed=False,
        sentence=f"{plural(len(secrets), 'line')} with what look like credentials ({kinds}); "
        "values are masked here.",
        evidence=evidence,
    )
    flag = RedFlag(
        id="code_quality.secrets",
        severity="high",
        sentence=f"Credentials appear to be committed ({kinds}) in {places}.",
        evidence=evidence,
    )
    return check, flag, len(secrets)


def path_checks(units: list[CodeUnit]) -> tuple[Check, RedFlag | None, int]:
    """``code_quality.no_absolute_paths`` and the ``code_quality.absolute_paths`` red flag."""
    paths = [f for u in units for f in absolute_paths(u)]
    check = _findings_check(
        "code_quality.no_absolute_paths",
        paths,
        "No absolute paths from the candidate's machine in the code.",
        f"{plural(len(paths), 'line')} with absolute paths from the candidate's machine; "
        "the code will not run elsewhere.",
    )
    if not paths:
        return check, None, 0
    flag = RedFlag(
        id="code_quality.absolute_paths",
        severity="medium",
        sentence=f"The code reads or writes absolute paths from the candidate's machine "
        f"(/Users/..., /home/..., C:\\...) on {plural(len(paths), 'line')}.",
        evidence=[f.evidence() for f in paths[:MAX_EVIDENCE]],
    )
    return check, flag, len(paths)


class CodeQualityGrader:
    """Judges the code itself: lint, structure, documentation, tooling and hygiene."""

    name = "code_quality"
    version = "5"
    needs_static_lint = True  # the pipeline runs it after the host-side lint (static mode)

    def grade(self, context: GraderContext) -> GraderResult:
        """Grade the code statically, plus pylint's report (sandbox or host-side static lint)."""
        source = source_for(context)
        root = context.snapshot_root
        units = [u for u in source.code_units if u.code.strip()]
        if not units:
            return GraderResult.not_applicable_result(
                self.name, self.version, "No Python files or notebook code cells to judge."
            )
        checks: list[Check] = []
        details: dict[str, Any] = {
            "candidate_lint_config": lint_configs(root, _integrity(context)),  # never used
        }
        lint = self._pylint(context, root, checks, details)
        structure, red_flags, counts = structure_checks(source, units)
        checks.extend(structure)
        details.update(counts)
        positive, hygiene, flags, more = practice_checks(context, source, units, lint)
        checks.extend(positive)
        red_flags.extend(flags)
        details.update(more)
        for check, flag, count, key in (
            (*secret_checks(source, root), "secrets"),
            (*path_checks(units), "absolute_paths"),
        ):
            if not check.passed:
                hygiene.append(check)
            if flag is not None:
                red_flags.append(_path_severity(flag, units) if key == "absolute_paths" else flag)
            details[key] = count
        # Hygiene is a penalty, not an achievement: a clean result adds no passed check.
        checks.extend(c for c in hygiene if not c.passed)
        polish = unpolished_flag(checks)
        if polish is not None:
            red_flags.append(polish)
        passed = sum(1 for c in checks if c.passed)
        reason = f"{passed} of {len(checks)} code quality checks passed"
        floor, why = structure_floor(source, red_flags)
        result = GraderResult.from_checks(
            self.name, self.version, checks, red_flags, details=details, reason=reason
        )
        if result.score is not None and result.score < floor:
            result.score = floor
            reason += f"; {why}"
            result.details["score_floor"] = floor
        result.reason = reason + (f"; {lint.reason}." if lint.reason else ".")
        return result

    @staticmethod
    def _pylint(
        context: GraderContext,
        root: Path,
        checks: list[Check],
        details: dict[str, Any],
    ) -> LintReport:
        """Append ``code_quality.pylint_score`` when there is a report; say why not otherwise."""
        artifacts = context.artifacts
        static_dir = getattr(context, "static_lint_dir", None)
        if artifacts is not None:
            report_path = artifacts.pylint_json
        elif static_dir is not None:
            report_path = Path(static_dir) / "pylint.json"
        else:
            return LintReport(reason="pylint not run (graded with --no-run)")
        document = read_json_capped(report_path) if report_path and report_path.is_file() else None
        score, messages = parse_pylint(document)
        if score is None:
            if artifacts is None:
                record = read_json_capped(Path(static_dir) / "lint.json")
                why = (
                    record.get("reason") or record.get("status")
                    if isinstance(record, dict)
                    else None
                )
                return LintReport(
                    reason=f"pylint gave no score in static mode ({why or 'no report'})"
                )
            stage = artifacts.stages.get("lint")
            if stage is None:
                return LintReport(reason="pylint did not run (the sandbox had no lint stage)")
            return LintReport(reason=f"no pylint score available (lint stage: {stage.verdict})")
        sources = report_path.parent / "lint_sources.json"
        exports = read_lint_sources(read_json_capped(sources)) if sources.is_file() else {}
        statistics = document.get("statistics") if isinstance(document, dict) else None
        types = statistics.get("messageTypeCount") if isinstance(statistics, dict) else None
        substantive = substantive_score(score, types, messages)
        checks.append(pylint_check(score, messages, root, exports, substantive))
        counts = Counter(m.symbol for m in messages)
        details["pylint_score"] = round(score, 2)
        details["pylint_mode"] = "sandbox" if artifacts is not None else "static (host)"
        details["pylint_top_symbols"] = dict(
            sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_SYMBOLS]
        )
        if isinstance(types, dict):
            details["pylint_message_types"] = {
                str(k)[:40]: v for k, v in sorted(types.items()) if isinstance(v, int)
            }
        reason = ""
        if artifacts is None:
            record = read_json_capped(Path(static_dir) / "lint.json")
            left = record.get("left_out") if isinstance(record, dict) else None
            if isinstance(left, dict) and (left.get("files") or left.get("notebooks")):
                reason = (
                    f"pylint linted a bounded set ({left.get('files', 0)} .py files and "
                    f"{left.get('notebooks', 0)} notebooks left out)"
                )
        located = [(m, locate(m, root, exports)) for m in messages]
        return LintReport(messages=located, reason=reason)


#: The checks the rubric's level 4 requires (each caps at 3 when it fails).
PRODUCTION_CHECKS = ("code_quality.type_hints", "code_quality.linters", "code_quality.ci",
                     "code_quality.packaging")  # fmt: skip
MAX_BLEMISHES = 1  # "nearly no smells"


def unpolished_flag(checks: list[Check]) -> RedFlag | None:
    """``code_quality.unpolished`` when production tooling surrounds code with 2+ failed checks.

    The rubric's level 4 is production-grade tooling *and* nearly no smells. Raised only when
    every tooling check passed (so it binds only where level 4 is otherwise in reach).
    """
    passed = {c.id for c in checks if c.passed}
    if not all(check in passed for check in PRODUCTION_CHECKS):
        return None
    failed = [c for c in checks if not c.passed]
    if len(failed) <= MAX_BLEMISHES:
        return None
    names = ", ".join(c.id.removeprefix("code_quality.").replace("_", " ") for c in failed)
    return RedFlag(
        id="code_quality.unpolished",
        severity="low",
        sentence=f"Production tooling, but {len(failed)} code checks failed ({names}): not "
        "yet production-grade.",
        evidence=[e for c in failed for e in c.evidence[:1]][:MAX_EVIDENCE],
    )


def structure_floor(source: SubmissionSource, red_flags: list[RedFlag]) -> tuple[float, str]:
    """The least score the code's structure earns, whatever tooling it lacks.

    Code with reusable functions or classes (real bodies, used) in a ``.py`` module, or
    documented functions in notebooks, and neither broken nor throwaway, is "readable, some
    structure" (0.4, level 2: the rubric names these two). Any other code that parses is at
    least a works-ish script (0.2, level 1): notebooks held together only by sklearn pipelines
    or helpers reused across cells are not throwaway, but earn level 2 by their checks alone
    (reviewers put such notebooks, when most checks fail, at level 1). Caps still apply on top.
    """
    raised = {flag.id for flag in red_flags}
    code = [u for u in source.code_units if not signals.is_test_path(u.path)]
    real = [
        (u, n)
        for u, n in signals.real_definitions(code)
        if not (u.origin == "py" and signals.export_leftovers(u))
    ]
    in_modules = signals.reusable_definitions(source)
    documented = sum(1 for _, n in real if ast.get_docstring(n))  # type: ignore[arg-type]
    structured = bool(in_modules) or signals.share(documented, len(real)) >= 0.5
    if structured and not raised & {"code_quality.broken", "code_quality.throwaway"}:
        return 0.4, "score raised to 0.4: functions or classes give the code some structure"
    if any(u.tree is not None for u in code):
        return 0.2, "score raised to 0.2: the code parses"
    return 0.0, ""


def _path_severity(flag: RedFlag, units: list[CodeUnit]) -> RedFlag:
    """Machine paths in notebook-centred work are a throwaway script's (high), else medium."""
    if notebook_share(units) > 0.5:
        return flag.model_copy(
            update={
                "severity": "high",
                "sentence": flag.sentence + " Most of the code is in notebooks that read "
                "from the author's machine.",
            }
        )
    return flag


def _integrity(context: GraderContext) -> dict[str, Any]:
    artifacts = context.artifacts
    if artifacts is None or artifacts.environment_json is None:
        return {}
    document = read_json_capped(artifacts.environment_json)
    integrity = document.get("integrity") if isinstance(document, dict) else None
    return integrity if isinstance(integrity, dict) else {}
