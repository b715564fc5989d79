"""Invitations: a link per candidate holding an unguessable token, stored only as its hash.

The token is 32 random bytes (``secrets.token_urlsafe``), so a plain SHA-256 of it is enough to
store (a slow password hash guards low-entropy secrets; this one cannot be guessed). A token
resolves to its invitation only while it is neither revoked nor expired; every refusal looks the
same to the visitor ("this link is not valid") so a probe learns nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contracts.errors import TakehomeError
from harness.portal.store import InvitationRow, PortalStore

TOKEN_BYTES = 32
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{40,64}$")
LINK_DAYS_AFTER_DEADLINE = 14  # the candidate can still see their submission's state
LINK_DAYS_WITHOUT_DEADLINE = 30
NAME_MAX = 200
EMAIL_MAX = 254


class InvitationRefused(TakehomeError):
    """A token that opens nothing: unknown, revoked or expired (the reason is for logs only)."""


@dataclass(frozen=True)
class NewInvitation:
    """A freshly created invitation and its token (shown once, never stored)."""

    invitation: InvitationRow
    token: str

    def link(self, base_url: str) -> str:
        """The candidate's link under ``base_url`` (the address ``takehome serve`` answers on)."""
        return candidate_link(base_url, self.token)


def candidate_link(base_url: str, token: str) -> str:
    """``<base_url>/c/<token>``."""
    return base_url.rstrip("/") + "/c/" + token


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(("takehome-invitation:" + token).encode()).hexdigest()


def parse_deadline(text: str | None) -> float | None:
    """An ISO-8601 date or date-time as unix seconds; a time without an offset is UTC.

    A bare date (``2026-12-09``) means the end of that day, UTC.
    """
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise TakehomeError(f"deadline {value!r} is not an ISO-8601 date or date-time",
                            hint="e.g. 2026-12-09 or 2026-12-09T17:00:00+01:00") from error
    if len(value) == 10:  # a date: the whole day counts
        moment = moment + timedelta(days=1) - timedelta(seconds=1)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_time(seconds: float | None) -> str:
    """A stored time as ISO-8601 UTC (``-`` for none)."""
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _clean(text: str | None, limit: int, what: str) -> str | None:
    if text is None:
        return None
    value = " ".join(text.split())
    if len(value) > limit:
        raise TakehomeError(f"{what} is longer than {limit} characters", hint="shorten it")
    return value or None


def create_invitation(store: PortalStore, assignment: str, name: str, *, email: str | None = None,
                      deadline: float | None = None, created_by: str | None = None,
                      now: float | None = None) -> NewInvitation:
    """Record an invitation for ``name`` to ``assignment`` (a slug or folder, checked first)."""
    from harness.assignment import load_assignment

    load_assignment(assignment)  # an unknown assignment fails here, with its own message
    clean_name = _clean(name, NAME_MAX, "the name")
    if not clean_name:
        raise TakehomeError("the candidate's name is empty", hint="pass --name NAME")
    clean_email = _clean(email, EMAIL_MAX, "the e-mail")
    if clean_email is not None and "@" not in clean_email:
        raise TakehomeError(f"{clean_email!r} is not an e-mail address", hint="e.g. ada@example.org")
    now = time.time() if now is None else now
    if deadline is not None and deadline <= now:
        raise TakehomeError("the deadline is in the past", hint="pass a later --deadline")
    expires = (deadline + LINK_DAYS_AFTER_DEADLINE * 86400 if deadline is not None
               else now + LINK_DAYS_WITHOUT_DEADLINE * 86400)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = InvitationRow(
        id=secrets.token_hex(6), token_hash=hash_token(token), assignment=str(assignment),
        name=clean_name, email=clean_email, deadline=deadline, expires_at=expires,
        created_at=now, created_by=created_by, revoked_at=None, revoked_by=None,
        current_submission=None,
    )
    with store.write() as conn:
        conn.execute(
            "INSERT INTO portal_invitations (id, token_hash, assignment, name, email, deadline, "
            "expires_at, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row.id, row.token_hash, row.assignment, row.name, row.email, row.deadline,
             row.expires_at, row.created_at, row.created_by),
        )
    return NewInvitation(row, token)


def resolve_token(store: PortalStore, token: str, now: float | None = None) -> InvitationRow:
    """The invitation a token opens; raises InvitationRefused when it opens nothing."""
    if not TOKEN_SHAPE.match(token or ""):
        raise InvitationRefused("malformed token")
    row = store.invitation_by_token_hash(hash_token(token))
    if row is None:
        raise InvitationRefused("unknown token")
    now = time.time() if now is None else now
    if row.revoked_at is not None:
        raise InvitationRefused(f"invitation {row.id} was revoked")
    if now >= row.expires_at:
        raise InvitationRefused(f"invitation {row.id} expired")
    return row


def deadline_passed(row: InvitationRow, now: float | None = None) -> bool:
    """True once the invitation's deadline is behind us."""
    now = time.time() if now is None else now
    return row.deadline is not None and now >= row.deadline


def revoke_invitation(store: PortalStore, invitation_id: str, revoked_by: str | None = None,
                      now: float | None = None) -> InvitationRow:
    """Revoke an invitation: its link stops working at once (its submissions are kept)."""
    now = time.time() if now is None else now
    with store.write() as conn:
        found = conn.execute("SELECT revoked_at FROM portal_invitations WHERE id = ?",
                             (invitation_id,)).fetchone()
        if found is None:
            raise TakehomeError(f"no invitation {invitation_id!r}",
                                hint="list them with `takehome invitations list -o OUT`")
        if found["revoked_at"] is None:
            conn.execute("UPDATE portal_invitations SET revoked_at = ?, revoked_by = ? "
                         "WHERE id = ?", (now, revoked_by, invitation_id))
    row = store.invitation(invitation_id)
    assert row is not None
    return row


def invitation_state(row: InvitationRow, now: float | None = None) -> str:
    """open / past deadline / expired / revoked, for listings."""
    now = time.time() if now is None else now
    if row.revoked_at is not None:
        return "revoked"
    if now >= row.expires_at:
        return "expired"
    if deadline_passed(row, now):
        return "past deadline"
    return "open"


def open_store(out_dir: Path) -> PortalStore:
    """The portal store of an output folder (created when missing)."""
    return PortalStore(out_dir)
