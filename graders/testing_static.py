"""Reading a candidate's tests without running them, the way a reviewer reads a test suite.

:func:`read_suite` finds pytest-style tests in every ``.py`` file of the submission (not only
``test_*.py`` names), resolves each test file's imports against the submission's own modules,
and judges every test function: does it assert on something the candidate's code computed, is it
a placeholder, is it broken (it imports a module or a name the submission does not have), is it
portable, is it an edge-case or an integration test. It also finds fixtures, parametrisation and
the CI / task-runner configuration that runs the tests, and counts how many of the candidate's
own modules the tests exercise. Nothing is executed; everything comes from the cached
:func:`graders.source.load_source` view plus a few capped reads of CI files.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from graders.artifacts import read_text_capped
from graders.base import clip
from graders.source import CodeUnit, SubmissionSource, dotted_name

MAX_CI_BYTES = 200_000
MAX_LISTED_FILES = 20_000
MAX_WORKFLOWS = 30

# Folders holding somebody else's code: a committed virtualenv, vendored packages.
VENDORED_PARTS = frozenset(
    {"site-packages", "dist-packages", "vendor", "vendored", "_vendor", "third_party",
     "third-party", "env", "venv", "virtualenv", "node_modules", "lib64"}
)  # fmt: skip
TEST_DIR_NAMES = frozenset({"test", "tests", "testing", "unit_tests", "unittests"})
NOT_CANDIDATE_FILES = frozenset({"setup.py", "conftest.py", "noxfile.py", "conf.py", "manage.py"})
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt", "pyproject.toml", "setup.py",
                     "setup.cfg", "environment.yml", "Pipfile")  # fmt: skip
_TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")
_SHALLOW_CALLS = frozenset({"isinstance", "hasattr", "callable", "issubclass", "exists", "is_file"})
_SHALLOW_ASSERT_METHODS = frozenset(
    {"assertTrue", "assertFalse", "assertIsNotNone", "assertIsNone", "assertIsInstance",
     "assert_", "failUnless", "assertIn", "assertNotIn"}
)  # fmt: skip
_RAISES_CALLS = frozenset({"raises", "warns", "deprecated_call", "assertRaises",
                           "assertRaisesRegex", "assertWarns", "assertRaisesRegexp"})  # fmt: skip
_BUILTIN_FIXTURES = frozenset(
    {"tmp_path", "tmpdir", "tmp_path_factory", "monkeypatch", "capsys", "caplog", "mocker",
     "request", "capfd", "recwarn"}
)  # fmt: skip
_EDGE_NAME = re.compile(
    r"empty|nan|null|missing|invalid|edge|boundar|negative|zero|none|unknown|unseen|error|"
    r"raise|fail|wrong|bad|corrupt|outlier|extreme|unexpected|malformed",
    re.IGNORECASE,
)
_INTEGRATION_NAME = re.compile(
    r"integration|e2e|end_to_end|endtoend|pipeline|workflow", re.IGNORECASE
)
_IMPORTS_TEST_FRAMEWORK = re.compile(r"^\s*(import|from)\s+(pytest|unittest)\b", re.MULTILINE)
_FRAMES = frozenset({"DataFrame", "Series"})
_SYS_PATH_CALLS = frozenset({"sys.path.insert", "sys.path.append", "sys.path.extend",
                            "site.addsitedir"})  # fmt: skip
_CLIENT_CALLS = frozenset({"TestClient", "test_client", "CliRunner", "AsyncClient"})
#: Attributes saying only that a request or command ran (HTTP status, exit status).
_OUTCOME_CODES = frozenset({"status_code", "status", "exit_code", "returncode"})
_NETWORK_CALLS = frozenset(
    {"requests.get", "requests.post", "requests.put", "requests.delete", "requests.request",
     "requests.head", "urllib.request.urlopen", "urlopen", "httpx.get", "httpx.post",
     "boto3.client", "boto3.resource", "socket.create_connection"}
)  # fmt: skip
_ABSOLUTE_PATH = re.compile(r"^(/home/|/Users/|/mnt/|/content/|/kaggle/|/root/|[A-Za-z]:[\\/])")
_DATA_FILE = re.compile(r"\.(csv|tsv|parquet|pkl|pickle|joblib|xlsx?|feather|h5|hdf5|db|sqlite|"
                        r"npy|npz|arrow)$", re.IGNORECASE)  # fmt: skip
_READ_CALL = re.compile(r"read|load|open", re.IGNORECASE)
_WRITE_CALL = re.compile(r"to_|dump|save|write", re.IGNORECASE)
_CI_RUNS_TESTS = re.compile(
    r"\bpytest\b|-m\s+unittest\b|\bnose2?\b|\btox\b|\bnox\b|\bmake\s+[\w-]*(test|check)[\w-]*|"
    r"\bcoverage\s+run\b|\bunittest\s+discover\b"
)
_MAKE_TEST_TARGET = re.compile(r"^([\w-]*test[\w-]*|unit|check)\s*:", re.MULTILINE)


@functools.lru_cache(maxsize=50_000)
def _nodes(node: ast.AST) -> tuple[ast.AST, ...]:
    """``ast.walk(node)`` as a tuple, cached (the graders walk the same tests many times)."""
    return tuple(ast.walk(node))


def is_vendored(path: str) -> bool:
    """True for files inside a committed environment or vendored folder."""
    parts = PurePosixPath(path).parts[:-1]
    return any(p in VENDORED_PARTS or p.startswith(("venv", "python3.")) for p in parts)


def is_pytest_file_name(path: str) -> bool:
    """``test_*.py`` and ``*_test.py``: the files pytest collects by default."""
    return bool(_TEST_FILE.match(PurePosixPath(path).name))


def in_test_folder(path: str) -> bool:
    """True for files under a folder named ``tests`` / ``test`` / ``testing`` ..."""
    return any(p.lower() in TEST_DIR_NAMES for p in PurePosixPath(path).parts[:-1])


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class StaticTest:
    """One test function or method, as a reviewer reads it."""

    path: str
    line: int
    name: str  # "test_x" or "TestClass.test_x"
    excerpt: str
    asserts: bool  # asserts on something that is not a literal
    placeholder: bool  # pass / docstring / assert True and nothing else
    skipped: bool  # unconditionally skipped
    kinds: frozenset[str]  # assertion kinds: value, raises, shallow
    modules: frozenset[str]  # candidate modules it exercises (snapshot paths)
    broken: str | None  # why it cannot import, else None
    nonportable: str | None  # why it cannot run elsewhere, else None
    edge: bool
    integration: bool
    parametrised: bool
    uses_fixtures: bool

    @property
    def meaningful(self) -> bool:
        """Asserts (value or raises) on the candidate's code, imports fine, runs anywhere."""
        return (
            not self.placeholder
            and not self.skipped
            and self.broken is None
            and self.nonportable is None
            and bool(self.modules)
            and bool(self.kinds & {"value", "raises"})
        )

    @property
    def checks_values(self) -> bool:
        """Meaningful and checks a computed value (not only that an error is raised)."""
        return self.meaningful and "value" in self.kinds


@dataclass(frozen=True)
class CiConfig:
    """A CI or task-runner file and whether it runs the tests."""

    path: str
    line: int | None
    excerpt: str
    runs_tests: bool


@dataclass
class SuiteReading:
    """Everything :func:`read_suite` found."""

    tests: list[StaticTest] = field(default_factory=list)
    test_files: list[str] = field(default_factory=list)
    fixtures: list[tuple[str, int, str]] = field(default_factory=list)  # path, line, name
    broken_imports: list[tuple[str, int, str]] = field(default_factory=list)  # path, line, why
    candidate_modules: list[str] = field(default_factory=list)
    exercised_modules: list[str] = field(default_factory=list)  # by meaningful tests
    ci: list[CiConfig] = field(default_factory=list)

    @property
    def real(self) -> list[StaticTest]:
        """Tests that are not empty placeholders (broken or token ones included)."""
        return [t for t in self.tests if not t.placeholder]

    @property
    def meaningful(self) -> list[StaticTest]:
        """Tests that assert on the candidate's code and can run."""
        return [t for t in self.tests if t.meaningful]

    @property
    def value_tests(self) -> list[StaticTest]:
        """Meaningful tests that check a computed value."""
        return [t for t in self.tests if t.checks_values]

    @property
    def ci_running_tests(self) -> list[CiConfig]:
        """CI and task-runner files that run the tests."""
        return [c for c in self.ci if c.runs_tests]


# --------------------------------------------------------------------------- module index


class ModuleIndex:
    """The submission's ``.py`` files as importable modules, and the names each one defines."""

    def __init__(self, units: Iterable[CodeUnit]) -> None:
        self.units = {u.path: u for u in units}
        self.dirs: set[str] = set()
        for path in self.units:
            parent = PurePosixPath(path).parent
            while str(parent) not in {".", ""}:
                self.dirs.add(parent.as_posix())
                parent = parent.parent
        self._names: dict[str, set[str] | None] = {}
        self.requirements: frozenset[str] = frozenset()
        self.definitions: dict[tuple[str, str], tuple[ast.AST, dict[str, ast.AST]] | None] = {}

    def with_requirements(self, root: Path) -> ModuleIndex:
        """Note the distributions the submission declares (names normalised to ``a_b``)."""
        words: set[str] = set()
        for name in REQUIREMENT_FILES:
            text = read_text_capped(root / name, MAX_CI_BYTES)
            if text:
                words.update(w.lower().replace("-", "_") for w in re.findall(r"[\w.-]+", text))
        parts = {p for w in words for p in w.split("_")}
        self.requirements = frozenset(words | parts)
        return self

    def module_file(self, base: str, dotted: str) -> str | None:
        """``base/a/b.py`` or ``base/a/b/__init__.py`` for ``a.b``, or the package folder."""
        rel = "/".join(p for p in (base, dotted.replace(".", "/")) if p)
        for candidate in (f"{rel}.py", f"{rel}/__init__.py"):
            if candidate in self.units:
                return candidate
        return rel if rel in self.dirs else None

    def defined_names(self, module: str) -> set[str] | None:
        """Top-level names a module file defines; None when anything could be defined."""
        if module not in self._names:
            unit = self.units.get(module)
            self._names[module] = (
                None if unit is None or unit.tree is None else _top_names(unit.tree)
            )
        return self._names[module]

    def reexport(self, module: str, name: str) -> str | None:
        """The submodule a package's ``__init__`` re-exports ``name`` from (one level)."""
        unit = self.units.get(module)
        if unit is None or unit.tree is None or not module.endswith("__init__.py"):
            return None
        base = str(PurePosixPath(module).parent)
        for node in unit.tree.body:
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 1
                and node.module
                and any((a.asname or a.name) == name for a in node.names)
            ):
                return self.module_file(base, node.module)
        return None


def _top_names(tree: ast.Module) -> set[str] | None:
    """Names bound at module level (inside if/try/for/with too); None when any could be."""
    names: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == "__getattr__":
                return None
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With)):
            targets = (
                node.targets if isinstance(node, ast.Assign)
                else [i.optional_vars for i in node.items if i.optional_vars]
                if isinstance(node, ast.With) else [node.target]
            )  # fmt: skip
            for target in targets:
                names.update(n.id for n in _nodes(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Expr) and "globals()" in ast.unparse(node):
            return None
        for attr in ("body", "orelse", "finalbody"):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                pending.extend(getattr(node, attr, []) or [])
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                pending.extend(handler.body)
    return names


def _roots(path: str, index: ModuleIndex) -> list[str]:
    """Folders an import in ``path`` may resolve from: its own, each parent, their ``src``."""
    roots: list[str] = []
    parent = PurePosixPath(path).parent
    while True:
        base = "" if str(parent) == "." else parent.as_posix()
        for root in (base, f"{base}/src" if base else "src"):
            if root not in roots and (root == base or root in index.dirs):
                roots.append(root)
        if str(parent) in {".", ""}:
            return roots
        parent = parent.parent


@dataclass(frozen=True)
class ImportReading:
    """One import statement's candidate bindings and problems."""

    bindings: dict[str, str]  # local name -> candidate module path
    problems: list[str]  # "no module src.x in the submission", "src.x defines no Foo"
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)  # local -> (file, name)


def read_import(
    node: ast.Import | ast.ImportFrom, path: str, index: ModuleIndex, extra: tuple[str, ...] = ()
) -> ImportReading:
    """Resolve one import of ``path`` against the submission's modules."""
    bindings: dict[str, str] = {}
    problems: list[str] = []
    origins: dict[str, tuple[str, str]] = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            found, problem = _resolve_module(alias.name, 0, path, index, extra)
            if problem:
                problems.append(problem)
            elif found:
                local = alias.asname or alias.name.split(".")[0]
                bindings[local] = found
        return ImportReading(bindings, problems)
    module = node.module or ""
    found, problem = _resolve_module(module, node.level, path, index, extra)
    if problem:
        return ImportReading({}, [problem])
    if found is None:
        return ImportReading({}, [])
    for alias in node.names:
        if alias.name == "*":
            bindings[f"*{found}"] = found
            continue
        target, missing = _resolve_name(found, alias.name, index)
        if missing:
            shown = "." * node.level + module
            problems.append(f"{shown or 'the package'} defines no {alias.name}")
        else:
            local = alias.asname or alias.name
            bindings[local] = target or found
            where = target or found
            names = index.defined_names(where) if where.endswith(".py") else None
            if names is not None and alias.name in names:
                origins[local] = (where, alias.name)
    return ImportReading(bindings, problems, origins)


def _resolve_module(
    dotted: str, level: int, path: str, index: ModuleIndex, extra: tuple[str, ...] = ()
) -> tuple[str | None, str | None]:
    """(module path, None), (None, problem) when it should be here but is not, (None, None)."""
    if level:
        base = PurePosixPath(path).parent
        for _ in range(level - 1):
            base = base.parent
        base_str = "" if str(base) == "." else base.as_posix()
        if not dotted:
            init = f"{base_str}/__init__.py" if base_str else "__init__.py"
            return (init if init in index.units else base_str or None), None
        found = index.module_file(base_str, dotted)
        shown = "." * level + dotted
        return (found, None) if found else (None, f"no module {shown} next to {path}")
    top = dotted.split(".")[0]
    if not top or top in sys.stdlib_module_names:
        return None, None
    roots = [r for r in (*_roots(path, index), *extra) if index.module_file(r, top)]
    if not roots:
        return None, None  # not the candidate's: a third-party package
    for root in roots:
        found = index.module_file(root, dotted)
        if found:
            if found in index.dirs and top in index.requirements:
                return None, None  # a folder named like a declared dependency: Python
            return found, None  # prefers the installed package over a namespace folder
    if all(index.module_file(r, top) in index.dirs for r in roots) and top in index.requirements:
        return None, None
    return None, f"no module {dotted} in the submission"


def _resolve_name(module: str, name: str, index: ModuleIndex) -> tuple[str | None, bool]:
    """(module the name lives in, missing?) for ``from module import name``."""
    package = module.removesuffix("/__init__.py")
    if not module.endswith(".py") or module.endswith("__init__.py"):
        sub = index.module_file(package, name)
        if sub:
            return sub, False
    if not module.endswith(".py"):
        return None, True  # a namespace folder holds submodules only
    names = index.defined_names(module)
    if names is None or name in names:
        return index.reexport(module, name) or module, False
    return None, True


# --------------------------------------------------------------------------- assertions


def _has_variables(node: ast.AST) -> bool:
    """True when ``node`` reads anything that is not a literal."""
    return any(isinstance(n, (ast.Name, ast.Attribute, ast.Call)) for n in _nodes(node))


def _is_outcome_code(node: ast.AST) -> bool:
    """``response.status_code``, ``result.exit_code``: only whether a request or command ran."""
    return isinstance(node, ast.Attribute) and node.attr in _OUTCOME_CODES


def _shallow_test(node: ast.expr) -> bool:
    """``x``, ``not x``, ``x is not None``, ``isinstance(...)``, ``len(x) > 0``, ``k in x``, a
    status or exit code compared, and ``and``s of those: the code ran, not what it computed."""
    if isinstance(node, ast.BoolOp):
        return all(_shallow_test(v) for v in node.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _shallow_test(node.operand)
    if isinstance(node, (ast.Name, ast.Attribute)):
        return True
    if isinstance(node, ast.Call):
        last = (dotted_name(node.func) or "").rsplit(".", 1)[-1]
        return last in _SHALLOW_CALLS or last.startswith(("is_", "has_"))
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        right = node.comparators[0]
        if isinstance(node.ops[0], (ast.Is, ast.IsNot)) and isinstance(right, ast.Constant):
            return True  # is None / is not None / is True
        if isinstance(node.ops[0], (ast.In, ast.NotIn)):
            return True  # "key" in response.json(): present, whatever its value
        if _is_outcome_code(node.left) or _is_outcome_code(right):
            return True  # response.status_code == 200: it answered, not what it computed
        left_len = isinstance(node.left, ast.Call) and dotted_name(node.left.func) == "len"
        small = isinstance(right, ast.Constant) and right.value in (0, 1)
        return left_len and small and not isinstance(node.ops[0], (ast.Eq, ast.NotEq))
    return False


def assertion_kind(node: ast.AST) -> str | None:
    """``value``, ``raises``, ``shallow`` or ``literal`` for an assertion node, else None."""
    if isinstance(node, ast.Assert):
        if not _has_variables(node.test):
            return "literal"
        return "shallow" if _shallow_test(node.test) else "value"
    if not isinstance(node, ast.Call):
        return None
    name = dotted_name(node.func) or ""
    last = name.rsplit(".", 1)[-1]
    if last in _RAISES_CALLS:
        return "raises"
    if last.lower().startswith("assert") or ".testing." in f".{name}" or last == "approx":
        args = list(node.args) + [k.value for k in node.keywords]
        if args and not any(_has_variables(a) for a in args):
            return "literal"
        # assertEqual(response.status_code, 200): whether it answered, not what it computed
        outcome_only = any(_is_outcome_code(a) for a in node.args)
        return "shallow" if last in _SHALLOW_ASSERT_METHODS or outcome_only else "value"
    return None


def assertion_kinds(node: ast.AST, helper_kinds: dict[str, frozenset[str]]) -> set[str]:
    """Every assertion kind inside ``node`` (helpers of the same file count)."""
    kinds: set[str] = set()
    for child in _nodes(node):
        kind = assertion_kind(child)
        if kind:
            kinds.add(kind)
        elif isinstance(child, ast.Call):
            callee = dotted_name(child.func) or ""
            kinds |= helper_kinds.get(callee.removeprefix("self."), frozenset())
    return kinds


def _helper_kinds(functions: dict[str, ast.AST]) -> dict[str, frozenset[str]]:
    """Assertion kinds of each non-test helper, through helpers calling helpers."""
    kinds = {name: frozenset(assertion_kinds(node, {})) for name, node in functions.items()}
    for _ in range(3):  # a short fixed point: helpers rarely nest deeper
        kinds = {name: frozenset(assertion_kinds(node, kinds)) for name, node in functions.items()}
    return {name: k for name, k in kinds.items() if k}


def _is_placeholder(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Nothing but a docstring, ``pass``, ``...``, a skip or asserts on literals."""
    for stmt in func.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, ast.Return) and stmt.value is None:
            continue
        if isinstance(stmt, ast.Assert) and not _has_variables(stmt.test):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            name = dotted_name(stmt.value.func) or ""
            if name.rsplit(".", 1)[-1] in {"skip", "skipTest", "xfail"}:
                continue
            if assertion_kind(stmt.value) == "literal":
                continue
        if isinstance(stmt, ast.Raise) and "NotImplementedError" in ast.unparse(stmt):
            continue
        return False
    return True


def _decorator_names(func: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[str]:
    """Dotted names of the decorators (``pytest.mark.parametrize`` for a call too)."""
    names = []
    for deco in func.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        names.append(dotted_name(target) or "")
    return names


def _unconditionally_skipped(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> bool:
    """Decorated with ``skip`` (not ``skipif``): the test never runs."""
    return any(n.rsplit(".", 1)[-1] == "skip" for n in _decorator_names(node))


def _is_fixture(node: ast.AST) -> bool:
    """A function decorated with ``pytest.fixture``."""
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
        n.rsplit(".", 1)[-1] in {"fixture", "yield_fixture"} for n in _decorator_names(node)
    )


# --------------------------------------------------------------------------- one file


@dataclass
class _FileContext:
    """What one test file (or conftest) binds and defines."""

    unit: CodeUnit
    bindings: dict[str, str]  # local name -> candidate module
    origins: dict[str, tuple[str, str]]  # local name -> (module file, defined name)
    module_problems: list[tuple[int, str]]  # broken top-level imports
    local_problems: list[tuple[int, int, str]]  # (start, end, problem) in one function
    functions: dict[str, ast.AST]
    fixtures: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """An import inside ``try`` with an ``except ImportError`` (or broader) handler."""
    current = parents.get(node)
    while current is not None:
        if isinstance(current, ast.Try):
            for handler in current.handlers:
                text = ast.unparse(handler.type) if handler.type is not None else "Exception"
                if re.search(r"ImportError|ModuleNotFoundError|Exception", text):
                    return True
        current = parents.get(current)
    return False


def sys_path_roots(tree: ast.Module, index: ModuleIndex) -> tuple[str, ...]:
    """Folders a file adds to ``sys.path`` (``sys.path.insert(0, "../src")``), matched by name."""
    wanted: set[str] = set()
    for node in _nodes(tree):
        if isinstance(node, ast.Call) and (dotted_name(node.func) or "") in _SYS_PATH_CALLS:
            for const in _nodes(node):
                if isinstance(const, ast.Constant) and isinstance(const.value, str):
                    last = PurePosixPath(const.value.replace("\\", "/").strip("/")).name
                    if last not in {"", ".", ".."}:
                        wanted.add(last)
    return tuple(sorted(d for d in index.dirs if PurePosixPath(d).name in wanted))


def _file_context(unit: CodeUnit, index: ModuleIndex) -> _FileContext:
    """Resolve every import of one test file or conftest, and list its helpers and fixtures."""
    assert unit.tree is not None
    parents = {child: node for node in _nodes(unit.tree) for child in ast.iter_child_nodes(node)}
    bindings: dict[str, str] = {}
    origins: dict[str, tuple[str, str]] = {}
    module_problems: list[tuple[int, str]] = []
    local_problems: list[tuple[int, int, str]] = []
    extra = sys_path_roots(unit.tree, index)
    for node in _nodes(unit.tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        reading = read_import(node, unit.path, index, extra)
        bindings.update(reading.bindings)
        origins.update(reading.origins)
        if not reading.problems or _guarded(node, parents):
            continue
        owner = parents.get(node)
        while owner is not None and not isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)):
            owner = parents.get(owner)
        for problem in reading.problems:
            if owner is None:
                module_problems.append((node.lineno, problem))
            else:
                end = getattr(owner, "end_lineno", owner.lineno) or owner.lineno
                local_problems.append((owner.lineno, end, problem))
    _bind_module_level_objects(unit.tree, bindings)
    functions: dict[str, ast.AST] = {}
    fixtures: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in unit.tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if _is_fixture(node):
                fixtures[node.name] = node
            elif not node.name.startswith("test"):
                functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if _is_fixture(item):
                    fixtures[item.name] = item  # type: ignore[assignment]
    return _FileContext(
        unit, bindings, origins, module_problems, local_problems, functions, fixtures
    )


def _bind_module_level_objects(tree: ast.Module, bindings: dict[str, str]) -> None:
    """Module-level names built from the candidate's code (``client = TestClient(app)``,
    ``model = train(...)``) stand for that code: a test that uses them exercises it."""
    for node in tree.body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        sources = [bindings[n.id] for n in _nodes(node.value)
                   if isinstance(n, ast.Name) and n.id in bindings]  # fmt: skip
        if not sources:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id not in bindings:
                bindings[target.id] = sources[0]


def _modules_used(node: ast.AST, ctx: _FileContext, index: ModuleIndex) -> set[str]:
    """Candidate modules whose names ``node`` reads (or whose script it runs)."""
    used: set[str] = set()
    for child in _nodes(node):
        if isinstance(child, ast.Name) and child.id in ctx.bindings:
            used.add(ctx.bindings[child.id])
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            text = child.value.strip()
            if text.endswith(".py") and len(text) < 200:
                used.update(
                    p for p in index.units if p == text.lstrip("./") or p.endswith("/" + text)
                )
    if any(key.startswith("*") for key in ctx.bindings):  # from x import *: any free name
        stars = {v for k, v in ctx.bindings.items() if k.startswith("*")}
        if any(isinstance(c, ast.Call) and isinstance(c.func, ast.Name) for c in _nodes(node)):
            used |= stars
    return used


class _Reader:
    """Reads every test of a submission (one instance per :func:`read_suite` call)."""

    def __init__(self, source: SubmissionSource, root: Path) -> None:
        self.root = root
        units = [
            u for u in source.code_units
            if u.origin == "py" and u.tree is not None and not is_vendored(u.path)
        ]  # fmt: skip
        self.units = units
        self.index = ModuleIndex(units).with_requirements(root)
        self.contexts: dict[str, _FileContext] = {}
        self._listing: set[str] | None = None

    def context(self, unit: CodeUnit) -> _FileContext:
        """The (cached) :class:`_FileContext` of one file."""
        if unit.path not in self.contexts:
            self.contexts[unit.path] = _file_context(unit, self.index)
        return self.contexts[unit.path]

    def conftests_for(self, path: str) -> list[_FileContext]:
        """``conftest.py`` files of the test's folder and its parents."""
        found = []
        parent = PurePosixPath(path).parent
        while True:
            rel = "conftest.py" if str(parent) == "." else f"{parent.as_posix()}/conftest.py"
            unit = self.index.units.get(rel)
            if unit is not None:
                found.append(self.context(unit))
            if str(parent) in {".", ""}:
                return found
            parent = parent.parent

    def file_names(self) -> set[str]:
        """Base names of every file in the snapshot (capped walk, once)."""
        if self._listing is None:
            names: set[str] = set()
            for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
                dirnames[:] = [d for d in dirnames if d not in {".git", "__pycache__"}]
                names.update(filenames)
                if len(names) > MAX_LISTED_FILES:
                    break
            self._listing = names
        return self._listing

    # ----------------------------------------------------------------- discovery

    def is_test_file(self, unit: CodeUnit) -> bool:
        """A file whose test functions a reviewer (or pytest) would take as tests."""
        name = PurePosixPath(unit.path).name
        if name == "conftest.py":
            return False
        if is_pytest_file_name(unit.path) or in_test_folder(unit.path):
            return True
        return bool(_IMPORTS_TEST_FRAMEWORK.search(unit.code))

    def test_nodes(
        self, unit: CodeUnit
    ) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, ast.ClassDef | None]]:
        """Test functions and methods of one file, in source order."""
        assert unit.tree is not None
        for node in unit.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name.startswith("test") and not _is_fixture(node):
                    yield node, None
            elif isinstance(node, ast.ClassDef) and _is_test_class(node):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                        item.name.startswith("test")
                    ):
                        yield item, node

    # ----------------------------------------------------------------- one test

    def read_test(
        self,
        unit: CodeUnit,
        func: ast.FunctionDef | ast.AsyncFunctionDef,
        owner: ast.ClassDef | None,
        helper_kinds: dict[str, frozenset[str]],
    ) -> StaticTest:
        """Judge one test function or method (see :class:`StaticTest`)."""
        ctx = self.context(unit)
        conftests = self.conftests_for(unit.path)
        context_nodes: list[ast.AST] = [func]
        if owner is not None:  # setUp, fixtures and helpers of the class
            context_nodes += [
                n for n in owner.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                and not n.name.startswith("test")
            ]  # fmt: skip
        called = {
            (dotted_name(c.func) or "").removeprefix("self.")
            for c in _nodes(func) if isinstance(c, ast.Call)
        }  # fmt: skip
        context_nodes += [ctx.functions[n] for n in sorted(called) if n in ctx.functions]
        modules: set[str] = set()
        for node in context_nodes:
            modules |= _modules_used(node, ctx, self.index)
        params = [a.arg for a in func.args.args if a.arg not in {"self", "cls"}]
        modules |= self._fixture_modules(params, ctx, conftests)
        modules = {m for m in modules if not _is_test_support(m)}  # test helpers are not the code
        kinds = assertion_kinds(func, helper_kinds)
        broken = self._broken(ctx, func) or misused_candidate_code(func, ctx.origins, self.index)
        decorators = _decorator_names(func) + (_decorator_names(owner) if owner else [])
        parametrised = any("parametri" in n for n in decorators) or "subTest" in called_names(func)
        name = f"{owner.name}.{func.name}" if owner else func.name
        return StaticTest(
            path=unit.path,
            line=func.lineno,
            name=name,
            excerpt=_line(unit, func.lineno),
            asserts=bool(kinds - {"literal"}),
            placeholder=_is_placeholder(func),
            skipped=_unconditionally_skipped(func)
            or (owner is not None and _unconditionally_skipped(owner)),
            kinds=frozenset(kinds - {"literal"}),
            modules=frozenset(modules),
            broken=broken,
            nonportable=self._nonportable(func),
            edge="raises" in kinds or bool(_EDGE_NAME.search(name)) or _edge_inputs(func),
            integration=_integration(unit.path, name, func, modules),
            parametrised=parametrised,
            uses_fixtures=bool(params) or _has_setup(owner),
        )

    def _fixture_modules(
        self, params: list[str], ctx: _FileContext, conftests: list[_FileContext]
    ) -> set[str]:
        """Candidate modules the requested fixtures exercise (fixtures requesting fixtures)."""
        modules: set[str] = set()
        seen: set[str] = set()
        pending = list(params)
        while pending:
            name = pending.pop()
            if name in seen or name in _BUILTIN_FIXTURES:
                continue
            seen.add(name)
            for owner in [ctx, *conftests]:
                fixture = owner.fixtures.get(name)
                if fixture is not None:
                    modules |= _modules_used(fixture, owner, self.index)
                    pending += [a.arg for a in fixture.args.args]
                    break
        return modules

    def _broken(self, ctx: _FileContext, func: ast.AST) -> str | None:
        """The first import problem that stops ``func`` from running, else None."""
        if ctx.module_problems:
            return ctx.module_problems[0][1]
        start = getattr(func, "lineno", 0)
        for first, last, problem in ctx.local_problems:
            if first <= start <= last:
                return problem
        return None

    def _nonportable(self, func: ast.AST) -> str | None:
        """An absolute path, a network call or a data file the submission does not ship."""
        written = {
            c.value for call in _nodes(func) if isinstance(call, ast.Call)
            and _WRITE_CALL.search((dotted_name(call.func) or "").rsplit(".", 1)[-1])
            for c in _nodes(call) if isinstance(c, ast.Constant) and isinstance(c.value, str)
        }  # fmt: skip
        for node in _nodes(func):
            if (
                isinstance(node, ast.Constant) and isinstance(node.value, str)
                and _ABSOLUTE_PATH.match(node.value)
            ):  # fmt: skip
                return f"hard-coded absolute path {clip(node.value, 80)!r}"
        for node in _nodes(func):
            if not isinstance(node, ast.Call):
                continue
            name = dotted_name(node.func) or ""
            if name in _NETWORK_CALLS:
                return f"network call {name}()"
            if not _READ_CALL.search(name.rsplit(".", 1)[-1]):
                continue
            for value in _literal_paths(node):
                shipped = PurePosixPath(value.replace("\\", "/")).name in self.file_names()
                if _DATA_FILE.search(value) and value not in written and not shipped:
                    return f"reads {clip(value, 80)!r}, which the submission does not ship"
        return None


def _literal_paths(call: ast.Call) -> Iterator[str]:
    """String arguments of ``call`` that are whole literal paths (``Path("a", "b.csv")`` too).

    A path built from a variable (a data folder from the environment or a fixture) is not
    literal: the test may be configured to find its data.
    """
    for arg in list(call.args) + [k.value for k in call.keywords]:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            yield arg.value
        elif isinstance(arg, ast.Call) and arg.args and not arg.keywords:
            parts = [a.value for a in arg.args if isinstance(a, ast.Constant)]
            if len(parts) == len(arg.args) and all(isinstance(p, str) for p in parts):
                yield "/".join(parts)


# --------------------------------------------------------------------------- calls


def _signature_problem(
    func: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call, shown: str, method: bool
) -> str | None:
    """Why ``call`` cannot bind to ``func``'s parameters (TypeError at run time), else None."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return None
    args = func.args
    positional = [a.arg for a in args.posonlyargs + args.args][1 if method else 0 :]
    keywords = {a.arg for a in args.args + args.kwonlyargs}
    if args.vararg is None and len(call.args) > len(positional):
        return (
            f"calls {shown} with {len(call.args)} positional arguments, it takes {len(positional)}"
        )
    if args.kwarg is None:
        unknown = sorted(k.arg for k in call.keywords if k.arg and k.arg not in keywords)
        if unknown:
            return f"calls {shown} with {unknown[0]}=, which it does not accept"
    given = set(positional[: len(call.args)]) | {k.arg for k in call.keywords if k.arg}
    required = positional[: len(positional) - len(args.defaults)]
    required += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]
    missing = [name for name in required if name not in given]
    if missing and args.vararg is None:
        return f"calls {shown} without its required argument {missing[0]}"
    return None


def _class_attributes(
    cls: ast.ClassDef, module_defs: dict[str, ast.AST], seen: frozenset[str] = frozenset()
) -> set[str] | None:
    """Attributes instances of ``cls`` have (methods, class and ``self.x`` assignments).

    None when they cannot be known: an unknown base, a decorator, ``__getattr__``, ``setattr``.
    """
    names: set[str] = set()
    for base in cls.bases:
        base_name = dotted_name(base) or ""
        if base_name in {"object", "ABC", "abc.ABC"}:
            continue
        parent = module_defs.get(base_name)
        if not isinstance(parent, ast.ClassDef) or base_name in seen:
            return None  # an unknown base, or a cycle in hostile code
        inherited = _class_attributes(parent, module_defs, seen | {cls.name})
        if inherited is None:
            return None
        names |= inherited
    if cls.decorator_list or cls.keywords:
        return None
    for node in _nodes(cls):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name in {"__getattr__", "__getattribute__"}:
                return None
            names.add(node.name)
        elif isinstance(node, ast.Call) and dotted_name(node.func) in {"setattr", "vars"}:
            return None
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _init_of(cls: ast.ClassDef) -> ast.FunctionDef | None:
    """The class's own ``__init__``, if it defines one."""
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            return node
    return None


def misused_candidate_code(
    func: ast.AST, origins: dict[str, tuple[str, str]], index: ModuleIndex
) -> str | None:
    """A call the candidate's own function or class cannot accept, or a method it lacks."""
    instances: dict[str, tuple[ast.ClassDef, dict[str, ast.AST]]] = {}
    known: dict[int, set[str] | None] = {}  # class attributes, per class node
    stored = {
        n.attr for n in _nodes(func) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
    }  # fmt: skip
    expected_errors = {
        id(inner) for node in _nodes(func) if isinstance(node, (ast.With, ast.AsyncWith))
        and any(assertion_kind(item.context_expr) == "raises" for item in node.items)
        for stmt in node.body for inner in _nodes(stmt)
    }  # fmt: skip
    for node in _nodes(func):
        if id(node) in expected_errors:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            target = _definition(origins.get(node.func.id), index)
            if target is None:
                continue
            definition, module_defs = target
            problem = None
            if isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not definition.decorator_list:
                    problem = _signature_problem(definition, node, node.func.id, False)
            elif isinstance(definition, ast.ClassDef) and not definition.decorator_list:
                init = _init_of(definition)
                if init is not None:
                    problem = _signature_problem(init, node, node.func.id, True)
                elif not definition.bases and (node.args or node.keywords):
                    problem = f"calls {node.func.id} with arguments, but it defines no __init__"
            if problem:
                return problem
        if (
            isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
        ):  # fmt: skip
            target = _definition(origins.get(node.value.func.id), index)
            if target is not None and isinstance(target[0], ast.ClassDef):
                instances[node.targets[0].id] = (target[0], target[1])
    for node in _nodes(func):
        if (
            isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Name) and node.value.id in instances
            and node.attr not in stored and not node.attr.startswith("__")
        ):  # fmt: skip
            cls, module_defs = instances[node.value.id]
            if id(cls) not in known:
                known[id(cls)] = _class_attributes(cls, module_defs)
            attributes = known[id(cls)]
            if attributes is not None and node.attr not in attributes:
                return f"uses {cls.name}.{node.attr}, which {cls.name} does not define"
    return None


def _definition(
    origin: tuple[str, str] | None, index: ModuleIndex
) -> tuple[ast.AST, dict[str, ast.AST]] | None:
    """The top-level ``def`` / ``class`` an imported name refers to, and its module's defs."""
    if origin is None:
        return None
    if origin not in index.definitions:
        index.definitions[origin] = _find_definition(origin, index)
    return index.definitions[origin]


def _find_definition(
    origin: tuple[str, str], index: ModuleIndex
) -> tuple[ast.AST, dict[str, ast.AST]] | None:
    """Look up the definition :func:`_definition` caches."""
    module, name = origin
    unit = index.units.get(module)
    if unit is None or unit.tree is None:
        return None
    defs: dict[str, ast.AST] = {}
    for node in unit.tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:  # a later rebinding hides the definition: unknown
                if isinstance(t, ast.Name):
                    defs.pop(t.id, None)
    found = defs.get(name)
    return (found, defs) if found is not None else None


def _is_test_support(path: str) -> bool:
    """Test files, ``conftest.py`` and modules under a tests folder."""
    return (
        in_test_folder(path)
        or is_pytest_file_name(path)
        or PurePosixPath(path).name == "conftest.py"
    )


def called_names(func: ast.AST) -> set[str]:
    """Last components of every callee in ``func``."""
    return {
        (dotted_name(c.func) or "").rsplit(".", 1)[-1]
        for c in _nodes(func) if isinstance(c, ast.Call)
    }  # fmt: skip


def _is_test_class(node: ast.ClassDef) -> bool:
    """A ``unittest.TestCase`` subclass, or a ``Test*`` class pytest collects (no ``__init__``)."""
    bases = [dotted_name(b) or "" for b in node.bases]
    if any("TestCase" in b for b in bases):
        return True
    has_init = any(isinstance(n, ast.FunctionDef) and n.name == "__init__" for n in node.body)
    return node.name.startswith("Test") and not has_init


def _has_setup(owner: ast.ClassDef | None) -> bool:
    """The test class prepares state in ``setUp`` / ``setup_method`` (a fixture)."""
    if owner is None:
        return False
    names = {n.name for n in owner.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return bool(names & {"setUp", "setUpClass", "setup_method", "setup_class", "setup"})


def _edge_inputs(func: ast.AST) -> bool:
    """NaN, None, empty containers or empty frames passed to a call."""
    for call in _nodes(func):
        if not isinstance(call, ast.Call):
            continue
        for arg in list(call.args) + [k.value for k in call.keywords]:
            if isinstance(arg, ast.Constant) and arg.value is None:
                return True
            if isinstance(arg, (ast.List, ast.Dict, ast.Tuple)) and not (
                arg.elts if not isinstance(arg, ast.Dict) else arg.keys
            ):
                return True
            text = dotted_name(arg) or ""
            if text.rsplit(".", 1)[-1] in {"nan", "NaN", "inf", "NA", "NaT"}:
                return True
            empty_call = isinstance(arg, ast.Call) and not arg.args and not arg.keywords
            if empty_call and (dotted_name(arg.func) or "").rsplit(".", 1)[-1] in _FRAMES:
                return True
    return False


def _integration(path: str, name: str, func: ast.AST, modules: set[str]) -> bool:
    """Exercises a pipeline end to end: named so, a web/CLI client, or several modules."""
    if not modules:
        return False
    if _INTEGRATION_NAME.search(name) or _INTEGRATION_NAME.search(path):
        return True
    if called_names(func) & (_CLIENT_CALLS | {"run", "check_call", "check_output", "invoke"}):
        return True
    return len(modules) >= 3


def _line(unit: CodeUnit, line: int) -> str:
    """The stripped source line ``line`` of ``unit``, clipped."""
    lines = unit.code.split("\n")
    return clip(lines[line - 1].strip(), 300) if 0 < line <= len(lines) else ""


# --------------------------------------------------------------------------- CI


def _ci_files(root: Path) -> list[Path]:
    """CI and task-runner files at the root (and in a lone top-level folder)."""
    bases = [root]
    try:
        entries = [e for e in root.iterdir() if not e.name.startswith(".")]
    except OSError:
        entries = []
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        bases.append(entries[0])
    found: list[Path] = []
    for base in bases:
        workflows = base / ".github" / "workflows"
        if workflows.is_dir() and not workflows.is_symlink():
            try:
                listed = sorted(workflows.iterdir())[:MAX_WORKFLOWS]
            except OSError:
                listed = []
            found += [p for p in listed if p.suffix.lower() in {".yml", ".yaml"}]
        for name in (".gitlab-ci.yml", ".circleci/config.yml", "azure-pipelines.yml",
                     "bitbucket-pipelines.yml", "Jenkinsfile", ".travis.yml", "tox.ini",
                     "noxfile.py", "Makefile", "makefile", ".pre-commit-config.yaml"):  # fmt: skip
            path = base / name
            if path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def read_ci(root: Path) -> list[CiConfig]:
    """Each CI / task-runner file and whether (and where) it runs the tests."""
    configs: list[CiConfig] = []
    for path in _ci_files(root):
        text = read_text_capped(path, MAX_CI_BYTES)
        if text is None:
            continue
        rel = path.relative_to(root).as_posix()
        line_no, excerpt = _ci_test_line(text, path.name)
        configs.append(CiConfig(rel, line_no, excerpt, line_no is not None))
    return configs


def _ci_test_line(text: str, name: str) -> tuple[int | None, str]:
    """The first line that runs the tests (comments ignored), or (None, "")."""
    lines = text.split("\n")
    if name.lower() == "makefile":
        for match in _MAKE_TEST_TARGET.finditer(text):
            start = text.count("\n", 0, match.start())
            for offset, line in enumerate(lines[start + 1 : start + 15], start=start + 2):
                if not line.startswith(("\t", " ")):
                    break
                if _CI_RUNS_TESTS.search(line):
                    return offset, clip(line.strip(), 200)
        return None, ""
    for number, line in enumerate(lines, start=1):
        code = line.split("#", 1)[0] if not name.endswith(".py") else line
        if _CI_RUNS_TESTS.search(code) and not re.search(r"pip\s+install|uses:", code):
            return number, clip(line.strip(), 200)
    return None, ""


# --------------------------------------------------------------------------- suite


def _defines_code(unit: CodeUnit) -> bool:
    """The module defines a function or a class at top level."""
    assert unit.tree is not None
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in unit.tree.body
    )


def test_file_paths(source: SubmissionSource) -> list[str]:
    """The ``.py`` files :func:`read_suite` reads tests from, whatever their names (sorted).

    The sandbox runs pytest on these explicitly, so a module of real tests that pytest's default
    ``test_*.py`` pattern would skip is run as well as read.
    """
    reader = _Reader(source, source.root)
    return sorted(
        u.path for u in reader.units
        if reader.is_test_file(u) and (is_pytest_file_name(u.path) or any(reader.test_nodes(u)))
    )  # fmt: skip


def read_suite(source: SubmissionSource, root: Path) -> SuiteReading:
    """Read every test of the submission, its imports, fixtures, CI and module breadth."""
    reader = _Reader(source, root)
    reading = SuiteReading()
    test_paths: set[str] = set()
    for unit in reader.units:
        if not reader.is_test_file(unit):
            continue
        nodes = list(reader.test_nodes(unit))
        if not nodes and not is_pytest_file_name(unit.path):
            continue
        reading.test_files.append(unit.path)
        test_paths.add(unit.path)
        ctx = reader.context(unit)
        for line, problem in ctx.module_problems:
            reading.broken_imports.append((unit.path, line, problem))
        reading.broken_imports += [(unit.path, s, p) for s, _, p in ctx.local_problems]
        helper_kinds = _helper_kinds(ctx.functions)
        for func, owner in nodes:
            reading.tests.append(reader.read_test(unit, func, owner, helper_kinds))
        for name, fixture in ctx.fixtures.items():
            reading.fixtures.append((unit.path, fixture.lineno, name))
    for path in sorted(test_paths):
        for conftest in reader.conftests_for(path):
            for name, fixture in conftest.fixtures.items():
                entry = (conftest.unit.path, fixture.lineno, name)
                if entry not in reading.fixtures:
                    reading.fixtures.append(entry)
    reading.fixtures.sort()
    reading.broken_imports = sorted(set(reading.broken_imports))
    reading.tests.sort(key=lambda t: (t.path, t.line, t.name))
    reading.candidate_modules = sorted(
        u.path for u in reader.units
        if u.path not in test_paths and not in_test_folder(u.path)
        and PurePosixPath(u.path).name not in NOT_CANDIDATE_FILES
        and not is_pytest_file_name(u.path) and _defines_code(u)
    )  # fmt: skip
    candidates = set(reading.candidate_modules)
    reading.exercised_modules = sorted(
        {m for t in reading.meaningful for m in t.modules if m in candidates}
    )
    reading.ci = read_ci(root)
    return reading
