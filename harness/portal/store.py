"""The portal's tables, kept in the output folder's ``results.sqlite`` next to the results.

Three tables: invitations (a token's hash, never the token), submissions (every upload of an
invitation, the current one marked on the invitation) and jobs (the self-check and grading
queue, with a lease so that a restarted worker picks up what a dead one held). Every write is
one ``BEGIN IMMEDIATE`` transaction, so two requests racing on one invitation serialise and a
killed process never leaves half a change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from harness.sqlite_wal import ensure_wal

STORE_FILE = "results.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS portal_invitations (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    assignment TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    deadline REAL,
    expires_at REAL NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT,
    revoked_at REAL,
    revoked_by TEXT,
    current_submission INTEGER
);
CREATE TABLE IF NOT EXISTS portal_submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invitation_id TEXT NOT NULL REFERENCES portal_invitations(id),
    original_name TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content_hash TEXT,
    files INTEGER,
    intake_error TEXT,
    check_state TEXT NOT NULL,
    check_json TEXT,
    uploaded_at REAL NOT NULL,
    final_at REAL
);
CREATE INDEX IF NOT EXISTS portal_submissions_by_invitation
    ON portal_submissions (invitation_id);
CREATE TABLE IF NOT EXISTS portal_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    submission_id INTEGER NOT NULL REFERENCES portal_submissions(id),
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    heartbeat REAL,
    queued_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS portal_jobs_by_state ON portal_jobs (state, kind);
"""


class InvitationRow(BaseModel):
    """One invitation as stored (the token itself is never stored)."""

    id: str
    token_hash: str
    assignment: str
    name: str
    email: str | None
    deadline: float | None  # unix seconds, UTC
    expires_at: float
    created_at: float
    created_by: str | None
    revoked_at: float | None
    revoked_by: str | None
    current_submission: int | None


class SubmissionRow(BaseModel):
    """One upload of an invitation."""

    id: int
    invitation_id: str
    original_name: str  # as the browser sent it: shown escaped, never used as a path
    path: str
    size: int
    sha256: str
    content_hash: str | None  # the snapshot's hash when intake accepted it
    files: int | None
    intake_error: str | None  # intake's rejection, shown to the candidate
    check_state: str  # queued / running / ok / problems / rejected / error / superseded
    check_json: str | None
    uploaded_at: float
    final_at: float | None


class JobRow(BaseModel):
    """One queued self-check or grading job."""

    id: int
    kind: str  # check / grade
    submission_id: int
    state: str  # queued / running / done / failed
    attempts: int
    owner: str | None
    heartbeat: float | None
    queued_at: float
    started_at: float | None
    finished_at: float | None
    outcome: str | None


class PortalStore:
    """The portal's tables in ``<out>/results.sqlite``; safe across threads and processes."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / STORE_FILE
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            ensure_wal(conn)
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): committed on success, else rolled back."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        """Rows of a read-only query."""
        conn = self._connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    # --- typed reads ---------------------------------------------------------------------------

    def invitation(self, invitation_id: str) -> InvitationRow | None:
        """The invitation with this public id, or None."""
        rows = self.query("SELECT * FROM portal_invitations WHERE id = ?", (invitation_id,))
        return InvitationRow(**dict(rows[0])) if rows else None

    def invitation_by_token_hash(self, token_hash: str) -> InvitationRow | None:
        """The invitation whose token hashes to ``token_hash``, or None."""
        rows = self.query("SELECT * FROM portal_invitations WHERE token_hash = ?", (token_hash,))
        return InvitationRow(**dict(rows[0])) if rows else None

    def invitations(self) -> list[InvitationRow]:
        """Every invitation, newest first."""
        rows = self.query("SELECT * FROM portal_invitations ORDER BY created_at DESC, id")
        return [InvitationRow(**dict(r)) for r in rows]

    def submission(self, submission_id: int) -> SubmissionRow | None:
        """The submission with this id, or None."""
        rows = self.query("SELECT * FROM portal_submissions WHERE id = ?", (submission_id,))
        return SubmissionRow(**dict(rows[0])) if rows else None

    def submissions_of(self, invitation_id: str) -> list[SubmissionRow]:
        """Every upload of an invitation, oldest first."""
        rows = self.query("SELECT * FROM portal_submissions WHERE invitation_id = ? ORDER BY id",
                          (invitation_id,))
        return [SubmissionRow(**dict(r)) for r in rows]

    def job(self, job_id: int) -> JobRow | None:
        """The job with this id, or None."""
        rows = self.query("SELECT * FROM portal_jobs WHERE id = ?", (job_id,))
        return JobRow(**dict(rows[0])) if rows else None

    def jobs_of(self, submission_id: int, kind: str | None = None) -> list[JobRow]:
        """A submission's jobs (of one kind), oldest first."""
        sql = "SELECT * FROM portal_jobs WHERE submission_id = ?"
        params: tuple = (submission_id,)
        if kind is not None:
            sql += " AND kind = ?"
            params += (kind,)
        return [JobRow(**dict(r)) for r in self.query(sql + " ORDER BY id", params)]

    def jobs(self, state: str | None = None) -> list[JobRow]:
        """Every job (in one state), oldest first."""
        if state is None:
            rows = self.query("SELECT * FROM portal_jobs ORDER BY id")
        else:
            rows = self.query("SELECT * FROM portal_jobs WHERE state = ? ORDER BY id", (state,))
        return [JobRow(**dict(r)) for r in rows]


def has_portal(out_dir: Path) -> bool:
    """True when ``out_dir``'s store holds portal tables (without creating anything)."""
    path = Path(out_dir) / STORE_FILE
    if not path.is_file():
        return False
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        found = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
                             "name='portal_invitations'").fetchone()
    finally:
        conn.close()
    return found is not None
