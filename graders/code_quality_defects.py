"""Defects a careful static reader sees: code that cannot run as written or silently ignores
what it is told.

Each detector returns :class:`~graders.code_quality_signals.Spot` locations. They are precise
rather than complete (nothing is executed; shell scripts are read line by line, never run):

* :func:`broken_scripts` - shell scripts with a mangled shebang, a line that starts with a
  control operator (``&& sleep 10``: a syntax error), a ``cd`` into a folder the submission does
  not have, or ``python x.py`` naming a file that is not there;
* :func:`ignored_options` - argparse options that the module parses but no code ever reads;
* :func:`undefined_self_members` - ``self.x`` read in a class (and its own bases) that never
  defines ``x``;
* :func:`debug_leftovers` - a development server left in debug mode, ``breakpoint()``,
  ``pdb.set_trace()``;
* :func:`dynamic_eval` - ``eval``/``exec`` of something other than a literal (configuration
  evaluated as code).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from graders.artifacts import read_text_capped
from graders.base import clip
from graders.code_quality_signals import Spot, is_test_path
from graders.source import CodeUnit, SubmissionSource

MAX_SCRIPTS = 50
MAX_SCRIPT_BYTES = 100_000
MAX_SPOTS = 10
SPOT_CHARS = 200  # excerpt of a defective line
_SHELL_SUFFIXES = (".sh", ".bash")
_MANGLED_SHEBANG = re.compile(r"^!\s*/(usr/)?bin/")
_LEADING_OPERATOR = re.compile(r"^(&&|\|\||\|(?!\|))")
_CD = re.compile(r"^cd\s+([^\s;&|]+)\s*;?\s*(&&.*)?$")
_PYTHON_FILE = re.compile(r"\bpython[0-9.]*\s+(?:-[uOB]+\s+)*([\w./-]+\.py)\b")
_CONTINUED = re.compile(r"\\\s*$")
_HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
_WORD = re.compile(r"[\w.-]+")


# --------------------------------------------------------------------------- shell scripts


def broken_scripts(root: Path, files: list[str]) -> list[Spot]:
    """Lines of the submission's shell scripts that fail or point at nothing when run."""
    existing = {PurePosixPath(f) for f in files}
    folders = {p for f in existing for p in f.parents}
    found: list[Spot] = []
    scripts = [f for f in files if f.endswith(_SHELL_SUFFIXES) and ".git/" not in f]
    for rel in sorted(scripts)[:MAX_SCRIPTS]:
        text = read_text_capped(root / rel, MAX_SCRIPT_BYTES)
        if text:
            found.extend(_script_problems(rel, text, existing, folders))
    return found[:MAX_SPOTS]


def _script_problems(rel: str, text: str, existing: set[PurePosixPath],
                     folders: set[PurePosixPath]) -> list[Spot]:  # fmt: skip
    """Problems in one script; ``cd`` lines are followed so later paths resolve from there."""
    home = PurePosixPath(rel).parent
    cwd: PurePosixPath | None = home
    found: list[Spot] = []
    previous, earlier, heredoc = "", set(), ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        continued = bool(_CONTINUED.search(previous))
        previous = raw
        if heredoc:
            heredoc = "" if line == heredoc else heredoc
            continue
        if not line or line.startswith("#") or continued:
            continue
        opened = _HEREDOC.search(line)
        heredoc = opened.group(1) if opened else ""
        made = set(earlier)  # a folder or file the script itself creates (mkdir, git clone...)
        words = _WORD.findall(line)
        earlier.update(words, (w.split(".")[0] for w in words))  # repo.git names repo/
        if number > 1 and _MANGLED_SHEBANG.match(line):
            found.append(Spot(rel, None, number, "mangled shebang: this line runs a new shell",
                              clip(line, SPOT_CHARS)))  # fmt: skip
        elif _LEADING_OPERATOR.match(line):
            found.append(Spot(rel, None, number, "a line starting with a control operator is a "
                              "shell syntax error", clip(line, SPOT_CHARS)))  # fmt: skip
        move = _CD.match(line)
        if move:
            cwd = _cd(move.group(1), cwd, home, folders, made, (rel, number, line), found)
        for target in _PYTHON_FILE.findall(line):
            if "$" in target or target.startswith("/") or cwd is None:
                continue
            if PurePosixPath(target).stem in {w.split(".")[0] for w in made if w != target}:
                continue  # named earlier in the script (a notebook converted, a download...)
            bases = {cwd, home, PurePosixPath(".")}
            if not any(_join(base, target) in existing for base in bases):
                found.append(Spot(rel, None, number, f"runs {target}, which is not in the "
                                  "submission", clip(line, SPOT_CHARS)))  # fmt: skip
    return found


def _cd(target: str, cwd: PurePosixPath | None, home: PurePosixPath,
        folders: set[PurePosixPath], made: set[str], where: tuple[str, int, str],
        found: list[Spot]) -> PurePosixPath | None:  # fmt: skip
    """The working folder after ``cd target`` (None when it cannot be followed).

    A missing folder is a defect unless an earlier line names it (``mkdir``, ``git clone``...).
    """
    if "$" in target or target.startswith(("/", "~", "-")) or cwd is None:
        return None
    for base in (cwd, home, PurePosixPath(".")):
        moved = _join(base, target)
        if moved is not None and (moved in folders or moved == PurePosixPath(".")):
            return moved
    if not set(PurePosixPath(target).parts) & made:
        rel, number, line = where
        found.append(Spot(rel, None, number, f"cd {target}: the submission has no such folder",
                          clip(line, SPOT_CHARS)))  # fmt: skip
    return None


def _join(base: PurePosixPath, target: str) -> PurePosixPath | None:
    """``base/target`` normalised inside the snapshot (None when it leaves it)."""
    parts: list[str] = [p for p in base.parts if p != "."]
    for part in PurePosixPath(target).parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


# --------------------------------------------------------------------------- python modules


def _option_dest(call: ast.Call) -> str | None:
    """The attribute name argparse stores an ``add_argument`` option under."""
    for keyword in call.keywords:
        if keyword.arg == "dest":
            value = keyword.value
            return value.value if isinstance(value, ast.Constant) and isinstance(
                value.value, str) else None  # fmt: skip
    names = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    longs = [n for n in names if n.startswith("--")]
    if longs:
        return longs[0][2:].replace("-", "_")
    if names and not names[0].startswith("-"):
        return names[0]
    return names[0].lstrip("-").replace("-", "_") if names else None


def ignored_options(source: SubmissionSource, modules: list[CodeUnit]) -> list[Spot]:
    """argparse options a module parses (``parse_args`` is called) that no code ever reads.

    Reading ``args.<dest>``, ``getattr(args, "<dest>")`` or passing the whole namespace on
    through ``vars(args)`` / ``args.__dict__`` counts as reading it (anywhere in the code).
    """
    read: set[str] = set()
    whole = False
    for unit in source.code_units:
        for node in unit.nodes:
            if isinstance(node, ast.Attribute) and not _is_self(node.value):
                read.add(node.attr)
                whole = whole or node.attr == "__dict__"
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                whole = whole or node.func.id == "vars"
                if node.func.id == "getattr" and len(node.args) > 1:
                    name = node.args[1]
                    read.add(name.value if isinstance(name, ast.Constant) else "")
                    whole = whole or not isinstance(name, ast.Constant)
    if whole:
        return []
    found: list[Spot] = []
    for unit in modules:
        calls = [n for n in unit.nodes if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Attribute)]  # fmt: skip
        if not any(c.func.attr in ("parse_args", "parse_known_args") for c in calls):  # type: ignore[attr-defined]
            continue
        for call in calls:
            if call.func.attr != "add_argument":  # type: ignore[attr-defined]
                continue
            action = next((k.value.value for k in call.keywords if k.arg == "action"
                           and isinstance(k.value, ast.Constant)), None)  # fmt: skip
            dest = _option_dest(call)
            if dest and action not in ("help", "version") and dest not in read:
                found.append(Spot(unit.path, None, call.lineno,
                                  f"option {dest!r} is parsed but never read",
                                  _line(unit, call.lineno)))  # fmt: skip
    return found[:MAX_SPOTS]


def _is_self(node: ast.expr) -> bool:
    """``self``/``cls``: an object attribute of the same name is not the parsed option."""
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _line(unit: CodeUnit, number: int) -> str:
    lines = unit.code.split("\n")
    return clip(lines[number - 1].strip(), SPOT_CHARS) if 0 < number <= len(lines) else ""


def _class_members(cls: ast.ClassDef, classes: dict[str, ast.ClassDef],
                   seen: frozenset[str] = frozenset()) -> set[str] | None:  # fmt: skip
    """Every attribute ``cls`` (and its own bases) can define; None when that is unknowable."""
    if cls.keywords or cls.decorator_list or cls.name in seen:
        return None
    members: set[str] = set()
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id == "object":
            continue
        if not isinstance(base, ast.Name) or base.id not in classes:
            return None  # a base from elsewhere may define anything
        inherited = _class_members(classes[base.id], classes, seen | {cls.name})
        if inherited is None:
            return None
        members |= inherited
    for node in ast.walk(cls):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            members.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            members.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            members.add(node.id)
        elif _opaque(node):
            return None
    return None if members & {"__getattr__", "__getattribute__", "__slots__"} else members


def _opaque(node: ast.AST) -> bool:
    """A node that may define attributes no static reader can name (``__dict__``, setattr)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "__dict__"
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("setattr", "vars"))  # fmt: skip


def _self_reads(method: ast.FunctionDef | ast.AsyncFunctionDef) -> set[tuple[int, str]]:
    """``(line, attribute)`` of every ``self.<attribute>`` read in ``method``."""
    return {
        (n.lineno, n.attr)
        for n in ast.walk(method)
        if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load)
        and isinstance(n.value, ast.Name) and n.value.id == "self"
    }  # fmt: skip


def undefined_self_members(modules: Iterable[CodeUnit]) -> list[Spot]:
    """``self.x`` read in a method when neither the class nor its own bases define ``x``.

    Only classes whose bases are all defined in the same module (or ``object``) are judged, and
    not a class that another class extends (a template base reads what subclasses set).
    """
    modules = list(modules)
    extended = {
        base.id if isinstance(base, ast.Name) else base.attr
        for unit in modules for node in unit.nodes if isinstance(node, ast.ClassDef)
        for base in node.bases if isinstance(base, (ast.Name, ast.Attribute))
    }  # fmt: skip
    found: list[Spot] = []
    for unit in modules:
        if unit.tree is None:
            continue
        classes = {n.name: n for n in unit.tree.body if isinstance(n, ast.ClassDef)}
        for cls in classes.values():
            members = None if cls.name in extended else _class_members(cls, classes)
            if members is None:
                continue
            for method in cls.body:
                if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                arguments = method.args.posonlyargs + method.args.args
                if not arguments or arguments[0].arg != "self":
                    continue
                missing = sorted(
                    (line, attr) for line, attr in _self_reads(method)
                    if attr not in members and not attr.startswith("__")
                )
                found.extend(Spot(unit.path, None, line, f"{cls.name} has no attribute {attr!r}",
                                  _line(unit, line)) for line, attr in missing)  # fmt: skip
    return found[:MAX_SPOTS]


def _is_true(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def debug_leftovers(modules: Iterable[CodeUnit]) -> list[Spot]:
    """A server started in debug mode (``app.run(debug=True)``), ``breakpoint()``,
    ``pdb.set_trace()`` in non-test modules."""
    found: list[Spot] = []
    for unit in modules:
        if is_test_path(unit.path):
            continue
        for node in unit.nodes:
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name.startswith("run") and any(
                k.arg == "debug" and _is_true(k.value) for k in node.keywords
            ):
                note = "server started in debug mode"
            elif name == "breakpoint" or name == "set_trace":
                note = "debugger breakpoint left in"
            else:
                continue
            found.append(Spot(unit.path, None, node.lineno, note, _line(unit, node.lineno)))
    return found[:MAX_SPOTS]


def dynamic_eval(modules: Iterable[CodeUnit]) -> list[Spot]:
    """``eval(...)``/``exec(...)`` of anything but a string literal in non-test modules."""
    found: list[Spot] = []
    for unit in modules:
        if is_test_path(unit.path):
            continue
        for node in unit.nodes:
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("eval", "exec")
                and node.args
                and not isinstance(node.args[0], ast.Constant)
            ):
                found.append(Spot(unit.path, None, node.lineno,
                                  f"{node.func.id}() of a computed value runs it as code",
                                  _line(unit, node.lineno)))  # fmt: skip
    return found[:MAX_SPOTS]
