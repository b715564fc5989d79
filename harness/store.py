"""The results store: an embedded SQLite database in the output folder.

Each graded submission is recorded under the key (submission hash, assignment hash, rubric hash,
image digest, harness version) with its JSON result. Writes are transactional (one transaction
per result, WAL journal), so a process killed at any moment, SIGKILL included, loses nothing that
was already written and never leaves a half-written row. A full disk (SQLite's "database or
disk is full", ENOSPC, EDQUOT) rolls the transaction back and raises :class:`OutputDiskFull`,
one line naming the folder: the store keeps every row it had, and nothing else.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from contracts.errors import EnvironmentProblem
from harness.sqlite_wal import ensure_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    submission_hash TEXT NOT NULL,
    assignment_hash TEXT NOT NULL,
    rubric_hash TEXT NOT NULL,
    image_digest TEXT NOT NULL,
    harness_version TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    total REAL,
    result_json TEXT NOT NULL,
    report_path TEXT,
    graded_at REAL NOT NULL,
    PRIMARY KEY (submission_hash, assignment_hash, rubric_hash, image_digest, harness_version)
);
"""


class OutputDiskFull(EnvironmentProblem):
    """The output folder's disk is full: takehome stops (results already written stay)."""


LOW_SPACE_BYTES = 1 << 20  # SQLite's "disk I/O error" with less than this free is a full disk


def is_disk_full(exc: BaseException, path: Path | None = None) -> bool:
    """True for the errors a full disk or an exhausted quota raises (OSError, SQLite).

    With ``path``, SQLite's generic "disk I/O error" (what WAL's shared-memory file gives on a
    full disk) counts too when that folder's disk has almost no space left.
    """
    if isinstance(exc, OutputDiskFull):
        return True
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    if "disk is full" in str(exc):
        return True
    if path is not None and "disk I/O error" in str(exc):
        try:
            return shutil.disk_usage(Path(path).parent).free < LOW_SPACE_BYTES
        except OSError:
            return False
    return False


def disk_full_error(path: Path, what: str) -> OutputDiskFull:
    """The one-line error for a full disk while writing ``what`` at ``path``."""
    try:
        free = f"{shutil.disk_usage(Path(path).parent).free / 2**20:.1f} MB free"
    except OSError:
        free = "free space unknown"
    return OutputDiskFull(
        f"the disk holding {Path(path).parent} is full ({free}) while writing {what}; "
        "stopped: results already written are kept, nothing half-written was stored",
        hint="free some space (or choose another --output folder) and rerun: finished "
             "submissions are reused",
    )


@dataclass(frozen=True)
class ResultKey:
    """What makes a stored result reusable: the same inputs graded by the same harness."""

    submission_hash: str
    assignment_hash: str
    rubric_hash: str
    image_digest: str
    harness_version: str

    def as_tuple(self) -> tuple[str, str, str, str, str]:
        """The key's columns, in primary-key order."""
        return (
            self.submission_hash,
            self.assignment_hash,
            self.rubric_hash,
            self.image_digest,
            self.harness_version,
        )


@dataclass(frozen=True)
class StoredResult:
    """One row of the store."""

    key: ResultKey
    name: str
    status: str
    total: float | None
    result_json: str
    report_path: str | None


class ResultStore:
    """SQLite-backed store of grading results; safe to use from several threads."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as conn:
                ensure_wal(conn)
                conn.executescript(SCHEMA)
        except (sqlite3.OperationalError, OSError) as exc:
            if is_disk_full(exc, path):
                raise disk_full_error(path, "the results store") from exc
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.OperationalError as exc:
            conn.close()
            if is_disk_full(exc, self.path):
                raise disk_full_error(self.path, "the results store") from exc
            raise
        return conn

    def get(self, key: ResultKey) -> StoredResult | None:
        """The stored result for ``key``, or None."""
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT name, status, total, result_json, report_path FROM results WHERE "
                "submission_hash=? AND assignment_hash=? AND rubric_hash=? AND image_digest=? "
                "AND harness_version=?",
                key.as_tuple(),
            ).fetchone()
        finally:
            conn.close()
        if row is None:
            return None
        return StoredResult(key, row[0], row[1], row[2], row[3], row[4])

    def put(
        self,
        key: ResultKey,
        *,
        name: str,
        status: str,
        total: float | None,
        result_json: str,
        report_path: str | None,
    ) -> None:
        """Insert or replace the result for ``key`` in one transaction."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (*key.as_tuple(), name, status, total, result_json, report_path, time.time()),
            )
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if is_disk_full(exc, self.path):
                raise disk_full_error(self.path, f"the result of {name}") from exc
            raise
        finally:
            conn.close()

    def all(self) -> list[StoredResult]:
        """Every stored result, ordered by name then key (deterministic)."""
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT submission_hash, assignment_hash, rubric_hash, image_digest, "
                "harness_version, name, status, total, result_json, report_path FROM results "
                "ORDER BY name, submission_hash"
            ).fetchall()
        finally:
            conn.close()
        return [StoredResult(ResultKey(*r[:5]), r[5], r[6], r[7], r[8], r[9]) for r in rows]

    def count(self) -> int:
        """Number of stored results."""
        conn = self._connect()
        try:
            return int(conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])
        finally:
            conn.close()

    def latest_by_submission(self) -> list[tuple[StoredResult, float]]:
        """The newest result of each submission (by grading time) with that time, by name.

        A submission regraded by another harness version or image has several rows; readers
        that show one line per candidate (the web app) want the newest.
        """
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT submission_hash, assignment_hash, rubric_hash, image_digest, "
                "harness_version, name, status, total, result_json, report_path, graded_at "
                "FROM results r WHERE graded_at = (SELECT MAX(graded_at) FROM results o "
                "WHERE o.submission_hash = r.submission_hash) ORDER BY name, submission_hash"
            ).fetchall()
        finally:
            conn.close()
        seen: set[str] = set()
        latest = []
        for r in rows:
            if r[0] not in seen:
                seen.add(r[0])
                latest.append((StoredResult(ResultKey(*r[:5]), r[5], r[6], r[7], r[8], r[9]),
                               r[10]))
        return latest
