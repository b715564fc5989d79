"""``takehome grade ... --broker URL``: the local batch, with the sandbox stages on workers.

Everything but where the containers run is the local path (``harness.grade``): the same
intake, store keys, calibration, graders, rubric, progress display, reports and exit codes. The
coordinator builds (or finds) the sandbox image too: it calibrates the assignment with it (the
reference and baseline solutions, cached) and its build-inputs digest is what every worker's
image must match (a worker with another build refuses the job), so the image digest in the
store key names the build the workers ran.
"""

from __future__ import annotations

from pathlib import Path

from contracts.errors import TakehomeError
from harness.assignment import load_assignment
from harness.batch import expand_sources
from harness.grade import (
    finish_batch,
    parse_formats,
    prepare_settings,
    progress_console,
    run_batch_with_progress,
)
from harness.workers.config import broker_url, redact
from harness.workers.coordinator import RemoteStageRunner, image_inputs

#: Submissions in flight at once (intake, transfer, waiting, host graders) when -j is not given:
#: enough to keep a few workers busy; raise it with -j for a larger pool of workers.
DEFAULT_REMOTE_JOBS = 8


def grade_on_workers(assignment_name: str, submissions: list[Path], *, broker: str,
                     out_dir: Path, formats: str = "html,json,md", blind: bool = False,
                     jobs: int | None = None, force: bool = False,
                     json_out: Path | None = None, public_solutions: Path | None = None,
                     no_worker_timeout: float = 120.0) -> int:
    """Grade like ``harness.grade.grade`` with the stages on the broker's workers."""
    url = broker_url(broker)
    console = progress_console()
    assignment = load_assignment(assignment_name)
    fmt = parse_formats(formats)
    sources = expand_sources(submissions)
    if not sources:
        raise TakehomeError("no submissions found", hint="pass folders, archives or notebooks")
    settings = prepare_settings(assignment, True, out_dir / ".work", console)
    console.print(f"sending the sandbox stages to the workers of {redact(url)}", markup=False,
                  highlight=False)
    runner = RemoteStageRunner(
        url, image_inputs=image_inputs(settings.image), namespace=str(out_dir.resolve()),
        force=force, no_worker_timeout=no_worker_timeout,
        on_event=lambda m: console.print(m, markup=False, highlight=False))
    outcome = run_batch_with_progress(assignment, sources, out_dir, settings, console,
                                      jobs=jobs or DEFAULT_REMOTE_JOBS, force=force, formats=fmt,
                                      blind=blind, public_solutions=public_solutions,
                                      stage_runner=runner)
    return finish_batch(outcome, console, json_out)


def static_broker_note(broker: str | None) -> str | None:
    """The note printed when ``--broker`` is given to a verb that runs no sandbox."""
    url = broker_url(broker)
    if url is None:
        return None
    return (f"note: static grading runs no sandbox, so nothing is sent to {redact(url)}; "
            "the submissions are graded here")
