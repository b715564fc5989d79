"""Sandbox stages: run a snapshot's code in containers and collect its artifacts safely.

Two containers per submission, each from the sandbox image (see docs/architecture.md):

``run``
    ``/data`` holds copies of the public ``train.csv`` and the held-out ``test_features.csv``
    (or the public sample when ``hidden=False``, as ``takehome check`` does). One exec of
    ``/opt/takehome/run_stage.py`` runs the repository's run command and the selected notebooks
    within the assignment's wall-time budget. ``/output`` is copied to ``artifacts/run``.
``checks``
    Only when the submission has test files or .py files. ``/data`` holds the public train set
    and the public *sample* features only (never the hidden features). Execs of
    ``/opt/takehome/checks_stage.py``, in this order: ``tests`` (pytest under coverage in
    ``/workspace``, only with test files), then ``inspect``: the environment inventory
    (packages, integrity findings) and ``lint`` (pylint with the harness's rcfile) in one exec,
    both reading the read-only ``/submission`` so that code run by the tests cannot change what
    they inspect. ``/output`` is copied to ``artifacts/checks``.

The held-out *labels* are never copied, mounted or read here. Each exec gives a
:class:`graders.base.StageRecord` (``run``, ``tests``, ``lint``; ``lint`` also covers the
environment inventory) whose verdict comes from the host. ``sandbox_error`` is a harness fault
and stays one: it is never turned into a candidate failure.

Artifacts layout under ``work_dir``::

    data/run/{train.csv,test_features.csv}       copies mounted at /data in the run container
    data/checks/{train.csv,test_features.csv}    public sample features for the checks container
    artifacts/run/                               the run container's /output
        <predictions_file>, *.png ...            written by the candidate's code
        takehome/run.json, command.log, notebooks/<rel path>
    artifacts/checks/takehome/                   environment.json, junit.xml, coverage.json,
                                                 pylint.json, tests.json, lint.json,
                                                 lint_sources.json
    artifacts/stages.json                        stage records, timings, container starts
    artifacts/copyout-{run,checks}.json          what each copy-out kept and dropped (why)
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts.errors import SpecError
from graders.artifacts import read_image_capped, read_json_capped
from graders.base import Artifacts, StageRecord, clip
from graders.source import load_source
from graders.testing_static import is_pytest_file_name, test_file_paths
from harness.assignment import Assignment, RunConfigError, run_command_for
from harness.footprint import checks_keep_rules, record_copy_out, remove_scratch, run_keep_rules
from sandbox.limits import Limits

if TYPE_CHECKING:
    from harness.intake import Snapshot
    from sandbox.copyout import CopyReport
    from sandbox.runner import RunResult

Progress = Callable[[str], None]

STAGE_NAMES = ("run", "checks")
#: Progress message once the checks container is gone: a core is free for host work.
CHECKS_DONE = "sandbox: checks done"
MAX_NOTEBOOKS = 20
MAX_FIGURES = 50
RUN_JSON_BYTES = 4_000_000
SAVE_MARGIN_S = 15.0  # run_stage.py's budget stops this long before the host's timer
CHECKS_TIMEOUT_S = 600.0  # cap per checks exec (tests, lint)
CHECKS_STAGGER_MAX_S = 10.0  # the checks container waits at most this long for the run one
FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg")
RUN_SCRIPT = "/opt/takehome/run_stage.py"
CHECKS_SCRIPT = "/opt/takehome/checks_stage.py"
MAX_NAMED_TEST_FILES = 200
PYTHON = ["python3", "-I"]


# --- what the in-container scripts report (hostile input: validated and capped) ------------------


class NotebookRun(BaseModel):
    """One notebook entry of run.json."""

    model_config = ConfigDict(extra="ignore")

    path: str = Field(max_length=1000)
    status: Literal[
        "ok", "error", "timeout", "kernel_died", "budget_exhausted", "unreadable", "missing"
    ]
    failing_cell: int | None = Field(default=None, ge=0, le=100_000)
    ename: str | None = None
    evalue: str | None = None
    traceback: str | None = None
    cells_executed: int = Field(default=0, ge=0, le=100_000)
    duration_s: float = Field(default=0.0, ge=0, le=10**7)

    @field_validator("ename")
    @classmethod
    def _clip_ename(cls, value: str | None) -> str | None:
        return None if value is None else clip(value, 200)

    @field_validator("evalue")
    @classmethod
    def _clip_evalue(cls, value: str | None) -> str | None:
        return None if value is None else clip(value, 2000)

    @field_validator("traceback")
    @classmethod
    def _clip_traceback(cls, value: str | None) -> str | None:
        return None if value is None else clip(value, 8000)


class CommandRun(BaseModel):
    """The command entry of run.json."""

    model_config = ConfigDict(extra="ignore")

    argv: list[str] = Field(max_length=1000)
    exit_code: int | None = None
    duration_s: float = Field(default=0.0, ge=0, le=10**7)
    timed_out: bool = False


class RunReport(BaseModel):
    """run.json as written by run_stage.py."""

    model_config = ConfigDict(extra="ignore")

    notebooks: list[NotebookRun] = Field(default_factory=list, max_length=MAX_NOTEBOOKS * 2)
    command: CommandRun | None = None


def read_run_report(path: Path) -> RunReport | None:
    """Parse run.json (size-capped, schema-checked); None when missing or invalid."""
    data = read_json_capped(path, RUN_JSON_BYTES)
    if data is None:
        return None
    try:
        return RunReport.model_validate(data)
    except ValidationError:
        return None


# --- result type ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageArtifacts(Artifacts):
    """:class:`Artifacts` plus how the stages ran: container starts and timings (seconds).

    ``timings`` keys: ``data``, ``<container>_start`` (run/checks: create + copy of the
    submission), ``<exec>_exec`` (run, tests, lint), ``<container>_copy_out``,
    ``<container>_total``.
    """

    container_starts: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    run_report: RunReport | None = None


# --- choosing what runs --------------------------------------------------------------------------


def is_test_file(rel: str) -> bool:
    """pytest's default test file patterns (``test_*.py``, ``*_test.py``), as the tests grader
    reads them."""
    return is_pytest_file_name(rel)


def named_test_files(snapshot: Snapshot) -> list[str]:
    """Test modules found by their content (``graders.testing_static``) that pytest's default
    patterns would not collect; the tests stage passes them to pytest explicitly."""
    found = test_file_paths(load_source(snapshot.root))
    return [rel for rel in found if not is_test_file(rel)][:MAX_NAMED_TEST_FILES]


def select_notebooks(snapshot: Snapshot, assignment: Assignment) -> list[str]:
    """Which notebooks the run stage executes, in order.

    Empty when ``submission.execute_notebooks`` is off. Otherwise: the notebook the assignment
    names, when the submission has it; else the only notebook (a notebook submission, or a
    repository with one); else the named notebook (the run records it as missing); else every
    notebook, sorted, at most :data:`MAX_NOTEBOOKS`.
    """
    contract = assignment.spec.submission
    if not contract.execute_notebooks:
        return []
    notebooks = sorted(snapshot.notebooks)
    named = contract.notebook
    if named and named in notebooks:
        return [named]
    if len(notebooks) == 1:
        return notebooks
    if named:
        return [named]
    return notebooks[:MAX_NOTEBOOKS]


def effective_limits(assignment: Assignment, limits: Limits | None = None) -> Limits:
    """The sandbox limits: ``limits`` when given, else the defaults with the assignment's
    ``wall_time_s``, ``memory_mb`` and ``cpus``."""
    if limits is not None:
        return limits
    spec_limits = assignment.spec.limits
    return Limits(
        wall_time_s=float(spec_limits.wall_time_s),
        memory_mb=int(spec_limits.memory_mb),
        cpus=float(spec_limits.cpus),
    )


def _copy_data(dest: Path, train: Path, features: Path) -> Path:
    """Fresh copies (new inodes) of the two public-side files, readable by the sandbox user."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for source, name in ((train, "train.csv"), (features, "test_features.csv")):
        if not source.is_file():
            raise SpecError(
                f"{source}: missing assignment data file", hint="check public/ and hidden/"
            )
        target = dest / name
        shutil.copyfile(source, target)
        target.chmod(0o644)
    dest.chmod(0o755)
    return dest


# --- records -------------------------------------------------------------------------------------


def _record(stage: str, result: RunResult) -> StageRecord:
    verdict = getattr(result.verdict, "value", result.verdict)
    return StageRecord(
        stage=stage,
        verdict=str(verdict),
        reason=result.reason or "",
        exit_code=result.exit_code,
        wall_time_s=round(float(result.wall_time_s or 0.0), 3),
        peak_memory_bytes=result.peak_memory_bytes,
        stdout_tail=result.stdout_tail or "",
        stderr_tail=result.stderr_tail or "",
    )


def _apply_copy_report(record: StageRecord, report: CopyReport) -> StageRecord:
    """Fold a copy-out outcome into a record, as run_in_sandbox does (and what was not kept)."""
    if getattr(report, "dropped_files", 0):
        record = record.model_copy(update={"reason": clip(_join(record.reason,
                                                                report.dropped_note()), 2000)})
    if report.error is not None:
        update: dict[str, Any] = {"reason": _join(record.reason, report.error)}
        if record.verdict == "ok":
            update["verdict"] = "sandbox_error"
        return record.model_copy(update=update)
    if not report.ok:
        update = {"reason": _join(record.reason, report.violation_reason())}
        if record.verdict in ("ok", "exit_nonzero"):
            update["verdict"] = "output_limit"
        return record.model_copy(update=update)
    return record


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _run_reason(record: StageRecord, report: RunReport | None, config_error: str) -> StageRecord:
    """Say in one line what failed in the run (exit code alone says little)."""
    if record.verdict in ("sandbox_error", "timeout", "oom", "pids_exhausted"):
        return record.model_copy(update={"reason": _join(config_error, record.reason)})
    problems = [config_error] if config_error else []
    if report is not None:
        command = report.command
        if command is not None and command.exit_code != 0:
            argv = " ".join(command.argv)[:200]
            if command.timed_out:
                problems.append(f"command `{argv}` ran out of time")
            else:
                problems.append(f"command `{argv}` exited with {command.exit_code}")
        for notebook in report.notebooks:
            if notebook.status != "ok":
                where = (
                    f" in cell {notebook.failing_cell}" if notebook.failing_cell is not None else ""
                )
                what = f": {notebook.ename}" if notebook.ename else ""
                problems.append(f"{notebook.path}: {notebook.status}{where}{what}")
    elif record.verdict == "ok":
        problems.append("run.json is missing or invalid")
    update: dict[str, Any] = {}
    if problems:
        update["reason"] = clip(
            _join(*problems, record.reason if record.verdict != "ok" else ""), 1000
        )
    if config_error and record.verdict == "ok":
        update["verdict"] = "exit_nonzero"
    return record.model_copy(update=update) if update else record


# --- the stages ----------------------------------------------------------------------------------


class SandboxSlots:
    """How many sandbox containers may run at once, shared by the submissions of a batch.

    Each stage container holds a slot while it runs. A lone submission gets its run and checks
    containers side by side (its wall time is the longer of the two, not the sum); when the
    other submissions of the batch already keep the CPUs busy, its containers wait for a slot
    instead of oversubscribing the machine (contention cost more than it saved: see
    docs/benchmarks.md).
    """

    def __init__(self, count: int):
        if count < 1:
            raise ValueError("a batch needs at least one sandbox slot")
        self._semaphore = threading.BoundedSemaphore(count)

    def __enter__(self) -> Self:
        self._semaphore.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._semaphore.release()


class StageClock:
    """Accumulates per-step timings; shared by the run and checks threads."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._lock = threading.Lock()

    def measure(self, key: str, started: float) -> None:
        self._add(key, time.monotonic() - started)

    def split(self, first: str, rest: str, started: float, first_s: float) -> None:
        """Time since ``started``: ``first_s`` of it to ``first``, the remainder to ``rest``."""
        elapsed = time.monotonic() - started
        self._add(first, min(first_s, elapsed))
        self._add(rest, max(elapsed - first_s, 0.0))

    def _add(self, key: str, seconds: float) -> None:
        with self._lock:
            self.timings[key] = round(self.timings.get(key, 0.0) + seconds, 3)


def _run_container(
    snapshot: Snapshot,
    assignment: Assignment,
    *,
    image: str,
    data_dir: Path,
    out_dir: Path,
    limits: Limits,
    notebooks: list[str],
    command: list[str] | None,
    clock: StageClock,
    started_event: threading.Event | None = None,
    removals: list | None = None,
) -> StageRecord:

    argv = [
        *PYTHON,
        RUN_SCRIPT,
        "--budget",
        f"{max(limits.wall_time_s - SAVE_MARGIN_S, 5):g}",
        "--cell-timeout",
        f"{max(limits.wall_time_s - SAVE_MARGIN_S, 5):g}",
    ]
    if command:
        argv += ["--command-json", json.dumps(command)]
    for rel in notebooks:
        argv += ["--notebook", rel]
    started = time.monotonic()
    session = _session(image, snapshot, data_dir, limits, "run", removals)
    with session as box:
        clock.measure("run_start", started)
        if started_event is not None:
            started_event.set()
        t0 = time.monotonic()
        keep = run_keep_rules(assignment.spec.submission.predictions_file, limits)
        result, report = box.exec_then_collect(argv, out_dir, timeout_s=limits.wall_time_s,
                                               keep=keep)
        clock.split("run_exec", "run_copy_out", t0, result.wall_time_s)
    clock.measure("run_total", started)
    record_copy_out(out_dir.parent, "run", report)
    return _apply_copy_report(_record("run", result), report)


def _session(image: str, snapshot: Snapshot, data_dir: Path, limits: Limits, stage: str,
             removals: list | None = None):
    """A sandbox session over ``snapshot`` with ``data_dir`` read-only at /data."""
    from sandbox.runner import Mount, SandboxSession

    return SandboxSession(
        image,
        submission=snapshot.root,
        mounts=[Mount(source=data_dir, target="/data", read_only=True)],
        limits=limits,
        labels={"takehome.stage": stage, "takehome.snapshot": snapshot.content_hash[:16]},
        removals=removals,
    )


def _checks_container(
    snapshot: Snapshot,
    *,
    image: str,
    data_dir: Path,
    out_dir: Path,
    limits: Limits,
    run_tests: bool,
    clock: StageClock,
    progress: Progress,
    test_files: Sequence[str] = (),
    removals: list | None = None,
) -> dict[str, StageRecord]:

    per_exec = min(float(limits.wall_time_s), CHECKS_TIMEOUT_S)
    inner = f"{max(per_exec - SAVE_MARGIN_S, 5):g}"
    records: dict[str, StageRecord] = {}
    started = time.monotonic()
    session = _session(image, snapshot, data_dir, limits, "checks", removals)
    with session as box:
        clock.measure("checks_start", started)
        # Candidate code runs in the tests exec only, first: the supervisor kills whatever it
        # left behind, and env/lint then read the read-only /submission, so the candidate's
        # code can neither edit what they inspect nor rewrite what they write afterwards.
        if run_tests:
            progress("sandbox: tests")
            t0 = time.monotonic()
            named = [arg for rel in test_files for arg in ("--test-file", rel)]
            tests = box.exec(
                [*PYTHON, CHECKS_SCRIPT, "tests", "--timeout", inner, *named], timeout_s=per_exec
            )
            clock.measure("tests_exec", t0)
            records["tests"] = _record("tests", tests)
        progress("sandbox: lint")
        t0 = time.monotonic()
        lint, report = box.exec_then_collect(  # the environment inventory, then pylint
            [*PYTHON, CHECKS_SCRIPT, "inspect", "--timeout", inner, "--workspace", "/submission"],
            out_dir,
            timeout_s=per_exec,
            keep=checks_keep_rules(limits),
        )
        clock.split("lint_exec", "checks_copy_out", t0, lint.wall_time_s)
        records["lint"] = _record("lint", lint)
    clock.measure("checks_total", started)
    record_copy_out(out_dir.parent, "checks", report)
    return {name: _apply_copy_report(record, report) for name, record in records.items()}


def _regular(path: Path) -> Path | None:
    return path if path.is_file() and not path.is_symlink() else None


def _figures(run_dir: Path) -> list[Path]:
    found = []
    if not run_dir.is_dir():
        return found
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir)
        if rel.parts and rel.parts[0] == "takehome":
            continue
        if path.suffix.lower() in FIGURE_SUFFIXES and _regular(path) and read_image_capped(path):
            found.append(path)
            if len(found) >= MAX_FIGURES:
                break
    return found


NOTHING_TO_RUN = (
    "nothing to run: no notebook to execute and no run command (add takehome.toml with "
    "[run] command, or one of the assignment's default commands such as `python predict.py`)"
)


def _run_stage(
    snapshot: Snapshot,
    assignment: Assignment,
    *,
    image: str,
    work_dir: Path,
    root: Path,
    hidden: bool,
    limits: Limits,
    notebooks: list[str],
    clock: StageClock,
    say: Progress,
    started_event: threading.Event | None = None,
    removals: list | None = None,
) -> tuple[StageRecord, RunReport | None, int]:
    """The run stage: (record, validated run.json, containers started).

    ``started_event`` is set once the run container is up (see :func:`execute_stages`).
    """
    config_error = ""
    try:
        command = run_command_for(snapshot.root, assignment.spec)
    except RunConfigError as exc:
        command, config_error = None, str(exc)
    if not command and not notebooks:  # no container for an empty run
        reason = config_error or NOTHING_TO_RUN
        return StageRecord(stage="run", verdict="exit_nonzero", reason=reason), None, 0
    say("sandbox: run")
    t0 = time.monotonic()
    features = assignment.hidden_features_csv if hidden else assignment.sample_test_features_csv
    data = _copy_data(work_dir / "data" / "run", assignment.train_csv, features)
    clock.measure("data", t0)
    run_dir = root / "run"
    record = _run_container(
        snapshot,
        assignment,
        image=image,
        data_dir=data,
        out_dir=run_dir,
        limits=limits,
        notebooks=notebooks,
        command=command,
        clock=clock,
        started_event=started_event,
        removals=removals,
    )
    report = read_run_report(run_dir / "takehome" / "run.json")
    return _run_reason(record, report, config_error), report, 1


def execute_stages(
    snapshot: Snapshot,
    assignment: Assignment,
    *,
    image: str,
    work_dir: Path,
    hidden: bool = True,
    stages: Sequence[str] = STAGE_NAMES,
    limits: Limits | None = None,
    progress: Progress | None = None,
    slots: SandboxSlots | None = None,
    removals: list | None = None,
) -> StageArtifacts:
    """Run the requested stages (``run``, ``checks``) and return what they produced.

    ``slots``: a batch's shared :class:`SandboxSlots` (each stage's container holds one while
    it runs); None runs both stages side by side at once. ``removals``: the containers are
    removed in the background and their ``sandbox.runner.PendingRemoval`` appended to this
    list (the caller waits for them); without it they are gone when this returns.
    Raises :class:`contracts.errors.EnvironmentProblem` when no container can be started (no
    engine, no image); every later harness fault is a ``sandbox_error`` stage record.
    """
    unknown = [s for s in stages if s not in STAGE_NAMES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; use some of {list(STAGE_NAMES)}")
    say = progress or (lambda _message: None)
    clock = StageClock()
    spec = assignment.spec
    work_dir = Path(work_dir)
    root = work_dir / "artifacts"
    for stale in (root / "run", root / "checks"):
        if stale.exists():
            shutil.rmtree(stale)  # collect_output needs an absent or empty destination
    root.mkdir(parents=True, exist_ok=True)
    box_limits = effective_limits(assignment, limits)
    records: dict[str, StageRecord] = {}
    starts = 0
    run_report: RunReport | None = None
    notebooks = select_notebooks(snapshot, assignment)

    run_up = threading.Event()  # the run container is started (or will never be)

    def run_part() -> tuple[dict[str, StageRecord], RunReport | None, int]:
        try:
            record, report, started = _run_stage(
                snapshot,
                assignment,
                image=image,
                work_dir=work_dir,
                root=root,
                hidden=hidden,
                limits=box_limits,
                notebooks=notebooks,
                clock=clock,
                say=say,
                started_event=run_up,
                removals=removals,
            )
        finally:
            run_up.set()
        return {"run": record}, report, started

    def checks_part() -> tuple[dict[str, StageRecord], RunReport | None, int]:
        # Found here, not before the run container starts: parsing the sources for test
        # modules is off the run stage's critical path.
        extra_tests = named_test_files(snapshot)
        has_tests = bool(extra_tests) or any(is_test_file(rel) for rel in snapshot.python_files)
        say("sandbox: checks")
        t0 = time.monotonic()
        data = _copy_data(
            work_dir / "data" / "checks", assignment.train_csv, assignment.sample_test_features_csv
        )
        clock.measure("data", t0)
        found = _checks_container(
            snapshot,
            image=image,
            data_dir=data,
            out_dir=root / "checks",
            limits=box_limits,
            run_tests=has_tests,
            clock=clock,
            progress=say,
            test_files=extra_tests,
            removals=removals,
        )
        say(CHECKS_DONE)
        return dict(found), None, 1

    parts = []
    if "run" in stages:
        parts.append(run_part)
    # Test modules are .py files: without .py files or notebooks there is nothing to check.
    if "checks" in stages and (snapshot.python_files or snapshot.notebooks):
        parts.append(checks_part)
    # The run and the checks containers are independent (separate mounts, separate outputs):
    # running them side by side makes a submission's wall time the longer of the two, not the sum.
    def in_slot(part: Callable[[], Any]) -> Any:
        if part is checks_part and run_part in parts:
            # The run stage is the critical path: its container starts first, and the checks
            # container (which has time to spare) follows instead of competing with it.
            run_up.wait(CHECKS_STAGGER_MAX_S)
        with slots or contextlib.nullcontext():
            return part()

    try:
        with ThreadPoolExecutor(max_workers=max(1, len(parts)), thread_name_prefix="stage") as pool:
            outcomes = [future.result() for future in [pool.submit(in_slot, p) for p in parts]]
    finally:
        remove_scratch(work_dir)  # the data copies: the containers that mounted them are gone
    for found, report, started in outcomes:
        records.update(found)
        run_report = report if report is not None else run_report
        starts += started

    artifacts = build_artifacts(
        root, records, notebooks, run_report, spec.submission.predictions_file, starts, clock
    )
    write_summary(artifacts)
    return artifacts


def run_stages(
    snapshot: Snapshot,
    assignment: Assignment,
    *,
    image: str,
    work_dir: Path,
    hidden: bool = True,
    stages: Sequence[str] = STAGE_NAMES,
    limits: Limits | None = None,
    progress: Progress | None = None,
    slots: SandboxSlots | None = None,
    removals: list | None = None,
) -> Artifacts:
    """Run the sandbox stages for one snapshot; a :class:`StageArtifacts` (an Artifacts).

    ``limits`` (sandbox.limits.Limits) replaces the defaults entirely; without it the defaults
    apply with the assignment's ``wall_time_s``, ``memory_mb`` and ``cpus``. ``slots`` and
    ``removals``: see :func:`execute_stages`.
    """
    return execute_stages(
        snapshot,
        assignment,
        image=image,
        work_dir=work_dir,
        hidden=hidden,
        stages=stages,
        limits=limits,
        progress=progress,
        slots=slots,
        removals=removals,
    )


def build_artifacts(
    root: Path,
    records: dict[str, StageRecord],
    notebooks: list[str],
    run_report: RunReport | None,
    predictions_file: str,
    starts: int,
    clock: StageClock,
) -> StageArtifacts:
    """The artifacts of a finished run under ``root`` (the run and checks copy-outs), checked.

    Also what a scale-out coordinator calls on a worker's returned copy-outs, so remote and
    local runs give the same artifacts.
    """
    run_dir, checks_dir = root / "run", root / "checks" / "takehome"
    executed: dict[str, Path] = {}
    errors: dict[str, dict[str, Any]] = {}
    by_path = {n.path: n for n in run_report.notebooks} if run_report else {}
    for rel in notebooks:  # keys come from the host's own list, never from run.json
        saved = _regular(run_dir / "takehome" / "notebooks" / rel)
        if saved is not None:
            executed[rel] = saved
        entry = by_path.get(rel)
        if entry is not None and entry.status != "ok":
            errors[rel] = {
                "status": entry.status,
                "cell": entry.failing_cell,
                "ename": entry.ename,
                "evalue": entry.evalue,
                "traceback": entry.traceback,
                "cells_executed": entry.cells_executed,
            }
    return StageArtifacts(
        root=root,
        stages=records,
        executed_notebooks=executed,
        notebook_errors=errors,
        predictions=_regular(run_dir / predictions_file),
        junit_xml=_regular(checks_dir / "junit.xml"),
        coverage_json=_regular(checks_dir / "coverage.json"),
        pylint_json=_regular(checks_dir / "pylint.json"),
        environment_json=_regular(checks_dir / "environment.json"),
        figures=_figures(run_dir),
        container_starts=starts,
        timings=dict(sorted(clock.timings.items())),
        run_report=run_report,
    )


def write_summary(artifacts: StageArtifacts) -> None:
    """Write ``stages.json`` (container starts, timings, each stage's record) beside the artifacts."""
    summary = {
        "container_starts": artifacts.container_starts,
        "timings": artifacts.timings,
        "stages": {name: r.model_dump() for name, r in artifacts.stages.items()},
    }
    (artifacts.root / "stages.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8"
    )


def has_harness_fault(artifacts: Artifacts | None) -> bool:
    """True when any stage ended in ``sandbox_error`` (a fault of takehome, not the candidate)."""
    return artifacts is not None and any(
        r.verdict == "sandbox_error" for r in artifacts.stages.values()
    )
