"""Static signals behind the code_quality grader: hygiene smells and engineering tooling.

Everything here reads the cached source index (:mod:`graders.source`) and the snapshot's file
list; nothing is executed. Each finding keeps a location (file, cell, line) for evidence.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from graders.artifacts import read_text_capped
from graders.base import clip
from graders.source import CodeUnit, SubmissionSource

TEST_PATH = re.compile(r"(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.py$|conftest\.py$)")
EXPORT_MARKER = re.compile(r"^# In\[\s*\d*\s*\]:\s*$", re.MULTILINE)
SHELL_LINE = re.compile(r"^\s*(!|%|pip3? (install|freeze|list)|conda (install|env)|apt(-get)? )")
DUP_WINDOW = 6
MIN_NORMALISED_CHARS = 6
MAX_TEXT_BYTES = 200_000
_CODE_HINT = re.compile(r"[=()\[\]]|^(import|from|return|for|if|while|def|class|print|with)\b")
_PROSE_END = re.compile(r"[.!?]$")


@dataclass(frozen=True)
class Spot:
    """A location in the submission with a short description."""

    path: str
    cell: int | None
    line: int | None
    note: str
    excerpt: str = ""


def is_test_path(path: str) -> bool:
    """Test modules and anything under a tests/ folder."""
    return bool(TEST_PATH.search(path))


def module_units(source: SubmissionSource) -> list[CodeUnit]:
    """Non-test ``.py`` files (setup.py excluded)."""
    return [
        u
        for u in source.code_units
        if u.origin == "py"
        and not is_test_path(u.path)
        and PurePosixPath(u.path).name != "setup.py"
    ]


def _line(unit: CodeUnit, number: int) -> str:
    lines = unit.code.split("\n")
    return clip(lines[number - 1].strip(), 200) if 0 < number <= len(lines) else ""


# --------------------------------------------------------------------------- definitions


def definitions(unit: CodeUnit) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """Every function, method and class of a unit (dunder methods left out)."""
    if unit.tree is None:
        return []
    return [
        n
        for n in unit.nodes
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and not (n.name.startswith("__") and n.name.endswith("__"))
    ]


def is_stub(node: ast.AST) -> bool:
    """A function whose body is only a docstring, ``pass``, ``...`` or ``raise NotImplemented``."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    decorators = {getattr(d, "attr", getattr(d, "id", "")) for d in node.decorator_list}
    if decorators & {"abstractmethod", "overload"}:
        return False
    for stmt in node.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, ast.Raise) and "NotImplemented" in ast.dump(stmt):
            continue
        return False
    return True


def real_definitions(units: Iterable[CodeUnit]) -> list[tuple[CodeUnit, ast.AST]]:
    """``(unit, node)`` of every non-stub function or class."""
    return [(u, n) for u in units for n in definitions(u) if not is_stub(n)]


def share(found: int, total: int) -> float:
    """``found / total`` (0 when total is 0)."""
    return found / total if total else 0.0


def documented(units: Iterable[CodeUnit]) -> tuple[int, int, list[Spot]]:
    """Functions and classes with a docstring, how many there are, undocumented examples."""
    total, done, missing = 0, 0, []
    for unit, node in real_definitions(units):
        total += 1
        if ast.get_docstring(node):  # type: ignore[arg-type]
            done += 1
        elif len(missing) < 5:
            missing.append(Spot(unit.path, unit.cell, node.lineno, f"{node.name}: no docstring"))
    return done, total, missing


def annotated(units: Iterable[CodeUnit]) -> tuple[int, int, list[Spot]]:
    """Functions with an annotated signature (any argument or the return), total, examples."""
    total, done, found = 0, 0, []
    for unit, node in real_definitions(units):
        if isinstance(node, ast.ClassDef):
            continue
        total += 1
        args = node.args  # type: ignore[attr-defined]
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        if node.returns is not None or any(a.annotation is not None for a in every):  # type: ignore[attr-defined]
            done += 1
            if len(found) < 3:
                found.append(
                    Spot(unit.path, unit.cell, node.lineno, "typed", _line(unit, node.lineno))
                )
    return done, total, found


# --------------------------------------------------------------------------- hygiene


def _looks_like_code(text: str) -> bool:
    text = text.strip()
    if len(text) < 4 or not _CODE_HINT.search(text) or _PROSE_END.search(text):
        return False
    candidate = text + (" pass" if text.endswith(":") else "")
    try:
        ast.parse(candidate)
    except (SyntaxError, ValueError):
        return False
    return True


def commented_code(unit: CodeUnit) -> list[tuple[Spot, int]]:
    """Blocks of consecutive comment lines that parse as code: ``(first line, code lines)``."""
    blocks: list[tuple[Spot, int]] = []
    start, count = 0, 0
    lines = unit.code.split("\n")
    for number, raw in enumerate([*lines, ""], start=1):
        stripped = raw.strip()
        if stripped.startswith("#") and not EXPORT_MARKER.match(stripped):
            if _looks_like_code(stripped.lstrip("#")):
                if count == 0:
                    start = number
                count += 1
            continue
        if count >= 2:
            blocks.append((Spot(unit.path, unit.cell, start, f"{count} commented-out code lines",
                                _line(unit, start)), count))  # fmt: skip
        count = 0
    return blocks


def export_leftovers(unit: CodeUnit) -> Spot | None:
    """A ``.py`` file that is a raw notebook export: ``# In[ ]:`` markers, get_ipython(), shell."""
    if unit.origin != "py":
        return None
    marker = EXPORT_MARKER.search(unit.code)
    if marker:
        line = unit.code.count("\n", 0, marker.start()) + 1
        return Spot(unit.path, None, line, "notebook export marker", _line(unit, line))
    for number, text in enumerate(unit.code.split("\n"), start=1):
        if "get_ipython()" in text or (unit.tree is None and SHELL_LINE.match(text)):
            return Spot(unit.path, None, number, "IPython or shell line in a .py file",
                        _line(unit, number))  # fmt: skip
    return None


def syntax_error(unit: CodeUnit) -> Spot | None:
    """A ``.py`` file that does not parse."""
    if unit.origin != "py" or unit.tree is not None or not unit.code.strip():
        return None
    match = re.search(r"line (\d+)", unit.parse_error or "")
    line = int(match.group(1)) if match else None
    excerpt = _line(unit, line) if line else ""
    return Spot(unit.path, None, line, clip(unit.parse_error or "does not parse", 120), excerpt)


def _is_empty_module(unit: CodeUnit) -> bool:
    if unit.tree is None or PurePosixPath(unit.path).name == "__init__.py":
        return False
    for stmt in unit.tree.body:
        if isinstance(stmt, (ast.Pass, ast.Import, ast.ImportFrom)):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        return False
    return True


def scaffolding(units: Iterable[CodeUnit]) -> list[Spot]:
    """Empty or docstring-only modules and ``pass``-only functions."""
    found: list[Spot] = []
    for unit in units:
        if _is_empty_module(unit):
            found.append(Spot(unit.path, None, 1, "empty or docstring-only module"))
            continue
        for node in definitions(unit):
            if is_stub(node):
                found.append(Spot(unit.path, unit.cell, node.lineno, f"{node.name}: empty body",
                                  _line(unit, node.lineno)))  # fmt: skip
    return found


def _imported_names(source: SubmissionSource) -> set[str]:
    names: set[str] = set()
    for unit in source.code_units:
        if unit.tree is None:
            continue
        for node in unit.nodes:
            if isinstance(node, ast.Import):
                names.update(a.name.rsplit(".", 1)[-1] for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.module:
                    names.add(node.module.rsplit(".", 1)[-1])
                names.update(a.name for a in node.names)
    return names


def library_prints(source: SubmissionSource, modules: list[CodeUnit]) -> list[Spot]:
    """``print`` calls inside functions of modules that other code imports."""
    imported = _imported_names(source)
    found: list[Spot] = []
    for unit in modules:
        if unit.tree is None or PurePosixPath(unit.path).stem not in imported:
            continue
        for func in definitions(unit):
            if isinstance(func, ast.ClassDef):
                continue
            for node in ast.walk(func):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "print"
                ):
                    found.append(Spot(unit.path, None, node.lineno, "print in a library module",
                                      _line(unit, node.lineno)))  # fmt: skip
    return sorted(set(found), key=lambda s: (s.path, s.line or 0))


def _normalised(line: str) -> str:
    text = (
        line.split("#", 1)[0].strip()
        if "#" in line and not ("'" in line or '"' in line)
        else line.strip()
    )
    if text.startswith(("#", "import ", "from ", "@")) or len(text) < MIN_NORMALISED_CHARS:
        return ""
    return re.sub(r"\s+", "", text)


def duplication(units: Iterable[CodeUnit]) -> tuple[int, int, list[Spot]]:
    """Lines in repeated blocks of 6+ normalised lines (across files and cells), code lines, spots.

    Lines shorter than 6 characters, imports, decorators and comments are not counted; the first
    occurrence of a block is not counted as duplicated.
    """
    seen: dict[str, tuple[str, int | None, int]] = {}
    duplicated: set[tuple[str, int | None, int]] = set()
    spots: dict[tuple[str, str], Spot] = {}
    total = 0
    for unit in units:
        rows = [(n, _normalised(t)) for n, t in enumerate(unit.code.split("\n"), start=1)]
        rows = [(n, t) for n, t in rows if t]
        total += len(rows)
        for index in range(len(rows) - DUP_WINDOW + 1):
            window = rows[index : index + DUP_WINDOW]
            key = hashlib.sha1("\n".join(t for _, t in window).encode()).hexdigest()
            here = (unit.path, unit.cell, window[0][0])
            first = seen.setdefault(key, here)
            if first == here or (first[:2] == here[:2] and here[2] - first[2] < DUP_WINDOW):
                continue
            duplicated.update((unit.path, unit.cell, n) for n, _ in window)
            origin = f"{first[0]}" + (f" cell {first[1]}" if first[1] is not None else "")
            spots.setdefault(
                (unit.path, origin),
                Spot(unit.path, unit.cell, window[0][0], f"repeats {origin} line {first[2]}",
                     _line(unit, window[0][0])),
            )  # fmt: skip
    return (
        len(duplicated),
        total,
        sorted(spots.values(), key=lambda s: (s.path, s.cell or 0, s.line or 0)),
    )


# --------------------------------------------------------------------------- the file tree


JUNK_DIRS = ("__pycache__", ".ipynb_checkpoints", ".idea", "mlruns", "wandb", "catboost_info",
             "lightning_logs", ".pytest_cache", ".mypy_cache")  # fmt: skip
JUNK_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".DS_Store", "Thumbs.db")
CI_FILES = re.compile(
    r"^(\.github/workflows/[^/]+\.ya?ml|\.gitlab-ci\.ya?ml|\.circleci/config\.ya?ml|"
    r"azure-pipelines\.ya?ml|Jenkinsfile|\.travis\.ya?ml|bitbucket-pipelines\.ya?ml)$"
)
CI_PYTHON = re.compile(
    r"(?i)\b(pytest|python|pip install|ruff|flake8|mypy|poetry|uv (sync|run)|tox|make )"
)
LINT_FILES = frozenset({".pre-commit-config.yaml", ".flake8", "ruff.toml", ".ruff.toml", "mypy.ini",
                        ".mypy.ini", ".pylintrc", "pylintrc", ".isort.cfg"})  # fmt: skip
LINT_SECTIONS = re.compile(
    r"(?m)^\[(tool\.(ruff|black|mypy|isort|pylint|flake8)|flake8|mypy|isort|pylint)"
)
CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json", ".ini", ".cfg", ".conf")
NOT_CONFIG = re.compile(
    r"(^|/)(\.github/|\.gitlab|\.circleci|\.pre-commit|docker-compose|pyproject\.toml$|setup\.cfg$|"
    r"tox\.ini$|package(-lock)?\.json$|\.vscode/|.*\.ipynb$|mypy\.ini$|ruff\.toml$|pytest\.ini$)"
)
CONFIG_READERS = frozenset(
    {"yaml.safe_load", "yaml.load", "yaml.full_load", "tomllib.load", "tomli.load", "toml.load",
     "configparser.ConfigParser", "OmegaConf.load", "hydra.main", "json.load"}
)  # fmt: skip
CLI_MODULES = frozenset({"argparse", "click", "typer", "fire", "docopt", "hydra"})


def snapshot_files(root: Path, meta: dict[str, Any]) -> list[str]:
    """The snapshot's files (from intake's list, else one walk), posix relative paths."""
    files = meta.get("files") if isinstance(meta, dict) else None
    if isinstance(files, list) and files:
        return [f for f in files if isinstance(f, str)][:50_000]
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            found.append((Path(dirpath) / name).relative_to(root).as_posix())
            if len(found) >= 50_000:
                return found
    return found


def committed_junk(files: list[str], meta: dict[str, Any]) -> list[Spot]:
    """Caches, IDE folders, tracker runs and bytecode (including what intake left out).

    A spot's ``path`` is a file of the snapshot; what intake dropped has only a ``note``.
    """
    found: dict[str, Spot] = {}
    skipped = meta.get("skipped") if isinstance(meta, dict) else None
    dropped = [s for s in (skipped or []) if isinstance(s, str)]
    for path, kept in [*((f, True) for f in files), *((d, False) for d in dropped)]:
        parts = PurePosixPath(path.split(" (")[0].rstrip("/")).parts
        for index, part in enumerate(parts):
            if part in JUNK_DIRS or part.endswith(JUNK_SUFFIXES):
                top = "/".join(parts[: index + 1])
                note = f"committed {top}" + ("" if kept else " (left out at intake)")
                found.setdefault(top, Spot(path if kept else "", None, None, note))
                break
    return [found[k] for k in sorted(found)][:20]


def _text(root: Path, rel: str) -> str:
    return read_text_capped(root / rel, MAX_TEXT_BYTES) or ""


def ci_workflows(root: Path, files: list[str]) -> list[Spot]:
    """CI definitions that run a Python step (tests, lint, install)."""
    return [
        Spot(f, None, None, "CI workflow")
        for f in files
        if CI_FILES.match(f) and CI_PYTHON.search(_text(root, f))
    ]


def lint_tooling(root: Path, files: list[str]) -> list[Spot]:
    """Linter, formatter or type-checker configuration (ruff, flake8, black, mypy, pre-commit...)."""
    found = [Spot(f, None, None, "linter configuration") for f in files if f in LINT_FILES]
    for name in ("pyproject.toml", "setup.cfg", "tox.ini"):
        if name in files:
            match = LINT_SECTIONS.search(_text(root, name))
            if match:
                found.append(Spot(name, None, None, f"[{match.group(1)}]"))
    return found


def packaging(root: Path, files: list[str]) -> list[Spot]:
    """An importable package and a build: pyproject/setup metadata, or a Dockerfile + requirements."""
    packages = sorted({PurePosixPath(f).parent.as_posix() for f in files
                       if f.endswith("/__init__.py") and not is_test_path(f)})  # fmt: skip
    if not packages:
        return []
    found = []
    text = _text(root, "pyproject.toml") if "pyproject.toml" in files else ""
    if re.search(r"(?m)^\[(project|tool\.poetry)\]", text):
        found.append(Spot("pyproject.toml", None, None, "package metadata"))
    for name in ("setup.py", "setup.cfg"):
        if name in files and re.search(r"setup\(|\[metadata\]", _text(root, name)):
            found.append(Spot(name, None, None, "package metadata"))
    requirements = [f for f in files if re.match(r"requirements[^/]*\.(txt|in)$", f)]
    if not found and "Dockerfile" in files and requirements:
        found.append(Spot("Dockerfile", None, None, "container build with declared requirements"))
    return found + [Spot(packages[0] + "/__init__.py", None, None, "package")] if found else []


def configuration(
    source: SubmissionSource, files: list[str], modules: list[CodeUnit]
) -> list[Spot]:
    """Settings the code reads (config files it names or loads, a config module, CLI options)."""
    config_files = {PurePosixPath(f).name: f for f in files
                    if f.endswith(CONFIG_SUFFIXES) and not NOT_CONFIG.search(f)}  # fmt: skip
    found: list[Spot] = []
    for unit in source.code_units:
        if unit.tree is None or is_test_path(unit.path):
            continue
        for node in unit.nodes:
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                name = PurePosixPath(node.value.replace("\\", "/")).name
                if name in config_files:
                    found.append(Spot(unit.path, unit.cell, node.lineno, f"reads {config_files[name]}",
                                      _line(unit, node.lineno)))  # fmt: skip
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                if unit.origin == "py" and any(n.split(".")[0] in CLI_MODULES for n in names):
                    found.append(Spot(unit.path, None, node.lineno, "command-line options",
                                      _line(unit, node.lineno)))  # fmt: skip
    for unit in modules:
        if PurePosixPath(unit.path).stem in {"config", "settings", "constants", "params"}:
            found.append(Spot(unit.path, None, None, "configuration module"))
    unique = {(s.path, s.note): s for s in found}
    return sorted(unique.values(), key=lambda s: (s.path, s.cell or 0, s.line or 0))


def logging_use(modules: list[CodeUnit]) -> list[Spot]:
    """Modules that log through ``logging``/``loguru`` instead of printing."""
    found = []
    for unit in modules:
        if unit.tree is None:
            continue
        for node in unit.nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                if any(n.split(".")[0] in {"logging", "loguru", "structlog"} for n in names):
                    found.append(
                        Spot(unit.path, None, node.lineno, "logging", _line(unit, node.lineno))
                    )
                    break
    return found


def path_hacks(units: Iterable[CodeUnit]) -> list[Spot]:
    """``sys.path`` edits and ``os.chdir`` calls: code that only runs from one folder layout."""
    found = []
    for unit in units:
        if unit.tree is None:
            continue
        for node in unit.nodes:
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            target = node.func.value
            name = f"{getattr(target, 'id', '')}.{node.func.attr}"
            if isinstance(target, ast.Attribute) and getattr(target.value, "id", "") == "sys":
                name = f"sys.{target.attr}.{node.func.attr}"
            if name in {"sys.path.insert", "sys.path.append", "sys.path.extend", "os.chdir"}:
                found.append(
                    Spot(unit.path, unit.cell, node.lineno, name, _line(unit, node.lineno))
                )
    return found
