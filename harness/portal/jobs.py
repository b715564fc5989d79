"""What a queued job does: the self-check of an upload, or the grading of a final submission.

The self-check is ``harness.check.check_submission`` (what ``takehome check`` runs): the public
sample only, contract problems only, never hidden data or scores. Grading is
``harness.batch.grade_batch`` into the output folder, with every final portal submission of the
round, so the store, the reports and the similarity check are what ``takehome grade`` of those
submissions gives (results already in the store are reused, not regraded). With a broker configured
(``TAKEHOME_BROKER``) the sandbox stages run on the scale-out workers.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness.assignment import Assignment, load_assignment
from harness.portal.store import InvitationRow, JobRow, PortalStore, SubmissionRow
from harness.portal.submissions import PORTAL_DIR, Portal

CHECK_FAULT = ("the self-check could not run: a fault on our side, not in your submission; "
               "upload again later or mark it final anyway")


@dataclass
class JobOutcome:
    """How a job ended: ``ok`` False is a harness fault (the job is marked failed)."""

    ok: bool
    outcome: str


CheckFn = Callable[[Assignment, Path, Path], tuple[list, str]]
GradeFn = Callable[[Assignment, list[Path], Path], dict[Path, str]]


@dataclass
class JobContext:
    """The real check and grade calls (tests pass fakes); settings are cached per assignment."""

    portal: Portal
    check_fn: CheckFn | None = None
    grade_fn: GradeFn | None = None
    _image: str | None = None
    _settings: dict[str, object] = field(default_factory=dict)

    def image(self) -> str:
        """The sandbox image (built once per process; a no-op when current)."""
        if self._image is None:
            from sandbox.image import build_image

            self._image = build_image(echo=lambda _m: None)
        return self._image

    def check(self, assignment: Assignment, upload: Path, work_dir: Path) -> tuple[list, str]:
        """The self-check of one upload: (problems, description)."""
        if self.check_fn is not None:
            return self.check_fn(assignment, upload, work_dir)
        from harness.check import check_submission

        return check_submission(assignment, upload, work_dir, self.image())

    def grade(self, assignment: Assignment, sources: list[Path], out_dir: Path) -> dict[Path, str]:
        """Grade the round's final uploads; each source's result status."""
        if self.grade_fn is not None:
            return self.grade_fn(assignment, sources, out_dir)
        from harness.batch import grade_batch
        from harness.grade import prepare_settings

        slug = assignment.spec.slug
        if slug not in self._settings:
            self._settings[slug] = prepare_settings(assignment, True, out_dir / ".work")
        settings = self._settings[slug]
        outcome = grade_batch(assignment, sources, out_dir, settings=settings, jobs=1,
                              stage_runner=stage_runner(settings, out_dir))
        return {item.source: (item.result.status if item.result else "harness_error")
                for item in outcome.items}


def stage_runner(settings, out_dir: Path):
    """The scale-out workers' stage runner when a broker is configured, else None (local).

    Built like ``takehome grade --broker`` builds it (harness.workers.remote_grade).
    """
    try:
        from harness.workers.config import broker_url
        from harness.workers.coordinator import RemoteStageRunner, image_inputs
    except ImportError:  # no scale-out workers package: grade locally
        return None
    url = broker_url(None)
    if url is None:
        return None
    return RemoteStageRunner(url, image_inputs=image_inputs(settings.image),
                             namespace=str(Path(out_dir).resolve()))


@contextmanager
def round_lock(out_dir: Path):
    """One grading of a round at a time (its index and reports are rewritten by each)."""
    path = out_dir / PORTAL_DIR / "grade.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _set_check(store: PortalStore, submission_id: int, state: str, report: dict | None) -> None:
    with store.write() as conn:
        conn.execute("UPDATE portal_submissions SET check_state = ?, check_json = ? WHERE id = ?",
                     (state, json.dumps(report) if report is not None else None, submission_id))


def _invitation_of(store: PortalStore, submission: SubmissionRow) -> InvitationRow:
    invitation = store.invitation(submission.invitation_id)
    if invitation is None:  # pragma: no cover - rows are never deleted
        raise LookupError(f"submission {submission.id} has no invitation")
    return invitation


def run_check(context: JobContext, submission: SubmissionRow) -> JobOutcome:
    """Self-check one upload and store what the candidate sees."""
    store = context.portal.store
    invitation = _invitation_of(store, submission)
    if invitation.current_submission != submission.id:
        _set_check(store, submission.id, "superseded", None)
        return JobOutcome(True, "superseded by a newer upload")
    if invitation.revoked_at is not None:
        _set_check(store, submission.id, "skipped", None)
        return JobOutcome(True, "not checked: the invitation was revoked")
    _set_check(store, submission.id, "running", None)
    work_dir = context.portal.checks_dir(submission.id)
    try:
        assignment = load_assignment(invitation.assignment)
        problems, description = context.check(assignment, Path(submission.path), work_dir)
    except Exception as error:  # noqa: BLE001 - a harness fault is shown as one, never a verdict
        from harness import termination

        if termination.stop_requested():  # cut short: the job goes back to the queue
            _set_check(store, submission.id, "queued", None)
        else:
            _set_check(store, submission.id, "error", {"description": CHECK_FAULT,
                                                       "problems": []})
        return JobOutcome(False, f"{type(error).__name__}: {error}")
    finally:
        from harness.intake import remove_snapshot

        remove_snapshot(work_dir)
    report = {"description": description,
              "problems": [{"message": p.message, "fix": p.fix} for p in problems]}
    _set_check(store, submission.id, "problems" if problems else "ok", report)
    return JobOutcome(True, f"{len(problems)} problem(s)")


def final_sources(store: PortalStore, assignment: str) -> list[tuple[int, Path]]:
    """The final submission of every invitation to ``assignment`` in this round, oldest first."""
    rows = store.query(
        "SELECT s.id, s.path FROM portal_invitations i JOIN portal_submissions s "
        "ON s.id = i.current_submission WHERE i.assignment = ? AND s.final_at IS NOT NULL "
        "ORDER BY s.final_at, s.id", (assignment,))
    return [(int(r["id"]), Path(r["path"])) for r in rows if Path(r["path"]).is_file()]


def run_grade(context: JobContext, submission: SubmissionRow) -> JobOutcome:
    """Grade a final submission with the round's other final submissions (for similarity)."""
    store = context.portal.store
    invitation = _invitation_of(store, submission)
    assignment = load_assignment(invitation.assignment)
    sources = [path for _, path in final_sources(store, invitation.assignment)]
    mine = Path(submission.path)
    if mine not in sources:
        sources.append(mine)
    with round_lock(context.portal.out_dir):
        statuses = context.grade(assignment, sources, context.portal.out_dir)
    status = statuses.get(mine, "harness_error")
    if status == "harness_error":
        return JobOutcome(False, "harness_error: a fault inside takehome (not a score)")
    return JobOutcome(True, status)


def run_job(context: JobContext, job: JobRow) -> JobOutcome:
    """Do one claimed job."""
    submission = context.portal.store.submission(job.submission_id)
    if submission is None:
        return JobOutcome(False, f"submission {job.submission_id} is missing")
    if job.kind == "check":
        return run_check(context, submission)
    if job.kind == "grade":
        return run_grade(context, submission)
    return JobOutcome(False, f"unknown job kind {job.kind!r}")
