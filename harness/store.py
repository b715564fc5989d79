"""The results store: an embedded SQLite database in the output folder.

Each graded submission is recorded under the key (submission hash, assignment hash, rubric hash,
image digest, harness version) with its JSON result. Writes are transactional (one transaction
per result, WAL journal), so a process killed at any moment, SIGKILL included, loses nothing that
was already written and never leaves a half-written row.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

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
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA synchronous=FULL")
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
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
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
