"""A candidate's submissions: accept an upload, replace it, mark it final.

An accepted upload is ingested at once by the same safe intake as ``takehome grade`` (a hostile
archive is refused here, with intake's own reason, and nothing of it is kept), recorded as the
invitation's current submission and queued for the self-check. Marking it final queues grading.
Both are single transactions that re-check the invitation (revoked, past the deadline, already
final), so two requests racing on one invitation leave one consistent current submission.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from contracts.errors import SubmissionRejected, TakehomeError
from harness.intake import IntakeCaps, ingest
from harness.portal.invitations import deadline_passed
from harness.portal.queue import enqueue
from harness.portal.store import InvitationRow, PortalStore, SubmissionRow
from harness.portal.upload import ReceivedUpload

PORTAL_DIR = ".portal"


class SubmissionClosed(TakehomeError):
    """The invitation takes no more uploads (final, past the deadline, revoked)."""


@dataclass(frozen=True)
class Portal:
    """Where the portal keeps its files and which caps apply (one per output folder)."""

    out_dir: Path
    caps: IntakeCaps = field(default_factory=IntakeCaps)
    upload_cap: int | None = None  # bytes; default: the intake's total-size cap

    @cached_property
    def store(self) -> PortalStore:
        """The portal's tables in the output folder's store (opened once per portal)."""
        return PortalStore(self.out_dir)

    @property
    def max_upload_bytes(self) -> int:
        """The largest upload accepted (checked while receiving)."""
        return self.upload_cap or self.caps.max_total_bytes

    @property
    def incoming_dir(self) -> Path:
        """Where uploads are streamed before they are accepted (same file system as uploads)."""
        return self.out_dir / PORTAL_DIR / "incoming"

    def uploads_dir(self, invitation_id: str) -> Path:
        """One invitation's accepted uploads."""
        return self.out_dir / PORTAL_DIR / "uploads" / invitation_id

    @property
    def snapshots_dir(self) -> Path:
        """The same snapshot folder ``takehome grade`` uses for this output folder."""
        return self.out_dir / ".work" / "snapshots"

    def checks_dir(self, submission_id: int) -> Path:
        """A self-check's work folder."""
        return self.out_dir / PORTAL_DIR / "checks" / str(submission_id)


def remove_stale_incoming(portal: Portal, older_than_s: float = 3600.0) -> int:
    """Remove partial uploads left by a server killed mid-upload; how many were removed."""
    removed = 0
    if portal.incoming_dir.is_dir():
        limit = time.time() - older_than_s
        for path in portal.incoming_dir.glob(".incoming-*"):
            try:
                if path.is_file() and path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
    return removed


def candidate_slug(invitation: InvitationRow) -> str:
    """The report folder's name for an invitation: the name, made file-safe, and its id."""
    base = re.sub(r"[^A-Za-z0-9]+", "-", invitation.name).strip("-").lower()[:40] or "candidate"
    return f"{base}-{invitation.id[:6]}"


def refuse_if_closed(store: PortalStore, invitation: InvitationRow, now: float | None = None) -> None:
    """Raise SubmissionClosed when the invitation takes no more uploads."""
    fresh = store.invitation(invitation.id)
    if fresh is None or fresh.revoked_at is not None:
        raise SubmissionClosed("this invitation was withdrawn", hint="contact the hiring team")
    if deadline_passed(fresh, now):
        raise SubmissionClosed("the deadline has passed; uploads are closed",
                               hint="contact the hiring team if you need more time")
    current = store.submission(fresh.current_submission) if fresh.current_submission else None
    if current is not None and current.final_at is not None:
        raise SubmissionClosed("your submission is final; it can no longer be replaced",
                               hint="contact the hiring team if something is wrong")


def accept_upload(portal: Portal, invitation: InvitationRow, received: ReceivedUpload,
                  now: float | None = None) -> SubmissionRow:
    """Ingest an upload and make it the invitation's current submission (or record the refusal).

    A submission intake rejects is recorded with the reason (so the candidate sees it) but its
    file is removed and it never becomes current. Raises SubmissionClosed when the invitation
    closed while the upload was arriving.
    """
    store = portal.store
    folder = portal.uploads_dir(invitation.id) / secrets.token_hex(8)
    folder.mkdir(parents=True)
    stored = folder / (candidate_slug(invitation) + received.suffix)
    os.replace(received.path, stored)
    content_hash, files, reason = None, None, None
    try:
        snapshot = ingest(stored, portal.snapshots_dir, portal.caps)
        content_hash, files = snapshot.content_hash, len(snapshot.files)
    except SubmissionRejected as error:
        reason = str(error)
    except BaseException:  # a fault of ours (disk, permissions): keep nothing, say so upstream
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if reason is not None:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        with store.write() as conn:
            refuse_if_closed(store, invitation, now)
            cursor = conn.execute(
                "INSERT INTO portal_submissions (invitation_id, original_name, path, size, sha256,"
                " content_hash, files, intake_error, check_state, uploaded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (invitation.id, received.original_name, str(stored), received.size,
                 received.sha256, content_hash, files, reason,
                 "rejected" if reason else "queued", time.time() if now is None else now),
            )
            submission_id = int(cursor.lastrowid)
            if reason is None:
                previous = conn.execute("SELECT current_submission FROM portal_invitations "
                                        "WHERE id = ?", (invitation.id,)).fetchone()[0]
                conn.execute("UPDATE portal_invitations SET current_submission = ? WHERE id = ?",
                             (submission_id, invitation.id))
                if previous is not None:
                    conn.execute("UPDATE portal_submissions SET check_state = 'superseded' "
                                 "WHERE id = ? AND check_state IN ('queued', 'running')",
                                 (previous,))
                enqueue(conn, "check", submission_id)
    except SubmissionClosed:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    row = store.submission(submission_id)
    assert row is not None
    return row


def mark_final(portal: Portal, invitation: InvitationRow, now: float | None = None) -> SubmissionRow:
    """Make the current submission final and queue it for grading (idempotent)."""
    store = portal.store
    with store.write() as conn:
        fresh = store.invitation(invitation.id)
        if fresh is None or fresh.revoked_at is not None:
            raise SubmissionClosed("this invitation was withdrawn", hint="contact the hiring team")
        current = store.submission(fresh.current_submission) if fresh.current_submission else None
        if current is None:
            raise SubmissionClosed("there is no accepted submission to mark final",
                                   hint="upload your work first")
        if current.final_at is None:
            if deadline_passed(fresh, now):
                raise SubmissionClosed("the deadline has passed",
                                       hint="your last upload is graded as it is")
            finalise(conn, current.id, now)
    row = store.submission(current.id)
    assert row is not None
    return row


def finalise(conn, submission_id: int, now: float | None = None) -> None:
    """Inside a write transaction: mark a submission final and queue its grading."""
    conn.execute("UPDATE portal_submissions SET final_at = ? WHERE id = ? AND final_at IS NULL",
                 (time.time() if now is None else now, submission_id))
    enqueue(conn, "grade", submission_id)


def finalise_past_deadline(store: PortalStore, now: float | None = None) -> list[int]:
    """Make final every current submission whose deadline has passed; the ids queued."""
    now = time.time() if now is None else now
    queued = []
    with store.write() as conn:
        rows = conn.execute(
            "SELECT s.id FROM portal_invitations i JOIN portal_submissions s "
            "ON s.id = i.current_submission WHERE i.deadline IS NOT NULL AND i.deadline <= ? "
            "AND i.revoked_at IS NULL AND s.final_at IS NULL", (now,)).fetchall()
        for row in rows:
            finalise(conn, row["id"], now)
            queued.append(row["id"])
    return queued


def check_report(submission: SubmissionRow) -> dict:
    """The stored self-check: ``{"description": str, "problems": [{"message", "fix"}]}``."""
    if not submission.check_json:
        return {"description": "", "problems": []}
    return json.loads(submission.check_json)
