"""The job queue: self-checks and grading, kept in the store so a restart loses nothing.

A worker claims the oldest queued job (self-checks first: a candidate is waiting for them) in a
write transaction, marking it ``running`` with its owner (``host:pid``) and a heartbeat. A job
whose owner process is gone, or whose heartbeat stopped for longer than the lease, goes back to
the queue when a worker next looks; after ``MAX_ATTEMPTS`` it is ``failed`` (a harness fault,
never a score).
"""

from __future__ import annotations

import os
import socket
import time

from harness.portal.store import JobRow, PortalStore

LEASE_S = 120.0  # a heartbeat older than this frees the job
HEARTBEAT_S = 10.0
MAX_ATTEMPTS = 3
KIND_ORDER = "CASE kind WHEN 'check' THEN 0 ELSE 1 END"


def worker_id() -> str:
    """This process's owner string."""
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(conn, kind: str, submission_id: int) -> int:
    """Inside a write transaction: queue a job unless the same one is already waiting or running."""
    found = conn.execute("SELECT id FROM portal_jobs WHERE kind = ? AND submission_id = ? AND "
                         "state IN ('queued', 'running')", (kind, submission_id)).fetchone()
    if found is not None:
        return int(found[0])
    cursor = conn.execute("INSERT INTO portal_jobs (kind, submission_id, state, queued_at) "
                          "VALUES (?, ?, 'queued', ?)", (kind, submission_id, time.time()))
    return int(cursor.lastrowid)


def _owner_alive(owner: str | None) -> bool:
    """False when the owner is a process of this host that no longer exists."""
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's worker: only its heartbeat can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def recover(store: PortalStore, now: float | None = None, lease_s: float = LEASE_S) -> list[int]:
    """Put back on the queue the running jobs whose worker died; the ids recovered."""
    now = time.time() if now is None else now
    recovered = []
    with store.write() as conn:
        for row in conn.execute("SELECT * FROM portal_jobs WHERE state = 'running'").fetchall():
            stale = (row["heartbeat"] or 0) < now - lease_s
            if _owner_alive(row["owner"]) and not stale:
                continue
            if row["attempts"] >= MAX_ATTEMPTS:
                conn.execute("UPDATE portal_jobs SET state = 'failed', finished_at = ?, outcome = ?"
                             " WHERE id = ?", (now, "the worker stopped during every attempt",
                                               row["id"]))
            else:
                conn.execute("UPDATE portal_jobs SET state = 'queued', owner = NULL, "
                             "heartbeat = NULL WHERE id = ?", (row["id"],))
            recovered.append(int(row["id"]))
    return recovered


def claim(store: PortalStore, owner: str | None = None, kinds: tuple[str, ...] = ("check", "grade"),
          now: float | None = None) -> JobRow | None:
    """Take the next queued job (self-checks first), or None when there is none."""
    owner = owner or worker_id()
    now = time.time() if now is None else now
    marks = ",".join("?" for _ in kinds)
    with store.write() as conn:
        row = conn.execute(f"SELECT id FROM portal_jobs WHERE state = 'queued' AND kind IN ({marks})"
                           f" ORDER BY {KIND_ORDER}, id LIMIT 1", kinds).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE portal_jobs SET state = 'running', owner = ?, heartbeat = ?, "
                     "started_at = ?, attempts = attempts + 1 WHERE id = ?",
                     (owner, now, now, row["id"]))
    return store.job(int(row["id"]))


def heartbeat(store: PortalStore, job_id: int, owner: str) -> None:
    """Refresh a running job's lease."""
    with store.write() as conn:
        conn.execute("UPDATE portal_jobs SET heartbeat = ? WHERE id = ? AND owner = ? "
                     "AND state = 'running'", (time.time(), job_id, owner))


def finish(store: PortalStore, job_id: int, owner: str, *, ok: bool, outcome: str) -> bool:
    """Record a job's end; False when the job was no longer ours (it was recovered meanwhile)."""
    with store.write() as conn:
        cursor = conn.execute(
            "UPDATE portal_jobs SET state = ?, finished_at = ?, outcome = ? WHERE id = ? AND "
            "owner = ? AND state = 'running'",
            ("done" if ok else "failed", time.time(), outcome[:2000], job_id, owner))
        return cursor.rowcount == 1


def grading_state(store: PortalStore, submission_id: int) -> tuple[str, str | None]:
    """queued / grading / graded / failed (and the outcome) of a final submission's grading."""
    jobs = store.jobs_of(submission_id, "grade")
    if not jobs:
        return "not final", None
    job = jobs[-1]
    state = {"queued": "queued", "running": "grading", "done": "graded", "failed": "failed"}
    return state.get(job.state, job.state), job.outcome
