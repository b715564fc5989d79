"""Checks stage (in the sandbox, without the hidden features): environment, tests, lint.

Usage (cwd /workspace, as the candidate user; one exec per mode)::

    python3 -I /opt/takehome/checks_stage.py env
    python3 -I /opt/takehome/checks_stage.py tests [--timeout S]
    python3 -I /opt/takehome/checks_stage.py lint [--timeout S]

``env``
    ``environment.json``: the image's installed packages (``importlib.metadata``) and an
    ``integrity`` inventory of submission files that can change how tools behave: conftest.py
    files and the pytest hooks they define, pytest config files, sitecustomize/usercustomize
    modules, ``*.pth`` files, pylint and coverage config files. Exit 0.
``tests``
    The candidate's tests (``test_*.py``/``*_test.py``) under coverage, with the harness's own
    settings: ``coverage run --rcfile=<ours>`` (source = the workspace minus tests),
    ``pytest -p no:cacheprovider -o addopts= --rootdir=/workspace --junitxml=junit.xml``,
    ``PYTHONDONTWRITEBYTECODE=1``, plugin autoload off. Writes ``junit.xml``, ``coverage.json``
    and ``tests.json`` (argv, exit codes, timings). Exit status: pytest's (0 passed, 1 some
    failed, 5 none collected, ...), 124 on timeout.
``lint``
    pylint with ``--rcfile=/opt/takehome/pylintrc`` (the candidate's pylintrc, setup.cfg and
    pyproject settings are never read: an explicit rcfile disables discovery) on the
    candidate's .py files and on notebook code exported to ``/tmp`` (magics commented out;
    ``lint_sources.json`` maps export lines back to notebook cells). Writes ``pylint.json``
    (json2) and ``lint.json``. Exit 0 when pylint produced its report, 1 otherwise.

The tools run as ``python -E -s`` (no PYTHON* variables, no user site); pylint with ``-I``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from stage_common import cap_tail, output_dir, run_bounded, walk_files, write_json

HERE = Path(__file__).resolve().parent
PYLINTRC = HERE / "pylintrc"
SCRATCH = Path(tempfile.gettempdir()) / "takehome"  # /tmp/takehome in the sandbox
MAX_PY_FILES = 500
MAX_PY_BYTES = 1_000_000
MAX_TEST_FILES = 500
MAX_NOTEBOOKS = 50
MAX_NOTEBOOK_BYTES = 20_000_000
MAX_HOOK_FILES = 50
TOOL_OUTPUT_CHARS = 16_000
PYTEST_CONFIGS = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
PYLINT_CONFIGS = ("pylintrc", ".pylintrc", "pyproject.toml", "setup.cfg", "tox.ini")
COVERAGE_CONFIGS = (".coveragerc", "setup.cfg", "tox.ini", "pyproject.toml")


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def is_test_file(path: Path) -> bool:
    """pytest's default test file patterns."""
    return path.suffix == ".py" and (path.name.startswith("test_") or path.stem.endswith("_test"))


def _mentions(path: Path, needle: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return needle.encode() in handle.read(MAX_PY_BYTES)
    except OSError:
        return False


def pytest_hooks(path: Path) -> dict[str, Any]:
    """Hook functions (``pytest_*``) and ``pytest_plugins`` a conftest.py defines (by AST)."""
    try:
        tree = ast.parse(path.read_bytes()[:MAX_PY_BYTES])
    except (SyntaxError, ValueError, OSError):
        return {"hooks": [], "plugins": False, "parse_error": True}
    hooks, plugins = set(), False
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(
            "pytest_"
        ):
            hooks.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in targets):
                plugins = True
    return {"hooks": sorted(hooks), "plugins": plugins, "parse_error": False}


def integrity(workspace: Path) -> dict[str, Any]:
    """Inventory of submission files that change how Python, pytest, pylint or coverage run."""
    files = walk_files(workspace)
    rels = [_rel(p, workspace) for p in files]
    conftests = [p for p in files if p.name == "conftest.py"]
    hooks = []
    for path in conftests[:MAX_HOOK_FILES]:
        found = pytest_hooks(path)
        if found["hooks"] or found["plugins"] or found["parse_error"]:
            hooks.append({"path": _rel(path, workspace), **found})
    top = {p.name: p for p in files if p.parent == workspace}

    def configs(names: tuple[str, ...], section: str) -> list[str]:
        out = []
        for name in names:
            path = top.get(name)
            if path is None:
                continue
            if name in {"pyproject.toml", "setup.cfg", "tox.ini"} and not _mentions(path, section):
                continue
            out.append(name)
        return out

    return {
        "conftest": [_rel(p, workspace) for p in conftests],
        "pytest_hooks": hooks,
        "pytest_config": configs(PYTEST_CONFIGS, "pytest"),
        "sitecustomize": [
            r for r in rels if Path(r).name in {"sitecustomize.py", "usercustomize.py"}
        ],
        "pth_files": [r for r in rels if r.endswith(".pth")],
        "pylintrc": configs(PYLINT_CONFIGS, "pylint"),
        "coverage_config": configs(COVERAGE_CONFIGS, "coverage"),
    }


def packages() -> dict[str, str]:
    """``{name: version}`` of the distributions installed where this interpreter looks."""
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            found.setdefault(str(name).lower(), str(dist.version))
    return dict(sorted(found.items()))


def mode_env(workspace: Path, out: Path) -> int:
    write_json(
        out / "environment.json",
        {
            "python": platform.python_version(),
            "executable": sys.executable,
            "packages": packages(),
            "integrity": integrity(workspace),
        },
    )
    return 0


def _tool_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("PYTHON", "PYTEST_", "COVERAGE_", "PYLINT")):
            del env[key]
    env.update(
        PYTHONDONTWRITEBYTECODE="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        MPLBACKEND="Agg",
    )
    return env


def source_files(workspace: Path) -> list[Path]:
    """The candidate's .py files (size-capped, bounded count)."""
    files = [
        p for p in walk_files(workspace) if p.suffix == ".py" and p.stat().st_size <= MAX_PY_BYTES
    ]
    return files[:MAX_PY_FILES]


def _coveragerc(workspace: Path) -> Path:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    rc = SCRATCH / "coveragerc"
    rc.write_text(
        "[run]\n"
        f"data_file = {SCRATCH / 'coverage.data'}\n"
        f"source = {workspace}\n"
        "omit =\n    */tests/*\n    */test/*\n    */test_*.py\n    */*_test.py\n"
        f"    */conftest.py\n    {SCRATCH}/*\n    /opt/*\n"
        "relative_files = True\n"
        "branch = False\n"
        "[report]\nignore_errors = True\n",
        encoding="utf-8",
    )
    return rc


def mode_tests(workspace: Path, out: Path, timeout_s: float) -> int:
    started = time.monotonic()
    tests = [p for p in walk_files(workspace) if is_test_file(p)][:MAX_TEST_FILES]
    record: dict[str, Any] = {
        "test_files": [_rel(p, workspace) for p in tests],
        "pytest": None,
        "coverage_json": None,
    }
    if not tests:
        record["reason"] = "no test files (test_*.py or *_test.py)"
        write_json(out / "tests.json", record)
        return 5
    rc = _coveragerc(workspace)
    python = [sys.executable, "-E", "-s"]
    argv = python + [
        "-m",
        "coverage",
        "run",
        f"--rcfile={rc}",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "-o",
        "junit_family=xunit2",
        "-o",
        "junit_logging=no",
        f"--rootdir={workspace}",
        f"--junitxml={out / 'junit.xml'}",
        "-q",
        "--color=no",
        *[_rel(p, workspace) for p in tests],
    ]
    env = _tool_env()
    result = run_bounded(argv, cwd=workspace, timeout_s=timeout_s, env=env)
    result["output"] = cap_tail(result["output"], TOOL_OUTPUT_CHARS)
    record["pytest"] = result
    remaining = max(timeout_s - (time.monotonic() - started), 10)
    report = run_bounded(
        python + ["-m", "coverage", "json", f"--rcfile={rc}", "-o", str(out / "coverage.json")],
        cwd=workspace,
        timeout_s=min(remaining, 120),
        env=env,
    )
    report["output"] = cap_tail(report["output"], 4000)
    record["coverage_json"] = report
    record["duration_s"] = round(time.monotonic() - started, 3)
    write_json(out / "tests.json", record)
    if result["timed_out"]:
        return 124
    code = result["exit_code"]
    return code if 0 <= code < 124 else 1


def export_notebook(path: Path, target: Path) -> dict[str, Any] | None:
    """Write a notebook's code cells as one .py file (magics commented out); return its cell map."""
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError):
        return None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        return None
    lines: list[str] = []
    cell_map = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        lines.append(f"# %% cell {index}")
        cell_map.append({"cell": index, "first_line": len(lines) + 1})
        for line in source.splitlines():
            stripped = line.lstrip()
            if stripped.startswith(("%", "!")) or stripped.endswith("?"):
                line = "# " + line  # IPython magics, shell escapes, help
            lines.append(line)
        lines.append("")
    while lines and not lines[-1].strip():
        lines.pop()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"cells": cell_map}


def mode_lint(workspace: Path, out: Path, timeout_s: float) -> int:
    started = time.monotonic()
    files = [_rel(p, workspace) for p in source_files(workspace)]
    exports: dict[str, Any] = {}
    notebooks = [p for p in walk_files(workspace) if p.suffix == ".ipynb"][:MAX_NOTEBOOKS]
    for path in notebooks:
        rel = _rel(path, workspace)
        target = SCRATCH / "notebooks_py" / (rel[: -len(".ipynb")] + ".py")
        mapping = export_notebook(path, target)
        if mapping is not None:
            exports[str(target)] = {"path": rel, **mapping}
    write_json(out / "lint_sources.json", {"notebooks": exports})
    record: dict[str, Any] = {"files": files, "notebook_exports": len(exports), "pylint": None}
    targets = files + sorted(exports)
    if not targets:
        record["reason"] = "no Python files or notebooks"
        write_json(out / "lint.json", record)
        return 0
    report = out / "pylint.json"
    argv = [
        sys.executable,
        "-I",
        "-m",
        "pylint",
        f"--rcfile={PYLINTRC}",
        f"--output-format=json2:{report}",
        "--persistent=n",
        "--jobs=1",
        *targets,
    ]
    result = run_bounded(argv, cwd=workspace, timeout_s=timeout_s, env=_tool_env())
    result["output"] = cap_tail(result["output"], TOOL_OUTPUT_CHARS)
    record["pylint"] = result
    record["duration_s"] = round(time.monotonic() - started, 3)
    write_json(out / "lint.json", record)
    return 0 if report.is_file() and not result["timed_out"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["env", "tests", "lint"])
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--workspace", default=".")
    args = parser.parse_args(argv)
    workspace = Path(args.workspace).resolve()
    out = output_dir()
    if args.mode == "env":
        return mode_env(workspace, out)
    if args.mode == "tests":
        return mode_tests(workspace, out, args.timeout)
    return mode_lint(workspace, out, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
