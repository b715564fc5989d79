"""What the candidate's page shows, built from the store (no request, no HTML here).

The candidate sees their own invitation only: the assignment's prompt, the public files, the
deadline, their uploads with intake's verdict and the self-check's contract problems, and
whether the final one was received. Never a score, a level, a red flag or another candidate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from harness.assignment import Assignment, load_assignment, repo_root
from harness.portal.invitations import deadline_passed, format_time
from harness.portal.store import InvitationRow, PortalStore, SubmissionRow
from harness.portal.submissions import check_report

CHECK_WORDS = {
    "queued": "waiting for the self-check",
    "running": "self-check running",
    "ok": "self-check passed",
    "problems": "self-check found problems",
    "error": "self-check could not run",
    "superseded": "replaced by a newer upload",
    "rejected": "not accepted",
    "skipped": "not checked (invitation withdrawn)",
}


@dataclass(frozen=True)
class UploadView:
    """One upload as the candidate sees it."""

    number: int  # 1, 2, ... within the invitation (never the store's id)
    name: str
    size: str
    uploaded_at: str
    state: str
    words: str
    reason: str | None
    description: str
    problems: list[dict]
    final: bool


@dataclass(frozen=True)
class CandidatePage:
    """Everything the candidate's page renders."""

    name: str
    title: str
    slug: str
    deadline: str
    deadline_passed: bool
    open: bool  # uploads accepted
    current: UploadView | None
    latest_rejected: UploadView | None  # a newer upload intake refused
    uploads: list[UploadView]
    data_files: list[tuple[str, str]]  # (name, size)
    prompt_html: str
    max_upload: str
    checking: bool  # refresh the page until the self-check is done
    feedback: list[tuple[str, str]]  # (criterion, descriptor) when the author allows it


def size_text(size: int) -> str:
    """Bytes as a short human string."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


@lru_cache(maxsize=32)
def _markdown_html(path: Path, mtime: float) -> str:
    from markdown_it import MarkdownIt

    # html=False: raw HTML in the document is shown as text; links are validated by markdown-it
    # (no javascript: or data: URLs)
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").render(
        path.read_text(encoding="utf-8", errors="replace"))


def markdown_file_html(path: Path) -> str:
    """A Markdown document as safe HTML (no raw HTML passes through)."""
    if not path.is_file():
        return ""
    return _markdown_html(path, path.stat().st_mtime)


def contract_html() -> str:
    """``docs/candidates.md``: the submission contract."""
    return markdown_file_html(repo_root() / "docs" / "candidates.md")


def public_files(assignment: Assignment) -> dict[str, Path]:
    """The public data a candidate may download, by file name (never hidden data)."""
    folder = assignment.public_dir
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir())
            if p.is_file() and not p.is_symlink() and not p.name.startswith(".")}


def upload_view(number: int, row: SubmissionRow) -> UploadView:
    """One of the candidate's uploads, without anything but intake's and the check's words."""
    report = check_report(row)
    return UploadView(
        number=number, name=row.original_name, size=size_text(row.size),
        uploaded_at=format_time(row.uploaded_at), state=row.check_state,
        words=CHECK_WORDS.get(row.check_state, row.check_state), reason=row.intake_error,
        description=report.get("description", ""), problems=list(report.get("problems", [])),
        final=row.final_at is not None,
    )


def numbered_uploads(store: PortalStore, invitation: InvitationRow) -> list[tuple[int, SubmissionRow]]:
    """The invitation's uploads numbered 1, 2, ... (the numbers the candidate's URLs use)."""
    return list(enumerate(store.submissions_of(invitation.id), start=1))


def candidate_page(store: PortalStore, invitation: InvitationRow, max_upload: int,
                   now: float | None = None) -> CandidatePage:
    """The candidate's page for ``invitation``."""
    now = time.time() if now is None else now
    assignment = load_assignment(invitation.assignment)
    uploads = [upload_view(n, row) for n, row in numbered_uploads(store, invitation)]
    by_id = {row.id: view for (_, row), view in zip(numbered_uploads(store, invitation), uploads)}
    current = by_id.get(invitation.current_submission) if invitation.current_submission else None
    newest = uploads[-1] if uploads else None
    rejected = newest if newest is not None and newest.state == "rejected" else None
    passed = deadline_passed(invitation, now)
    final = current is not None and current.final
    return CandidatePage(
        name=invitation.name, title=assignment.spec.title, slug=assignment.spec.slug,
        deadline=format_time(invitation.deadline) if invitation.deadline else "none",
        deadline_passed=passed, open=not passed and not final, current=current,
        latest_rejected=rejected, uploads=list(reversed(uploads)),
        data_files=[(name, size_text(path.stat().st_size))
                    for name, path in public_files(assignment).items()],
        prompt_html=markdown_file_html(assignment.readme),
        max_upload=size_text(max_upload),
        checking=current is not None and current.state in ("queued", "running"),
        feedback=descriptor_feedback(store, assignment, invitation),
    )


def descriptor_feedback(store: PortalStore, assignment: Assignment,
                        invitation: InvitationRow) -> list[tuple[str, str]]:
    """Each criterion's rubric descriptor of the level the final submission reached.

    Only when the assignment's author set ``candidate_feedback: descriptors``, and only once it
    is graded: the automatic grading's descriptors, never a level, score, total or red flag.
    """
    if assignment.spec.candidate_feedback != "descriptors" or not invitation.current_submission:
        return []
    current = store.submission(invitation.current_submission)
    if current is None or current.final_at is None or not current.content_hash:
        return []
    from harness.portal.queue import grading_state
    from harness.result import GradingResult
    from harness.store import ResultStore

    if grading_state(store, current.id)[0] != "graded":
        return []
    rows = [(stored, at) for stored, at in ResultStore(store.path).latest_by_submission()
            if stored.key.submission_hash == current.content_hash]
    if not rows:
        return []
    try:
        result = GradingResult.model_validate_json(rows[0][0].result_json)
    except ValueError:
        return []
    if result.rubric is None:
        return []
    return [(c.title, c.descriptor) for c in result.rubric.criteria
            if c.graded and c.descriptor]
