"""Static signals behind the code_quality grader: hygiene smells and engineering tooling.

Everything here reads the cached source index (:mod:`graders.source`) and the snapshot's file
list; nothing is executed. Each finding keeps a location (file, cell, line) for evidence.
"""

from __future__ import annotations

import ast
import hashlib
import json
import keyword
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from graders.artifacts import read_text_capped
from graders.base import clip
from graders.source import CodeUnit, SubmissionSource, parse_python

TEST_PATH = re.compile(r"(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.py$|conftest\.py$)")
EXPORT_MARKER = re.compile(r"^# In\[\s*\d*\s*\]:\s*$", re.MULTILINE)
SHELL_LINE = re.compile(r"^\s*(!|%|pip3? (install|freeze|list)|conda (install|env)|apt(-get)? )")
DUP_WINDOW = 6
CLONE_REPEATS = 3  # occurrences of a block shape (names and constants changed) that make a clone
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
        parse_python(candidate)
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


_TOKEN = re.compile(
    r"(?P<str>[rbfuRBFU]{0,2}(?:'[^'\n]*'|\"[^\"\n]*\"))|(?P<num>\b\d+(?:\.\d*)?(?:e-?\d+)?\b)"
    r"|(?P<attr>\.\s*[A-Za-z_]\w*)|(?P<name>\b[A-Za-z_]\w*\b)"
)
_KEYWORDS = frozenset(keyword.kwlist)


def _shape(line: str) -> str:
    """A normalised line with identifiers and literals replaced: what stays is its structure.

    Attribute and method names (``.fit``, ``.groupby``) and keywords are kept, so two lines
    match when they call the same things on different variables with different constants.
    """

    def repl(match: re.Match[str]) -> str:
        if match.group("str") is not None:
            return "S"
        if match.group("num") is not None:
            return "0"
        if match.group("attr") is not None:
            return match.group("attr")
        word = match.group("name")
        return word if word in _KEYWORDS else "v"

    return _TOKEN.sub(repl, line)


def _shape_key(window: list[tuple[int, str, str]]) -> str | None:
    """The structural key of a window, when its lines are varied enough to be a real block."""
    shapes = [s for _, _, s in window]
    if len(set(shapes)) < DUP_WINDOW // 2:  # a run of one repeated line shape is not a clone
        return None
    return hashlib.sha1("\n".join(shapes).encode()).hexdigest()


def duplication(units: Iterable[CodeUnit]) -> tuple[int, int, list[Spot]]:
    """Lines in repeated blocks of 6+ normalised lines (across files and cells), code lines, spots.

    A block repeated exactly counts from its second occurrence; a block repeated with renamed
    identifiers and changed constants counts when its shape occurs at least three times (a
    copy-pasted block edited once per use: twice can be a parallel train/test step). Lines
    shorter than 6 characters, imports, decorators and comments are not counted.
    """
    rows_of = []
    shape_places: dict[str, set[tuple[str, int | None, int]]] = {}
    total = 0
    for unit in units:
        rows = [(n, _normalised(t)) for n, t in enumerate(unit.code.split("\n"), start=1)]
        rows = [(n, t, _shape(t)) for n, t in rows if t]
        total += len(rows)
        rows_of.append((unit, rows))
        last: dict[str, int] = {}
        for index in range(len(rows) - DUP_WINDOW + 1):
            key = _shape_key(rows[index : index + DUP_WINDOW])
            if key is not None and index - last.get(key, -DUP_WINDOW) >= DUP_WINDOW:
                last[key] = index
                shape_places.setdefault(key, set()).add((unit.path, unit.cell, index))
    clones = {k for k, places in shape_places.items() if len(places) >= CLONE_REPEATS}
    seen: dict[str, tuple[str, int | None, int]] = {}
    duplicated: set[tuple[str, int | None, int]] = set()
    spots: dict[tuple[str, str], Spot] = {}
    for unit, rows in rows_of:
        for index in range(len(rows) - DUP_WINDOW + 1):
            window = rows[index : index + DUP_WINDOW]
            here = (unit.path, unit.cell, window[0][0])
            keys = [hashlib.sha1("\n".join(t for _, t, _ in window).encode()).hexdigest()]
            shape = _shape_key(window)
            if shape in clones:
                keys.append("~" + shape)  # type: ignore[operator]
            firsts = [seen.setdefault(key, here) for key in keys]
            first = next((f for f in firsts if f != here), here)
            if first == here or (first[:2] == here[:2] and here[2] - first[2] < DUP_WINDOW):
                continue
            duplicated.update((unit.path, unit.cell, n) for n, _, _ in window)
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
#: CI steps that run tests, or a real lint; formatters and import sorting alone do not count.
CI_TESTS = re.compile(r"(?i)\b(pytest|unittest|nox|tox|make (test|check|lint)|manage\.py test)\b")
CI_LINT = re.compile(r"(?i)\b(ruff|flake8|mypy|pylint|pyright)\b")
CI_FORMAT_ONLY = re.compile(r"(?i)\bruff format\b|--select[ =]\[?['\"]?I['\"]?\]?(\s|$)")
LINT_TOOLS = r"(ruff|flake8|mypy|pylint|pyright|black|isort|pre-commit|autopep8|pycodestyle)"
LINT_COMMAND = re.compile(rf"(?im)^[^#\n]*\b{LINT_TOOLS}\b")
LINT_DEPENDENCY = re.compile(rf"(?im)^\s*[\"']?{LINT_TOOLS}\b\s*(\[[^\]]*\])?\s*([<>=~!;\"',]|$)")
DEV_SECTION = re.compile(r"(?ims)^\[(dependency-groups|project\.optional-dependencies|"
                         r"tool\.poetry\.(dev-dependencies|group\.[\w-]+\.dependencies)|"
                         r"tool\.uv|tool\.pdm\.dev-dependencies)\](.*?)(?=^\[|\Z)")
TASK_FILES = re.compile(r"(^|/)(Makefile|makefile|justfile|noxfile\.py|tox\.ini|[^/]+\.sh|"
                        r"requirements[-_]?dev[^/]*\.txt|dev[-_]requirements[^/]*\.txt)$")
LINT_FILES = frozenset({".pre-commit-config.yaml", ".flake8", "ruff.toml", ".ruff.toml", "mypy.ini",
                        ".mypy.ini", ".pylintrc", "pylintrc", ".isort.cfg"})  # fmt: skip
LINT_SECTIONS = re.compile(
    r"(?m)^\[(tool\.(ruff|black|mypy|isort|pylint|flake8)|flake8|mypy|isort|pylint)"
)
CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json", ".ini", ".cfg", ".conf")
NOT_CONFIG = re.compile(
    r"(^|/)(\.github/|\.gitlab|\.circleci|\.pre-commit|docker-compose|pyproject\.toml$|setup\.cfg$|"
    r"tox\.ini$|package(-lock)?\.json$|\.vscode/|.*\.ipynb$|mypy\.ini$|ruff\.toml$|pytest\.ini$|"
    r"(conda[-_])?environment[^/]*\.ya?ml$|[^/]*lock[^/]*$|\.readthedocs|mkdocs\.ya?ml$|codecov)"
)
ENV_READERS = frozenset({"getenv", "environ", "dotenv_values", "load_dotenv", "BaseSettings"})
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
    """CI definitions with a step that runs tests or a real lint (not only formatting)."""
    found = []
    for f in files:
        if not CI_FILES.match(f):
            continue
        for line in _text(root, f).split("\n"):
            code = line.split("#", 1)[0]
            installs = re.search(r"(?i)\binstall\b", code)
            lints = CI_LINT.search(code) and not CI_FORMAT_ONLY.search(code) and not installs
            if CI_TESTS.search(code) or lints:
                found.append(Spot(f, None, None, f"CI runs: {clip(code.strip(), 80)}"))
                break
    return found


def _nested(files: list[str], name: str) -> list[str]:
    """``name`` at the root and in sub-folders (shallowest first, at most 5 levels down)."""
    hits = [f for f in files if PurePosixPath(f).name == name and f.count("/") <= 5
            and not any(p in _SKIP_PARTS for p in PurePosixPath(f).parts)]  # fmt: skip
    return sorted(hits, key=lambda f: (f.count("/"), f))[:20]


_SKIP_PARTS = frozenset({"node_modules", "site-packages", ".venv", "venv", ".git"})


def lint_tooling(root: Path, files: list[str]) -> list[Spot]:
    """Linters, formatters or type checkers configured, declared or invoked.

    Configuration files and sections (nested ``pyproject.toml`` too), dev dependency groups or
    extras that declare one, and Makefiles, shell scripts or dev requirements that run one.
    """
    found = [Spot(f, None, None, "linter configuration") for f in files
             if PurePosixPath(f).name in LINT_FILES and f.count("/") <= 5]  # fmt: skip
    for name in ("pyproject.toml", "setup.cfg", "tox.ini"):
        for path in _nested(files, name):
            text = _text(root, path)
            match = LINT_SECTIONS.search(text)
            if match:
                found.append(Spot(path, None, None, f"[{match.group(1)}]"))
            for section in DEV_SECTION.finditer(text) if name == "pyproject.toml" else ():
                tool = re.search(rf"(?i)[\"'\s]{LINT_TOOLS}\b", section.group(3))
                if tool:
                    found.append(Spot(path, None, None, f"{tool.group(1)} in [{section.group(1)}]"))
                    break
    for path in files:
        if not TASK_FILES.search(path) or path.count("/") > 5:
            continue
        text = _text(root, path)
        pattern = LINT_DEPENDENCY if path.endswith(".txt") else LINT_COMMAND
        match = pattern.search(text)
        if match:
            found.append(Spot(path, None, None, f"runs or declares {match.group(1)}"))
    unique = {s.path: s for s in reversed(found)}
    return sorted(unique.values(), key=lambda s: s.path)[:MAX_SPOTS]


MAX_SPOTS = 10


def packaging(root: Path, files: list[str]) -> list[Spot]:
    """An importable package and a build: pyproject/setup metadata, or a Dockerfile + requirements."""
    packages = sorted({PurePosixPath(f).parent.as_posix() for f in files
                       if f.endswith("/__init__.py") and not is_test_path(f)})  # fmt: skip
    if not packages:
        return []
    found = []
    for path in _nested(files, "pyproject.toml")[:5]:
        if re.search(r"(?m)^\[(project|tool\.poetry)\]", _text(root, path)):
            found.append(Spot(path, None, None, "package metadata"))
            break
    for name in ("setup.py", "setup.cfg"):
        for path in _nested(files, name)[:3]:
            if re.search(r"setup\(|\[metadata\]", _text(root, path)):
                found.append(Spot(path, None, None, "package metadata"))
                break
    requirements = [f for f in files if re.match(r"requirements[^/]*\.(txt|in)$", f)]
    if not found and "Dockerfile" in files and requirements:
        found.append(Spot("Dockerfile", None, None, "container build with declared requirements"))
    return found + [Spot(packages[0] + "/__init__.py", None, None, "package")] if found else []


def json_settings(root: Path, rel: str) -> bool:
    """A JSON file that holds settings: an object whose values are mostly scalars or small objects.

    A list, or an object of long lists (feature names, a trained vocabulary), is a model artifact
    or data, not configuration.
    """
    try:
        document = json.loads(_text(root, rel) or "null")
    except ValueError:
        return False
    if not isinstance(document, dict) or not document:
        return False
    leaves = [0, 0]  # settings, data

    def visit(value: Any, depth: int) -> None:
        if isinstance(value, dict) and depth < 3:
            for item in list(value.values())[:200]:
                visit(item, depth + 1)
        elif isinstance(value, list) and (len(value) > 10 or any(isinstance(v, (dict, list)) for v in value)):
            leaves[1] += len(value)
        else:
            leaves[0] += 1

    visit(document, 0)
    return leaves[0] >= 1 and leaves[0] >= leaves[1]


def configuration(
    source: SubmissionSource, files: list[str], modules: list[CodeUnit], root: Path | None = None
) -> list[Spot]:
    """Real settings the code reads: config files of parameters, a config module, environment
    variables, CLI options (a JSON artifact such as a trained feature list is not one)."""
    config_files = {PurePosixPath(f).name: f for f in files
                    if f.endswith(CONFIG_SUFFIXES) and not NOT_CONFIG.search(f)
                    and (not f.endswith(".json") or json_settings(root, f))}  # fmt: skip
    found: list[Spot] = []
    for unit in modules:
        for node in unit.nodes:
            name = getattr(node, "attr", getattr(node, "id", None))
            if isinstance(node, (ast.Attribute, ast.Name)) and name in ENV_READERS:
                found.append(Spot(unit.path, None, node.lineno, "environment variables",
                                  _line(unit, node.lineno)))  # fmt: skip
                break
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


# --------------------------------------------------------------------------- real structure


MIN_BODY_STATEMENTS = 3  # a function with fewer (a read_csv wrapper) is not reusable structure
PIPELINE_BUILDERS = frozenset({"Pipeline", "make_pipeline", "ColumnTransformer",
                               "make_column_transformer", "FeatureUnion", "make_union"})  # fmt: skip


def body_statements(body: list[ast.stmt]) -> int:
    """Statements in ``body`` (recursively, docstrings left out); a nested def counts as one."""
    total = 0
    for node in body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        total += 1
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for name in ("body", "orelse", "finalbody"):
            total += body_statements(getattr(node, name, []) or [])
        for handler in getattr(node, "handlers", []) or []:
            total += body_statements(handler.body)
        for case in getattr(node, "cases", []) or []:
            total += body_statements(case.body)
    return total


def is_substantial(node: ast.AST) -> bool:
    """A function with a real body (3+ statements), or a class with such a method or 2+ methods."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return body_statements(node.body) >= MIN_BODY_STATEMENTS
    if isinstance(node, ast.ClassDef):
        methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                   and not is_stub(n)]  # fmt: skip
        return len(methods) >= 2 or any(is_substantial(m) for m in methods)
    return False


def used_names(units: Iterable[CodeUnit]) -> set[str]:
    """Names read (``Name`` loads and attribute names) anywhere in ``units`` (an import alone
    is not a use)."""
    found: set[str] = set()
    for unit in units:
        for node in unit.nodes:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                found.add(node.id)
            elif isinstance(node, ast.Attribute):
                found.add(node.attr)
    return found


def reusable_definitions(source: SubmissionSource) -> list[tuple[CodeUnit, ast.AST]]:
    """Top-level functions and classes of non-test modules with a real body that code uses.

    Wrappers of one or two statements and definitions nothing calls are left out: they are not
    the reusable structure the rubric means.
    """
    modules = [u for u in module_units(source) if u.tree is not None and not export_leftovers(u)]
    code = [u for u in source.code_units if u.tree is not None and not is_test_path(u.path)]
    used = used_names(code)
    return [
        (unit, node)
        for unit in modules
        for node in unit.tree.body  # type: ignore[union-attr]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and is_substantial(node)
        and (node.name in used or node.decorator_list)  # decorated: routes, CLI commands
    ]


def notebook_structure(source: SubmissionSource) -> list[Spot]:
    """Structure inside notebooks: sklearn pipelines built, and functions reused across cells."""
    cells = [u for u in source.code_units if u.origin == "notebook" and u.tree is not None]
    found: list[Spot] = []
    defined: dict[tuple[str, str], int | None] = {}
    for unit in cells:
        for node in unit.tree.body:  # type: ignore[union-attr]
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and is_substantial(node):
                defined.setdefault((unit.path, node.name), unit.cell)
    pipelines = 0
    for unit in cells:
        for node in unit.nodes:
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in PIPELINE_BUILDERS and pipelines < 3:
                pipelines += 1
                found.append(Spot(unit.path, unit.cell, node.lineno, f"builds a {name}",
                                  _line(unit, node.lineno)))  # fmt: skip
            cell = defined.get((unit.path, name))
            if isinstance(node.func, ast.Name) and cell is not None and cell != unit.cell:
                found.append(Spot(unit.path, unit.cell, node.lineno,
                                  f"reuses {name} (defined in cell {cell})",
                                  _line(unit, node.lineno)))  # fmt: skip
                defined.pop((unit.path, name))
    return found


# --------------------------------------------------------------------------- import-time work


WORK_VERB = re.compile(
    r"^(read_|load|fit|train|predict|evaluate|save|dump|to_csv|to_parquet|to_pickle|main$|run|"
    r"plot|show$|savefig|cross_val|transform|preprocess|process|build|make_|create|download|merge|"
    r"clean|split|grid|search|score)"
)


def _work_call(node: ast.AST, local: set[str]) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = getattr(node.func, "id", getattr(node.func, "attr", ""))
    return bool(WORK_VERB.match(name)) or (isinstance(node.func, ast.Name) and name in local)


def _module_work(unit: CodeUnit) -> list[int]:
    """Lines of top-level statements that do pipeline work when the module is imported."""
    body = unit.tree.body if unit.tree is not None else []
    local = {n.name for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    lines = []
    for stmt in body:
        if isinstance(stmt, (ast.For, ast.While)):
            calls = [n for n in ast.walk(stmt) if _work_call(n, local)]
            if calls:
                lines.append(stmt.lineno)
        elif isinstance(stmt, (ast.Expr, ast.Assign, ast.AnnAssign)) and _work_call(
            stmt.value, local
        ):
            lines.append(stmt.lineno)
    return lines


def import_time_work(source: SubmissionSource, modules: list[CodeUnit]) -> list[Spot]:
    """Modules that run pipeline work at import time (outside an ``if __name__`` guard).

    Only modules that are imported by other code, or that define functions or classes others
    could reuse, count (a plain script is judged elsewhere); two or more top-level statements
    that read data, fit, save or call the module's own functions make the smell.
    """
    imported = _imported_modules(source)
    found = []
    for unit in modules:
        stem = PurePosixPath(unit.path).stem
        if unit.tree is None or stem == "__init__":
            continue
        defines = any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) and is_substantial(n)
                      for n in unit.tree.body)  # fmt: skip
        if not (imported_by_other(imported, stem, unit.path) or defines):
            continue
        lines = _module_work(unit)
        if len(lines) >= 2:
            found.append(Spot(unit.path, None, lines[0],
                              f"{len(lines)} top-level work statements run on import",
                              _line(unit, lines[0])))  # fmt: skip
    return found


def _imported_modules(source: SubmissionSource) -> dict[str, set[str]]:
    """Module stem -> paths of the units that import it (``import a.b``, ``from a import b``)."""
    found: dict[str, set[str]] = {}
    for unit in source.code_units:
        for node in unit.nodes:
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [p for a in node.names for p in a.name.split(".")]
            elif isinstance(node, ast.ImportFrom):
                names = (node.module or "").split(".") + [a.name for a in node.names]
            for name in names:
                if name:
                    found.setdefault(name, set()).add(unit.path)
    return found


def imported_by_other(imported: dict[str, set[str]], stem: str, path: str) -> bool:
    """True when a unit other than ``path`` imports a module named ``stem``."""
    return bool(imported.get(stem, set()) - {path})


# --------------------------------------------------------------------------- relative paths


RELATIVE_PATH = re.compile(r"^((?:\.\./|\./)*)([A-Za-z_][\w-]*)(?:/|$)")


def relative_roots(units: Iterable[CodeUnit]) -> list[Spot]:
    """Relative data paths whose folder is reached from different working directories.

    ``"../data/x.csv"`` in one module and ``"data/y.pkl"`` in another only both work when each
    script is started from its own folder: the code depends on the cwd.
    """
    seen: dict[str, dict[int, Spot]] = {}
    for unit in units:
        for node in unit.nodes:
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            value = node.value.replace("\\", "/")
            if len(value) > 300 or " " in value or ("/" not in value.rstrip("/")
                                                    and not value.startswith("..")):
                continue
            match = RELATIVE_PATH.match(value)
            if match is None or "://" in value:
                continue
            ups = match.group(1).count("../")
            spots = seen.setdefault(match.group(2), {})
            spots.setdefault(ups, Spot(unit.path, unit.cell, node.lineno,
                                       f"{value!r}", _line(unit, node.lineno)))  # fmt: skip
    found = []
    for folder, by_level in sorted(seen.items()):
        paths = {s.path for s in by_level.values()}
        if len(by_level) >= 2 and len(paths) >= 2:
            found.extend(Spot(s.path, s.cell, s.line, f"{folder}/ reached as {s.note}", s.excerpt)
                         for _, s in sorted(by_level.items()))  # fmt: skip
    return found


# --------------------------------------------------------------------------- own imports


def _top_level_names(tree: ast.Module) -> set[str] | None:
    """Names a module defines at top level (None when a star import makes it unknowable)."""
    names: set[str] = set()
    stack = list(tree.body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            if any(a.name == "*" for a in stmt.names):
                return None
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
        elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            stack.extend(getattr(stmt, "body", []) + getattr(stmt, "orelse", []))
            stack.extend(getattr(stmt, "finalbody", []))
            for handler in getattr(stmt, "handlers", []):
                stack.extend(handler.body)
        else:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
    return names


def own_import_errors(source: SubmissionSource) -> list[Spot]:
    """Imports of the candidate's own modules that name a module or a name that does not exist.

    A first component that matches no file or folder of the submission is a third-party
    package and is left alone; so is a module with a star import or ``__getattr__``.
    """
    py = {u.path: u for u in source.code_units if u.origin == "py"}
    folders = {p for path in py for p in PurePosixPath(path).parents}
    found: list[Spot] = []
    for unit in module_units(source):
        if unit.tree is None:
            continue
        here = PurePosixPath(unit.path).parent
        roots = [here, *here.parents, PurePosixPath("src")]
        for node in unit.tree.body:
            if not isinstance(node, ast.ImportFrom) or (node.level == 0 and not node.module):
                continue
            target = _resolve(node, here, roots, py, folders)
            if target is None:
                continue
            problem = _missing(node, target, py, folders)
            if problem:
                found.append(Spot(unit.path, None, node.lineno, problem, _line(unit, node.lineno)))
    return found


def _resolve(node: ast.ImportFrom, here: PurePosixPath, roots: list[PurePosixPath],
             py: dict[str, CodeUnit], folders: set[PurePosixPath]) -> str | None:  # fmt: skip
    """The module path an own import names ("" for a missing one), None when not own."""
    parts = (node.module or "").split(".") if node.module else []
    if node.level:
        base = here
        for _ in range(node.level - 1):
            if base == PurePosixPath("."):
                return ""  # beyond the top level
            base = base.parent
        candidates = [base]
    else:
        candidates = [r for r in roots if (r / parts[0]) in folders
                      or (r / f"{parts[0]}.py").as_posix() in py]  # fmt: skip
        if not candidates:
            return None
    for root in candidates:
        stem = root.joinpath(*parts) if parts else root
        for option in (f"{stem.as_posix()}.py", f"{stem.as_posix()}/__init__.py"):
            option = option.removeprefix("./")
            if option in py:
                return option
        if stem in folders:
            return stem.as_posix() + "/"  # namespace package
    return ""


def _missing(node: ast.ImportFrom, target: str, py: dict[str, CodeUnit],
             folders: set[PurePosixPath]) -> str:  # fmt: skip
    """What is wrong with an own import resolved to ``target`` ("" when nothing)."""
    module = "." * node.level + (node.module or "")
    if target == "":
        return f"no module {module} in the submission"
    folder = target[:-1] if target.endswith("/") else target.rsplit("/", 1)[0]
    unit = py.get(target)
    names = _top_level_names(unit.tree) if unit is not None and unit.tree is not None else set()
    if names is None or (names and "__getattr__" in names):
        return ""
    package = target.endswith(("/__init__.py", "/")) or target == "__init__.py"
    for alias in node.names:
        sub = PurePosixPath(folder) / alias.name
        if package and (f"{sub.as_posix()}.py".removeprefix("./") in py or sub in folders):
            continue
        if alias.name not in names and alias.name != "*":
            return f"{module} has no {alias.name}"
    return ""
