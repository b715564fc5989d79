"""The interviewers' view of a round's invitations: upload, self-check and grading state.

``round_invitations`` is what the web app's invitations page lists; ``grading_states`` gives the
round table a queued / grading / graded / failed state per invitation.
"""

from __future__ import annotations

import time
from pathlib import Path

from harness.portal.invitations import format_time, invitation_state
from harness.portal.queue import grading_state
from harness.portal.store import PortalStore, has_portal
from harness.report.blind import pseudonym


def _report_href(request, rid: str, content_hash: str | None) -> str | None:
    """The web app's page for the graded submission (its round page when no such route)."""
    if request is None or not content_hash:
        return None
    from starlette.routing import NoMatchFound

    cid = content_hash.split(":")[-1][:16]
    for name, params in (("candidate", {"rid": rid, "cid": cid}),):
        try:
            return str(request.url_for(name, **params).path)
        except NoMatchFound:
            continue
    return f"/rounds/{rid}"


def round_invitations(rid: str, folder: Path, request=None) -> dict:
    """``{"id", "rows"}``: one row per invitation of the round, newest first."""
    if not has_portal(folder):
        return {"id": rid, "rows": []}
    store = PortalStore(folder)
    now = time.time()
    rows = []
    for inv in store.invitations():
        current = store.submission(inv.current_submission) if inv.current_submission else None
        uploads = store.submissions_of(inv.id)
        grading, outcome = ("not final", None)
        if current is not None and current.final_at is not None:
            grading, outcome = grading_state(store, current.id)
        rows.append({
            "id": inv.id, "name": inv.name, "email": inv.email or "", "assignment": inv.assignment,
            # the round table's pseudonym once there is a submission (blind mode)
            "pseudonym": pseudonym(current.content_hash if current else "", inv.id),
            "deadline": format_time(inv.deadline) if inv.deadline else "none",
            "state": invitation_state(inv, now), "uploads": len(uploads),
            "check": current.check_state if current else ("rejected" if uploads else "no upload"),
            "final": bool(current and current.final_at),
            "grading": grading, "outcome": outcome or "",
            "report": _report_href(request, rid, current.content_hash if current else None)
            if grading == "graded" else None,
            "created_by": inv.created_by or "", "revoked": inv.revoked_at is not None,
        })
    return {"id": rid, "rows": rows}


def grading_states(folder: Path) -> dict[str, str]:
    """Per graded content hash (16 hex digits): the portal's grading state of that submission."""
    if not has_portal(folder):
        return {}
    store = PortalStore(folder)
    states = {}
    for inv in store.invitations():
        current = store.submission(inv.current_submission) if inv.current_submission else None
        if current is not None and current.final_at is not None and current.content_hash:
            states[current.content_hash.split(":")[-1][:16]] = grading_state(store, current.id)[0]
    return states


def round_status_rows(rnd) -> list[dict]:
    """A round's (``harness.web.rounds.Round``) final portal submissions and their grading
    state, for the round page."""
    folder = rnd.folder
    if not has_portal(folder):
        return []
    store = PortalStore(folder)
    rows = []
    for inv in store.invitations():
        current = store.submission(inv.current_submission) if inv.current_submission else None
        if current is None or current.final_at is None:
            continue
        grading, outcome = grading_state(store, current.id)
        cid = (current.content_hash or "").split(":")[-1][:16]
        rows.append({"name": inv.name, "final_at": format_time(current.final_at),
                     "grading": grading, "outcome": outcome or "",
                     "report": f"/rounds/{rnd.id}/c/{cid}" if grading == "graded" else None})
    return rows
