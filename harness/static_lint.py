"""pylint on the host in static mode (``--no-run``), without executing any candidate code.

The lint stage of the sandbox (``sandbox/inside/checks_stage.py`` ``lint``) cannot run without
a container, but pylint only *parses* the code, so static mode runs the same lint on the host and
writes the same two files the grader reads in sandbox mode: ``pylint.json`` (json2) and
``lint_sources.json`` (notebook export lines -> cells), plus ``lint.json`` (what was linted, how
long it took, why not). Same rcfile (``sandbox/inside/pylintrc``, passed explicitly so the
candidate's configuration is never read), same init hook (``lint_hook.py``), same notebook export.

Why no candidate code can run, even though pylint puts the submission's folders on ``sys.path``
while it lints (to resolve first-party imports):

* the lint runs in a child ``python -I`` (no ``PYTHON*`` variables, no user site, no script
  folder on ``sys.path``) with a minimal environment, its cwd a private scratch folder outside
  the submission, under ``RLIMIT_AS`` and a wall-clock timeout (process group killed);
* before pylint is imported the child installs a guard: an audit hook that aborts the ``exec``
  of any code object whose ``co_filename`` is in the submission or in the notebook exports (the
  import system execs every module through that event), any ``import`` of a file there, any
  ``ctypes.dlopen`` of a library there and any process creation; and a ``sys.meta_path`` finder at
  position 0 that never lets a module (source or extension) resolve to those folders: a name the
  submission shadows (``typing_extensions.py`` beside the code) is served from the interpreter's
  own paths, or refused;
* the rcfile loads no plugin, ``unsafe-load-any-extension=no`` and there is no extension
  allow-list, so astroid never imports a module to inspect it.

Bounded: at most :data:`MAX_LINT_FILES` files and :data:`MAX_LINT_LINES` lines are linted
(modules before tests, then notebooks; ``lint.json`` says what was left out), 30 s by default,
then the code is graded without pylint and the report says so.

Run as a script (``python -I harness/static_lint.py child ...``) this file is the child; it imports
only the standard library, the sandbox's lint helpers and pylint.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INSIDE = HERE.parent / "sandbox" / "inside"
CHECKS_STAGE = INSIDE / "checks_stage.py"
DEFAULT_TIMEOUT_S = 30.0
MEMORY_LIMIT_BYTES = 2 * 1024**3
MAX_LINT_FILES = 120
MAX_LINT_LINES = 6_000
STDERR_CHARS = 4_000
#: Where the sandbox writes notebook exports; the host's reports use the same names.
SANDBOX_SCRATCH = "/tmp/takehome"
SANDBOX_WORKSPACE = "/workspace"
#: Static mode also stops astroid at the standard library (about twice as fast on real
#: submissions; only inference-based messages about stdlib objects can differ from the sandbox).
STDLIB_HOOK = (
    "import astroid.manager as _m, sysconfig as _s, os as _o; "
    "_d = _m.AstroidManager.brain['module_denylist']; "
    "setattr(_d, 'site_dirs', tuple(_d.site_dirs) + "
    "(_o.path.realpath(_s.get_paths()['stdlib']) + _o.sep,)) if hasattr(_d, 'site_dirs') else None"
)
#: Audit events that start another program: pylint never needs one.
_PROCESS_EVENTS = frozenset(
    {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
     "subprocess.Popen", "pty.spawn"}
)  # fmt: skip


# --------------------------------------------------------------------------- host side


def run_static_lint(
    snapshot_root: Path, out_dir: Path, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[str, Any]:
    """Lint ``snapshot_root`` into ``out_dir`` (pylint.json, lint_sources.json, lint.json).

    Returns the ``lint.json`` record; its ``status`` is ``ok``, ``no_code``, ``timeout`` or
    ``failed`` (with a ``reason``). Never raises for anything the submission contains.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("pylint.json", "lint_sources.json", "lint.json"):
        (out_dir / name).unlink(missing_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="takehome-lint-"))
    started = time.monotonic()
    try:
        record = _run_child(Path(snapshot_root).resolve(), out_dir, scratch, timeout_s)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    record["duration_s"] = round(time.monotonic() - started, 3)
    _write_json(out_dir / "lint.json", record)
    return record


def start_static_lint(
    snapshot_root: Path, out_dir: Path, timings: dict[str, float] | None = None
) -> Callable[[], None]:
    """Start :func:`run_static_lint` in a background thread; return the function that waits.

    The lint is a child process, so graders that do not read it run meanwhile. The wait records
    the lint's wall time in ``timings["static_lint"]``.
    """
    started = time.monotonic()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            run_static_lint(snapshot_root, out_dir)
        except Exception as exc:  # noqa: BLE001 - the grader then reports "no report"
            errors.append(exc)

    thread = threading.Thread(target=work, name="takehome-static-lint", daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if timings is not None:
            timings["static_lint"] = round(time.monotonic() - started, 3)

    return wait


def _run_child(root: Path, out_dir: Path, scratch: Path, timeout_s: float) -> dict[str, Any]:
    argv = [
        sys.executable, "-I", str(Path(__file__).resolve()), "child",
        "--workspace", str(root), "--out", str(out_dir), "--scratch", str(scratch),
    ]  # fmt: skip
    env = {
        "PATH": os.defpath,
        "LC_ALL": "C.UTF-8",
        "HOME": str(scratch),
        "PYLINTHOME": str(scratch / "pylint-home"),
        "XDG_CACHE_HOME": str(scratch / "cache"),
    }
    try:
        proc = subprocess.Popen(
            argv, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        return {"status": "failed", "reason": f"could not start the lint: {exc}"}
    try:
        _, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        (out_dir / "pylint.json").unlink(missing_ok=True)
        return {"status": "timeout", "reason": f"pylint did not finish within {timeout_s:g} s"}
    child = _read_json(out_dir / "lint.json")
    record = child if isinstance(child, dict) else {}
    tail = stderr.decode("utf-8", "replace")[-STDERR_CHARS:]
    if proc.returncode != 0 or not record.get("status"):
        (out_dir / "pylint.json").unlink(missing_ok=True)
        reason = "out of memory" if "MemoryError" in tail else f"exit {proc.returncode}"
        return {**record, "status": "failed", "reason": f"pylint failed ({reason})",
                "stderr_tail": tail}  # fmt: skip
    return record


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.wait()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, document: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- the guard


class CandidateCodeBlocked(RuntimeError):
    """Raised by the guard when something would execute code from the submission."""


def _inside(path: object, roots: tuple[str, ...]) -> bool:
    if not isinstance(path, (str, bytes, os.PathLike)):
        return False
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (OSError, ValueError, TypeError):
        return True  # cannot tell: refuse
    return (real + os.sep).startswith(roots)


def install_guard(guarded: list[Path]) -> None:
    """Refuse, in this process, every execution or import of code from ``guarded`` folders."""
    roots = tuple(os.path.realpath(p) + os.sep for p in guarded)

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if event == "exec":
            if _inside(getattr(args[0], "co_filename", None), roots):
                raise CandidateCodeBlocked(f"exec of {args[0].co_filename}")
        elif event == "import":
            if len(args) > 1 and _inside(args[1], roots):
                raise CandidateCodeBlocked(f"import of {args[1]}")
        elif event == "ctypes.dlopen":
            if args and _inside(args[0], roots):
                raise CandidateCodeBlocked(f"dlopen of {args[0]}")
        elif event in _PROCESS_EVENTS:
            raise CandidateCodeBlocked(f"{event} refused while linting")

    class SubmissionModuleRefuser:
        """A module that resolves into the submission is looked up elsewhere, or refused."""

        @classmethod
        def find_spec(cls, name, path=None, target=None):
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or not _spec_inside(spec, roots):
                return None  # the ordinary finders decide
            safe = [p for p in (sys.path if path is None else path) if not _inside(p, roots)]
            spec = importlib.machinery.PathFinder.find_spec(name, safe)
            if spec is None or _spec_inside(spec, roots):
                raise ImportError(f"takehome refuses to import {name!r} from the submission")
            return spec

        @classmethod
        def invalidate_caches(cls) -> None:
            """Nothing cached here."""

    sys.meta_path.insert(0, SubmissionModuleRefuser)  # type: ignore[arg-type]
    sys.addaudithook(audit)


def _spec_inside(spec: importlib.machinery.ModuleSpec, roots: tuple[str, ...]) -> bool:
    places = [spec.origin, *(spec.submodule_search_locations or [])]
    return any(_inside(place, roots) for place in places if place)


# --------------------------------------------------------------------------- child side


def _load_checks_stage() -> Any:
    spec = importlib.util.spec_from_file_location("takehome_checks_stage", CHECKS_STAGE)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {CHECKS_STAGE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _line_count(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return handle.read(2_000_000).count(b"\n") + 1
    except OSError:
        return 0


def select_targets(
    stage: Any, root: Path, scratch: Path
) -> tuple[list[Path], dict[str, Any], dict[str, Any]]:
    """Files to lint (modules, then tests, then notebook exports), within the caps.

    Returns ``(py files, {canonical export path: {path, cells}}, {real export: canonical})``
    and records the left-out counts on the module-level ``LEFT_OUT``.
    """
    files = stage.source_files(root)
    files.sort(key=lambda p: (stage.is_test_file(p), p.as_posix()))
    notebooks = [p for p in stage.walk_files(root) if p.suffix == ".ipynb"][: stage.MAX_NOTEBOOKS]
    chosen: list[Path] = []
    lines = 0
    for path in files:
        size = _line_count(path)
        if len(chosen) >= MAX_LINT_FILES or lines + size > MAX_LINT_LINES:
            LEFT_OUT["files"] += 1
            continue
        chosen.append(path)
        lines += size
    exports: dict[str, Any] = {}
    real_to_canonical: dict[str, str] = {}
    for path in notebooks:
        rel = path.relative_to(root).as_posix()
        target = scratch / "notebooks_py" / (rel[: -len(".ipynb")] + ".py")
        mapping = stage.export_notebook(path, target)
        if mapping is None:
            continue
        size = _line_count(target)
        if len(chosen) + len(exports) >= MAX_LINT_FILES or lines + size > MAX_LINT_LINES:
            LEFT_OUT["notebooks"] += 1
            target.unlink(missing_ok=True)
            continue
        lines += size
        canonical = f"{SANDBOX_SCRATCH}/notebooks_py/{rel[: -len('.ipynb')]}.py"
        exports[canonical] = {"path": rel, **mapping}
        real_to_canonical[str(target)] = canonical
    LEFT_OUT["lines_linted"] = lines
    return chosen, exports, real_to_canonical


LEFT_OUT: dict[str, int] = {"files": 0, "notebooks": 0, "lines_linted": 0}


def _relocate(report: Any, root: Path, real_to_canonical: dict[str, str]) -> Any:
    """Message paths as the sandbox reports them (workspace-relative, canonical exports)."""
    if not isinstance(report, dict) or not isinstance(report.get("messages"), list):
        return report
    prefix = str(root) + os.sep
    for message in report["messages"]:
        if not isinstance(message, dict):
            continue
        absolute = str(message.get("absolutePath") or message.get("path") or "")
        if absolute in real_to_canonical:
            message["path"] = message["absolutePath"] = real_to_canonical[absolute]
        elif absolute.startswith(prefix):
            rel = absolute[len(prefix) :]
            message["path"], message["absolutePath"] = rel, f"{SANDBOX_WORKSPACE}/{rel}"
    return report


def child_main(argv: list[str]) -> int:
    """Guard, bound, select, export, lint, relocate; write the three files into ``--out``."""
    import argparse
    import resource

    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--scratch", required=True)
    args = parser.parse_args(argv)
    root, out, scratch = Path(args.workspace), Path(args.out), Path(args.scratch)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    exports_dir = scratch / "notebooks_py"
    exports_dir.mkdir(parents=True, exist_ok=True)
    install_guard([root, exports_dir])
    os.chdir(scratch)
    stage = _load_checks_stage()
    files, exports, real_to_canonical = select_targets(stage, root, scratch)
    _write_json(out / "lint_sources.json", {"notebooks": exports})
    record: dict[str, Any] = {
        "mode": "static",
        "files": [p.relative_to(root).as_posix() for p in files],
        "notebook_exports": len(exports),
        "left_out": dict(LEFT_OUT),
    }
    targets = [str(p) for p in files] + sorted(real_to_canonical)
    if not targets:
        _write_json(out / "lint.json", {**record, "status": "no_code"})
        return 0
    report = scratch / "pylint.json"
    from pylint.lint import Run

    try:
        runner = Run(
            [
                f"--rcfile={stage.PYLINTRC}",
                f"--init-hook={stage.LINT_INIT_HOOK}; {STDLIB_HOOK}",
                f"--output-format=json2:{report}",
                "--persistent=n",
                "--jobs=1",
                *targets,
            ],
            exit=False,
        )
        close = getattr(runner.linter.reporter, "close_output_files", None)
        if callable(close):
            close()  # json2 reports are flushed only when the reporter closes them
    except CandidateCodeBlocked as exc:  # pragma: no cover - the guard did its job
        record["blocked"] = str(exc)[:300]
    document = _relocate(_read_json(report), root, real_to_canonical)
    if not isinstance(document, dict):
        _write_json(out / "lint.json", {**record, "status": "failed", "reason": "no report"})
        return 0
    _write_json(out / "pylint.json", document)
    _write_json(out / "lint.json", {**record, "status": "ok"})
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        sys.exit(child_main(sys.argv[2:]))
    sys.exit("usage: python -I static_lint.py child --workspace DIR --out DIR --scratch DIR")
