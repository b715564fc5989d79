"""Checks stage (in the sandbox, without the hidden features): environment, tests, lint.

Usage (cwd /workspace, as the candidate user; one exec per mode)::

    python3 -I /opt/takehome/checks_stage.py env
    python3 -I /opt/takehome/checks_stage.py tests [--timeout S]
    python3 -I /opt/takehome/checks_stage.py lint [--timeout S]
    python3 -I /opt/takehome/checks_stage.py inspect [--timeout S]

``env``
    ``environment.json``: the image's installed packages (``importlib.metadata``) and an
    ``integrity`` inventory of submission files that can change how tools behave: conftest.py
    files and the pytest hooks they define, pytest config files, sitecustomize/usercustomize
    modules, ``*.pth`` files, pylint and coverage config files. Exit 0.
``tests``
    The candidate's tests (``test_*.py``/``*_test.py``) under coverage, with the harness's own
    settings: ``coverage run --rcfile=<ours>`` (source = the workspace minus tests),
    ``pytest -p no:cacheprovider -o addopts= -rN -q --rootdir=/workspace``,
    ``PYTHONDONTWRITEBYTECODE=1``, plugin autoload off. pytest writes its JUnit XML into a
    fresh private directory (random name, mode 0700), read as soon as pytest exits and only
    then copied to ``junit.xml``: a candidate's ``atexit`` handler, hook or background process
    that rewrites ``$TAKEHOME_OUTPUT_DIR/takehome/junit.xml`` is overwritten, and files it
    planted in that folder while the tests ran are listed. Writes ``junit.xml``,
    ``coverage.json`` and ``tests.json`` (argv, exit codes, timings, and the ``evidence`` the
    host cross-checks: pytest's exit code, the JUnit counts parsed at once, pytest's terminal
    summary line, planted files), and prints that evidence as the last line of its own stdout
    (``TAKEHOME_TESTS_EVIDENCE {json}``), a channel candidate code cannot write to. Exit
    status: pytest's (0 passed, 1 some failed, 5 none collected, ...), 124 on timeout.
``lint``
    pylint with ``--rcfile=/opt/takehome/pylintrc`` (the candidate's pylintrc, setup.cfg and
    pyproject settings are never read: an explicit rcfile disables discovery) on the
    candidate's .py files and on notebook code exported to ``/tmp`` (magics commented out;
    ``lint_sources.json`` maps export lines back to notebook cells). Writes ``pylint.json``
    (json2) and ``lint.json``. Exit 0 when pylint produced its report, 1 otherwise. Astroid does
    not analyse installed third-party packages (``lint_hook.py``).
``inspect``
    ``env`` then ``lint`` in one process, as the harness runs them (one exec instead of two).
    An ``env`` failure is reported on stderr and lint still runs; exit 1 when either failed.

The tools run as ``python -E -s`` (no PYTHON* variables, no user site); pylint with ``-I``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from stage_common import cap_tail, output_dir, run_bounded, walk_files, write_json

HERE = Path(__file__).resolve().parent
PYLINTRC = HERE / "pylintrc"
LINT_HOOK = HERE / "lint_hook.py"  # astroid skips installed third-party packages (speed)
LINT_INIT_HOOK = f"import runpy; runpy.run_path({str(LINT_HOOK)!r}, run_name='takehome_lint_hook')"
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
MAX_JUNIT_BYTES = 5_000_000
SUMMARY_LINE_CHARS = 300
EVIDENCE_MARKER = "TAKEHOME_TESTS_EVIDENCE"
# pytest's final line with -q, e.g. "2 failed, 1 passed, 1 warning in 0.12s" or "no tests ran in".
_SUMMARY_LINE = re.compile(
    r"^=*\s*((?:\d+ [a-z]+(?:, )?)+|no tests ran) in [\d.]+s(?: \([^)]*\))?\s*=*$"
)


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


def _nondumpable() -> None:
    """Make this process non-dumpable: same-uid candidate code cannot read its /proc fds."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


def junit_counts(data: bytes) -> dict[str, int] | None:
    """``{tests, passed, failed, error, skipped}`` counted over a JUnit XML's testcases.

    None when the document is missing, too large, declares entities or is not JUnit XML.
    """
    if not data or len(data) > MAX_JUNIT_BYTES or b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return None
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, ValueError, RecursionError):
        return None
    if root.tag not in {"testsuites", "testsuite"}:
        return None
    counts = {"tests": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        outcome = (
            "failed"
            if "failure" in tags
            else "error"
            if "error" in tags
            else "skipped"
            if "skipped" in tags
            else "passed"
        )
        counts["tests"] += 1
        counts[outcome] += 1
    return counts


def summary_lines(output: str) -> list[str]:
    """Every line of ``output`` shaped like pytest's terminal summary, in order, capped.

    pytest prints exactly one; more means something printed a second one after it.
    """
    found = [line.strip() for line in output.splitlines() if _SUMMARY_LINE.match(line.strip())]
    return [line[:SUMMARY_LINE_CHARS] for line in found[-5:]]


def summary_line(output: str) -> str | None:
    """pytest's last terminal summary line (``2 failed, 1 passed in 0.10s``), capped, or None."""
    lines = summary_lines(output)
    return lines[-1] if lines else None


def _snapshot_names(folder: Path) -> dict[str, tuple[int, int]]:
    """``{name: (inode, mtime_ns)}`` of the entries of ``folder`` (not followed)."""
    found: dict[str, tuple[int, int]] = {}
    try:
        for entry in os.scandir(folder):
            info = entry.stat(follow_symlinks=False)
            found[entry.name] = (info.st_ino, info.st_mtime_ns)
    except OSError:
        pass
    return found


def _planted(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """Names created or changed in the harness's output folder while candidate code ran."""
    return sorted(name for name, stamp in after.items() if before.get(name) != stamp)[:50]


def _publish_junit(data: bytes | None, out: Path) -> None:
    """Replace ``out/junit.xml`` (whatever the candidate put there) with pytest's own report."""
    target = out / "junit.xml"
    try:
        if target.is_symlink() or target.is_dir():
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink()
        if data is None:
            target.unlink(missing_ok=True)
            return
        tmp = out / f".junit.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except OSError:
        pass


def _read_private(path: Path) -> bytes | None:
    """The JUnit XML pytest wrote to our private directory (capped; None when absent)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_JUNIT_BYTES + 1)


def _pytest_argv(workspace: Path, rc: Path, junit: Path, tests: list[Path]) -> list[str]:
    return [
        sys.executable,
        "-E",
        "-s",
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
        f"--junitxml={junit}",
        "-rN",
        "-q",
        "--color=no",
        *[_rel(p, workspace) for p in tests],
    ]


def run_pytest(workspace: Path, out: Path, tests: list[Path], timeout_s: float) -> dict[str, Any]:
    """Run the tests with the JUnit XML in a private directory; return result and evidence.

    The report is read the moment pytest exits and only then published as ``out/junit.xml``.
    """
    rc = _coveragerc(workspace)
    private = Path(tempfile.mkdtemp(prefix=f"{os.urandom(6).hex()}-"))  # mode 0700
    junit = private / f"{os.urandom(8).hex()}.xml"
    before = _snapshot_names(out)
    result = run_bounded(
        _pytest_argv(workspace, rc, junit, tests),
        cwd=workspace,
        timeout_s=timeout_s,
        env=_tool_env(),
    )
    data = _read_private(junit)
    planted = _planted(before, _snapshot_names(out))
    shutil.rmtree(private, ignore_errors=True)
    _publish_junit(data, out)
    evidence = {
        "exit_code": result["exit_code"],
        "timed_out": result["timed_out"],
        "junit_counts": junit_counts(data) if data else None,
        "summary_line": summary_line(result["output"]),
        "summary_lines": summary_lines(result["output"]),
        "planted": planted,
    }
    result["output"] = cap_tail(result["output"], TOOL_OUTPUT_CHARS)
    return {"pytest": result, "evidence": evidence, "rc": rc}


def named_test_files(workspace: Path, names: list[str]) -> list[Path]:
    """Test modules the host found by their content, kept when they are regular ``.py`` files
    inside the workspace (no symlink, no ``..``)."""
    found = []
    for name in names:
        path = workspace / name
        if ".." in Path(name).parts or path.suffix != ".py" or path.is_symlink():
            continue
        try:
            resolved = path.resolve(strict=True)
        except OSError:
            continue
        if resolved.is_file() and workspace in resolved.parents:
            found.append(path)
    return found


def mode_tests(workspace: Path, out: Path, timeout_s: float, named: list[str] | None = None) -> int:
    started = time.monotonic()
    _nondumpable()
    pattern = [p for p in walk_files(workspace) if is_test_file(p)]
    tests = sorted(set(pattern) | set(named_test_files(workspace, named or [])))[:MAX_TEST_FILES]
    record: dict[str, Any] = {
        "test_files": [_rel(p, workspace) for p in tests],
        "pytest": None,
        "coverage_json": None,
    }
    if not tests:
        record["reason"] = "no test files (test_*.py or *_test.py)"
        write_json(out / "tests.json", record)
        return 5
    ran = run_pytest(workspace, out, tests, timeout_s)
    result, rc = ran["pytest"], ran["rc"]
    record["pytest"], record["evidence"] = result, ran["evidence"]
    python = [sys.executable, "-E", "-s"]
    remaining = max(timeout_s - (time.monotonic() - started), 10)
    report = run_bounded(
        python + ["-m", "coverage", "json", f"--rcfile={rc}", "-o", str(out / "coverage.json")],
        cwd=workspace,
        timeout_s=min(remaining, 120),
        env=_tool_env(),
    )
    report["output"] = cap_tail(report["output"], 4000)
    record["coverage_json"] = report
    record["duration_s"] = round(time.monotonic() - started, 3)
    write_json(out / "tests.json", record)
    print(f"{EVIDENCE_MARKER} {json.dumps(ran['evidence'], sort_keys=True)}", flush=True)
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
        f"--init-hook={LINT_INIT_HOOK}",
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


def mode_inspect(workspace: Path, out: Path, timeout_s: float) -> int:
    """``env`` then ``lint``; a failed inventory does not stop the lint."""
    env_status = 1
    try:
        env_status = mode_env(workspace, out)
    except Exception as exc:  # noqa: BLE001 - reported, and the lint still runs
        sys.stderr.write(f"takehome-checks: environment inventory failed: {exc!r}\n")
    return mode_lint(workspace, out, timeout_s) or env_status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["env", "tests", "lint", "inspect"])
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--workspace", default=".")
    parser.add_argument("--test-file", action="append", default=[],
                        help="tests: a test module to run whatever its name (repeatable)")
    args = parser.parse_args(argv)
    workspace = Path(args.workspace).resolve()
    out = output_dir()
    if args.mode == "env":
        return mode_env(workspace, out)
    if args.mode == "tests":
        return mode_tests(workspace, out, args.timeout, args.test_file)
    if args.mode == "inspect":
        return mode_inspect(workspace, out, args.timeout)
    return mode_lint(workspace, out, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
