"""Grade one submission: intake → sandbox stages → graders → rubric → result.

This module wires the steps; each step lives in its own module and is only called through its
public function. Data flows one way. A fault of the harness (sandbox_error, a grader crash) is
recorded as such and never turned into a score.

While the sandbox runs, a background thread loads the graders (their imports), calls their
``warm_up`` and runs the graders that read only the snapshot (``reads_artifacts = False``); the
others run once the artifacts exist (see :mod:`graders.registry`). With the local sandbox that
thread starts once the checks container is gone (``harness.stages.CHECKS_DONE``): on cgroup v1
all containers share one CPU weight, as much as one host thread, so host work beside both
containers took a core from them (measured: the sandbox 1.8 s slower for 2.9 s saved).
"""

from __future__ import annotations

import functools
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from contracts.errors import SubmissionRejected, TakehomeError
from graders.base import Artifacts, Grader, GraderContext, GraderResult
from graders.registry import load_graders, reads_artifacts, run_grader, warm_up_graders
from harness import __version__
from harness.assignment import Assignment
from harness.intake import IntakeCaps, Snapshot, ingest
from harness.result import GradingResult, build_result
from harness.rubric import Rubric, load_rubric

if TYPE_CHECKING:
    from harness.stages import SandboxSlots

Progress = Callable[[str], None]
#: Runs a snapshot's sandbox stages: ``(snapshot, assignment, *, image, work_dir, progress, slots)``
#: to :class:`graders.base.Artifacts`. Default: :func:`harness.stages.run_stages` on this machine.
StageRunner = Callable[..., Artifacts]


def _noop(_: str) -> None:
    return None


@dataclass
class GradeSettings:
    """How to grade: the image, whether to run the sandbox, and calibration scores."""

    image: str | None  # None with run=False
    image_digest: str = ""
    run: bool = True
    reference_scores: dict[str, float] = field(default_factory=dict)
    intake_caps: IntakeCaps = field(default_factory=IntakeCaps)


@dataclass
class GradedSubmission:
    """The outcome of grading one submission."""

    result: GradingResult
    snapshot: Snapshot | None
    artifacts_root: Path | None
    work_dir: Path


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _run_info(settings: GradeSettings, *, started: str, timings: dict[str, float] | None = None,
              container_starts: int = 0) -> dict:
    """Run metadata for the result (RunInfo fields)."""
    return {
        "harness_version": __version__,
        "image": settings.image or "",
        "image_digest": settings.image_digest,
        "started_at": started,
        "finished_at": _now(),
        "timings": timings or {},
        "container_starts": container_starts,
        "mode": "sandbox" if settings.run else "static",
    }


def ingest_submission(source: Path, work_root: Path, caps: IntakeCaps) -> Snapshot:
    """Turn a submission into a read-only snapshot under ``work_root/snapshots``."""
    return ingest(source, work_root / "snapshots", caps)


def run_graders(
    context: GraderContext,
    static_lint: Callable[[], None] | None = None,
    *,
    graders: list[Grader] | None = None,
    done: dict[str, GraderResult] | None = None,
) -> dict[str, GraderResult]:
    """Run every registered grader on ``context``; a crashing grader becomes a harness fault.

    ``static_lint`` waits for the host-side lint running in the background: graders that read
    it (``needs_static_lint``) run after it, the others meanwhile. ``graders``: the loaded
    graders (default: :func:`load_graders`); ``done``: results already computed (the
    snapshot-only graders run while the sandbox ran), kept as they are.
    """
    results: dict[str, GraderResult] = dict(done or {})
    deferred = []
    for grader in graders if graders is not None else load_graders():
        if grader.name in results:
            continue
        if static_lint is not None and getattr(grader, "needs_static_lint", False):
            deferred.append(grader)
            continue
        results[grader.name] = run_grader(grader, context)
    if static_lint is not None:
        static_lint()
    for grader in deferred:
        results[grader.name] = run_grader(grader, context)
    return dict(sorted(results.items()))


def _graders_meanwhile(
    context: GraderContext, gate: threading.Event
) -> tuple[list[Grader], dict[str, GraderResult]]:
    """While the sandbox runs: load the graders, warm them up, run the snapshot-only ones."""
    gate.wait()
    graders = load_graders()
    warm_up_graders(graders, context.assignment)
    done = {g.name: run_grader(g, context) for g in graders if not reads_artifacts(g)}
    return graders, done


def _start_meanwhile(context: GraderContext, gate: threading.Event) -> Future:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graders-meanwhile")
    try:
        return pool.submit(_graders_meanwhile, context, gate)
    finally:
        pool.shutdown(wait=False)


def grade_snapshot(
    snapshot: Snapshot,
    assignment: Assignment,
    rubric: Rubric,
    settings: GradeSettings,
    work_dir: Path,
    progress: Progress = _noop,
    source_display: str | None = None,
    slots: SandboxSlots | None = None,
    stage_runner: StageRunner | None = None,
) -> GradedSubmission:
    """Grade an already ingested snapshot (``slots``: the batch's shared container slots).

    ``stage_runner`` runs the sandbox stages somewhere else (a remote worker) and returns the
    same artifacts; the graders, the rubric and the result always run here.
    """
    removals: list = []  # the local containers, removed while the graders run
    try:
        return _grade_snapshot(snapshot, assignment, rubric, settings, work_dir, progress,
                               source_display, slots, stage_runner, removals)
    finally:  # the containers are gone when the grading is
        if removals:
            from sandbox.runner import wait_for_removals

            wait_for_removals(removals)


def _grade_snapshot(
    snapshot: Snapshot,
    assignment: Assignment,
    rubric: Rubric,
    settings: GradeSettings,
    work_dir: Path,
    progress: Progress,
    source_display: str | None,
    slots: SandboxSlots | None,
    stage_runner: StageRunner | None,
    removals: list,
) -> GradedSubmission:
    gate = threading.Event()  # opens the background grader work (see the module docstring)
    if stage_runner is None:
        from harness.stages import CHECKS_DONE, run_stages  # pulls in the docker SDK

        stage_runner = functools.partial(run_stages, removals=removals)
    else:
        CHECKS_DONE = None
        gate.set()  # the containers run elsewhere: nothing here to take CPU from

    def sandbox_progress(message: str) -> None:
        if message == CHECKS_DONE:
            gate.set()
        progress(message)

    started = _now()
    timings: dict[str, float] = {}
    artifacts: Artifacts | None = None
    status, status_reason = "graded", ""
    container_starts = 0
    meanwhile: Future | None = None
    if settings.run:
        progress("sandbox")
        t0 = time.monotonic()
        meanwhile = _start_meanwhile(GraderContext(
            snapshot_root=snapshot.root,
            snapshot_meta=snapshot.to_meta(),
            assignment=assignment,
            artifacts=None,
            reference_scores=dict(settings.reference_scores),
        ), gate)
        if work_dir.exists():
            shutil.rmtree(work_dir)
        work_dir.mkdir(parents=True)
        try:
            artifacts = stage_runner(snapshot, assignment, image=settings.image,
                                     work_dir=work_dir, progress=sandbox_progress, slots=slots)
        except BaseException:
            meanwhile.cancel()
            raise
        finally:
            gate.set()
        timings.update(getattr(artifacts, "timings", {}) or {})
        timings["sandbox_total"] = round(time.monotonic() - t0, 3)
        container_starts = int(getattr(artifacts, "container_starts", 0) or 0)
        harness_faults = [s for s in artifacts.stages.values() if s.verdict == "sandbox_error"]
        run_stage = artifacts.stages.get("run")
        if harness_faults:
            status = "harness_error"
            status_reason = "; ".join(f"{s.stage}: {s.reason}" for s in harness_faults)
        elif run_stage is not None and run_stage.verdict != "ok":
            status = "execution_failed"
            status_reason = run_stage.reason or run_stage.verdict
    static_lint_dir, wait_for_lint = None, None
    if not settings.run:  # candidate code never runs; pylint only parses it (harness.static_lint)
        from harness.static_lint import start_static_lint

        static_lint_dir = work_dir / "static_lint"
        wait_for_lint = start_static_lint(snapshot.root, static_lint_dir, timings)
    progress("graders")
    t0 = time.monotonic()
    context = GraderContext(
        snapshot_root=snapshot.root,
        snapshot_meta=snapshot.to_meta(),
        assignment=assignment,
        artifacts=artifacts,
        reference_scores=dict(settings.reference_scores),
        static_lint_dir=static_lint_dir,
    )
    graders, done = meanwhile.result() if meanwhile is not None else (None, None)
    grader_results = run_graders(context, wait_for_lint, graders=graders, done=done)
    timings["host_graders"] = round(time.monotonic() - t0, 3)
    progress("rubric")
    result = build_result(
        snapshot=snapshot,
        assignment=assignment,
        rubric=rubric,
        grader_results=grader_results,
        stages=dict(artifacts.stages) if artifacts else {},
        run_info=_run_info(settings, started=started, timings=timings,
                           container_starts=container_starts),
        status=status,
        status_reason=status_reason,
        source_display=source_display,
    )
    return GradedSubmission(result, snapshot, artifacts.root if artifacts else None, work_dir)


def grade_submission(
    source: Path,
    assignment: Assignment,
    settings: GradeSettings,
    work_root: Path,
    rubric: Rubric | None = None,
    progress: Progress = _noop,
) -> GradedSubmission:
    """Ingest and grade one submission. Rejections and harness faults become a result status."""
    rubric = rubric or load_rubric(assignment.spec.rubric)
    progress("intake")
    try:
        snapshot = ingest_submission(source, work_root, settings.intake_caps)
    except SubmissionRejected as error:
        result = build_result(
            snapshot=None,
            assignment=assignment,
            rubric=rubric,
            grader_results={},
            stages={},
            run_info=_run_info(settings, started=_now()),
            status="rejected",
            status_reason=str(error),
            source_display=source.name,
        )
        return GradedSubmission(result, None, None, work_root)
    work_dir = work_root / "runs" / snapshot.content_hash[:16]
    try:
        return grade_snapshot(snapshot, assignment, rubric, settings, work_dir, progress,
                              source_display=source.name)
    except TakehomeError:
        raise
    except Exception as exc:  # noqa: BLE001 - a harness fault is reported, never scored
        result = build_result(
            snapshot=snapshot,
            assignment=assignment,
            rubric=rubric,
            grader_results={},
            stages={},
            run_info=_run_info(settings, started=_now()),
            status="harness_error",
            status_reason=f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=3)[-600:]}",
            source_display=source.name,
        )
        return GradedSubmission(result, snapshot, None, work_dir)
