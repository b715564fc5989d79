"""The `takehome screen` verb: static grading of submissions that belong to no assignment.

A candidate's public repository at the sourcing stage has no bundled assignment: no spec, no
held-out set, no sandbox run. ``screen`` grades it exactly like ``takehome grade <assignment>
--no-run`` (same batch, graders, rubric, reports and results store) with a task context
inferred from each submission (:mod:`harness.task_inference`). Candidate code is never run and
Docker is not needed. The inferred context is part of the store key (through the task's
``content_hash``), so a change of inference regrades.
"""

from __future__ import annotations

from pathlib import Path

from contracts.errors import TakehomeError
from harness.batch import expand_sources
from harness.grade import finish_batch, parse_formats, progress_console, run_batch_with_progress
from harness.intake import Snapshot
from harness.pipeline import GradeSettings
from harness.task_inference import InferredTask, infer_task, screening_task


def task_for_snapshot(snapshot: Snapshot) -> InferredTask:
    """The task context inferred from one ingested submission."""
    return infer_task(snapshot.root)


def screen(submissions: list[Path], *, out_dir: Path, formats: str = "html,json,md",
           blind: bool = False, jobs: int | None = None, force: bool = False,
           json_out: Path | None = None) -> int:
    """Screen submissions statically; returns the exit code (as ``grade``)."""
    console = progress_console()
    fmt = parse_formats(formats)
    sources = expand_sources(submissions)
    if not sources:
        raise TakehomeError("no submissions found", hint="pass folders, archives or notebooks")
    base = screening_task(Path.cwd())
    settings = GradeSettings(image=None, run=False)
    outcome = run_batch_with_progress(base, sources, out_dir, settings, console, jobs=jobs,
                                      force=force, formats=fmt, blind=blind,
                                      assignment_for=task_for_snapshot)
    return finish_batch(outcome, console, json_out)
