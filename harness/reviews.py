"""Interviewers' reviews: level overrides, notes per interview question, decisions, round settings.

Every change is one row of ``review_events`` in the round's ``results.sqlite``: who, when, what,
the value before and after, the reason, and which grading it refers to. The table is append-only
(SQLite triggers refuse UPDATE and DELETE); the current state of a candidate is the latest event
per (kind, target). The grader's result is never modified, so a regrade keeps the reviews, and a
review made on an older grading says so (:attr:`ReviewEvent.result_ref`).

``takehome review`` and the web app both call :func:`record_override` & co. For ``takehome
report`` and ``takehome grade`` (which read ``<result>.overrides.yaml``), the overrides of a
candidate are also written to that file after each change (:func:`sync_overrides_file`); the
store stays the source of truth, and reviews found only in a YAML file (written by hand or by an
older takehome) are imported once as events (:func:`import_overrides_file`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from contracts.errors import SpecError
from harness.overrides import OverridesFile, load_overrides, save_overrides
from harness.result import GradingResult
from harness.rubric import CriterionReview

Kind = Literal["override", "note", "decision", "setting"]
DECISIONS = ("advance", "hold", "reject")
MAX_REASON = 2000
MAX_NOTE = 8000
MAX_REVIEWER = 120
ROUND = ""  # the submission hash of round-wide events (settings)

SCHEMA = """
CREATE TABLE IF NOT EXISTS review_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_hash TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('override', 'note', 'decision', 'setting')),
    target TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    reason TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL,
    at TEXT NOT NULL,
    result_ref TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'web'
);
CREATE INDEX IF NOT EXISTS review_events_by_target
    ON review_events (submission_hash, kind, target, id);
CREATE TRIGGER IF NOT EXISTS review_events_no_update BEFORE UPDATE ON review_events
BEGIN SELECT RAISE(ABORT, 'review events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS review_events_no_delete BEFORE DELETE ON review_events
BEGIN SELECT RAISE(ABORT, 'review events are append-only'); END;
"""


@dataclass(frozen=True)
class ReviewEvent:
    """One audit entry."""

    id: int
    submission_hash: str
    kind: str
    target: str
    before: Any
    after: Any
    reason: str
    reviewer: str
    at: str
    result_ref: str
    source: str

    def describe(self) -> str:
        """A one-line account of the change (for the audit list)."""
        if self.kind == "override":
            old = _level_text(self.before)
            new = "automatic level" if self.after is None else f"level {self.after['level']}"
            return f"{self.target}: {old} → {new}"
        if self.kind == "decision":
            old = (self.before or {}).get("decision") or "none"
            new = (self.after or {}).get("decision") or "none"
            return f"decision: {old} → {new}"
        if self.kind == "note":
            verb = "cleared" if not (self.after or {}).get("text") else (
                "edited" if (self.before or {}).get("text") else "added")
            return f"note on {self.target} {verb}"
        return f"setting {self.target}: {json.dumps(self.before)} → {json.dumps(self.after)}"


def _level_text(value: Any) -> str:
    if not isinstance(value, dict):
        return "level –"
    level = value.get("level")
    text = f"level {level}" if level is not None else "not graded"
    return text + (" (reviewed)" if value.get("reviewed") else "")


@dataclass
class ReviewState:
    """The current reviews of one candidate: latest event per criterion / question, decision."""

    overrides: dict[str, ReviewEvent] = field(default_factory=dict)
    override_notes: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, ReviewEvent] = field(default_factory=dict)
    decision: ReviewEvent | None = None
    events: list[ReviewEvent] = field(default_factory=list)

    def overrides_file(self) -> OverridesFile:
        """The overrides as :func:`harness.overrides.apply_overrides` takes them."""
        criteria = {}
        for criterion, event in sorted(self.overrides.items()):
            criteria[criterion] = CriterionReview(
                level=event.after["level"], reviewer=event.reviewer[:MAX_REVIEWER],
                reason=event.reason, notes=self.override_notes.get(criterion, []), at=event.at)
        return OverridesFile(criteria=criteria)

    @property
    def decision_value(self) -> str | None:
        """``advance`` / ``hold`` / ``reject``, or None."""
        return (self.decision.after or {}).get("decision") if self.decision else None

    def stale(self, result_ref: str) -> list[ReviewEvent]:
        """Current overrides and decision recorded against another grading than ``result_ref``."""
        current = list(self.overrides.values()) + ([self.decision] if self.decision else [])
        return [e for e in current if e.result_ref and e.result_ref != result_ref]


def result_ref(key: Any, graded_at: float) -> str:
    """Which grading a stored result is (harness version, image, rubric, time): reviews keep it
    to say when they refer to an older grading of the same submission."""
    return (f"{key.harness_version}|{key.image_digest[:19]}|{key.rubric_hash[:12]}|"
            f"{graded_at:.3f}")


def latest_result_ref(store_path: Path, submission_hash: str) -> str | None:
    """The reference of the newest stored grading of a submission, or None when not stored."""
    from harness.store import ResultStore

    for stored, graded_at in ResultStore(store_path).latest_by_submission():
        if stored.key.submission_hash == submission_hash:
            return result_ref(stored.key, graded_at)
    return None


def now_stamp() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class ReviewLog:
    """The review tables of one round's ``results.sqlite``."""

    # store files (path, device, inode) whose tables exist: created once per process, again
    # when the file is replaced (a round deleted and graded anew)
    _ready: ClassVar[set[tuple[str, int, int]]] = set()

    def __init__(self, store_path: Path):
        self.path = Path(store_path)
        if self._identity() in ReviewLog._ready:
            return
        conn = self._connect()
        try:
            conn.executescript(SCHEMA)
        finally:
            conn.close()
        ReviewLog._ready.add(self._identity())

    def _identity(self) -> tuple[str, int, int]:
        try:
            info = self.path.stat()
        except OSError:
            return (str(self.path), -1, -1)
        return (str(self.path), info.st_dev, info.st_ino)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def append(self, submission_hash: str, kind: Kind, target: str, *, before: Any, after: Any,
               reviewer: str, reason: str = "", result_ref: str = "", source: str = "web",
               at: str | None = None) -> ReviewEvent:
        """Append one event (one transaction) and return it."""
        reviewer = _clean(reviewer, "reviewer", MAX_REVIEWER, required=True)
        stamp = at or now_stamp()
        row = (submission_hash, kind, target, json.dumps(before), json.dumps(after), reason,
               reviewer, stamp, result_ref, source)
        conn = self._connect()
        try:
            cursor = conn.execute(
                "INSERT INTO review_events (submission_hash, kind, target, before_json, "
                "after_json, reason, reviewer, at, result_ref, source) VALUES (?,?,?,?,?,?,?,?,?,?)",
                row)
            event_id = int(cursor.lastrowid or 0)
        finally:
            conn.close()
        return ReviewEvent(event_id, submission_hash, kind, target, before, after, reason,
                           reviewer, stamp, result_ref, source)

    def events(self, submission_hash: str | None = None) -> list[ReviewEvent]:
        """Every event (of one submission), oldest first."""
        sql = ("SELECT id, submission_hash, kind, target, before_json, after_json, reason, "
               "reviewer, at, result_ref, source FROM review_events")
        params: tuple = ()
        if submission_hash is not None:
            sql += " WHERE submission_hash=?"
            params = (submission_hash,)
        conn = self._connect()
        try:
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
        finally:
            conn.close()
        return [ReviewEvent(r[0], r[1], r[2], r[3], _loads(r[4]), _loads(r[5]), r[6], r[7], r[8],
                            r[9], r[10]) for r in rows]

    def state(self, submission_hash: str) -> ReviewState:
        """The current reviews of one submission."""
        return fold(self.events(submission_hash))

    def states(self) -> dict[str, ReviewState]:
        """The current reviews of every submission that has any."""
        by_submission: dict[str, list[ReviewEvent]] = {}
        for event in self.events():
            if event.submission_hash != ROUND:
                by_submission.setdefault(event.submission_hash, []).append(event)
        return {k: fold(v) for k, v in by_submission.items()}

    def settings(self) -> dict[str, Any]:
        """Round-wide settings (e.g. ``blind``: forced blind mode), latest value each."""
        values: dict[str, Any] = {}
        for event in self.events(ROUND):
            if event.kind == "setting":
                values[event.target] = event.after
        return values


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def fold(events: Iterable[ReviewEvent]) -> ReviewState:
    """The state after ``events`` (oldest first)."""
    state = ReviewState()
    for event in events:
        state.events.append(event)
        if event.kind == "override":
            if event.after is None:
                state.overrides.pop(event.target, None)
            else:
                state.overrides[event.target] = event
                if event.after.get("note"):
                    state.override_notes.setdefault(event.target, []).append(event.after["note"])
        elif event.kind == "note":
            if (event.after or {}).get("text"):
                state.notes[event.target] = event
            else:
                state.notes.pop(event.target, None)
        elif event.kind == "decision":
            state.decision = event if (event.after or {}).get("decision") else None
    return state


def _clean(text: str | None, what: str, limit: int, *, required: bool) -> str:
    value = (text or "").replace("\r\n", "\n").strip()
    if required and not value:
        raise SpecError(f"a {what} is required")
    if len(value) > limit:
        raise SpecError(f"the {what} is too long ({len(value)} characters; at most {limit})")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise SpecError(f"the {what} contains control characters")
    return value


# --- the three kinds of review --------------------------------------------------------------------


def record_override(log: ReviewLog, result: GradingResult, *, criterion: str, level: int | None,
                    reviewer: str, reason: str, note: str | None = None, result_ref: str = "",
                    source: str = "web", at: str | None = None) -> ReviewEvent:
    """Set a criterion's level (``None``: back to the automatic level), with a required reason."""
    if result.rubric is None:
        raise SpecError("this result has no rubric scores to review (status "
                        f"{result.status}: {result.status_reason})")
    criteria = {c.id: c for c in result.rubric.criteria}
    if criterion not in criteria:
        raise SpecError(f"unknown criterion {criterion!r}",
                        hint=f"criteria: {', '.join(criteria)}")
    if level is not None and (isinstance(level, bool) or not 0 <= level <= 4):
        raise SpecError(f"level must be 0–4, got {level}")
    reason = _clean(reason, "reason", MAX_REASON, required=True)
    note = _clean(note, "note", MAX_NOTE, required=False) or None
    current = log.state(result.submission.content_hash).overrides.get(criterion)
    automatic = criteria[criterion].level
    before = ({"level": current.after["level"], "reviewed": True} if current
              else {"level": automatic, "reviewed": False})
    if level is None and current is None:
        raise SpecError(f"{criterion} has no override to remove")
    after = None if level is None else {"level": level, "automatic": automatic}
    if after is not None and note:
        after["note"] = note
    return log.append(result.submission.content_hash, "override", criterion, before=before,
                      after=after, reviewer=reviewer, reason=reason, result_ref=result_ref,
                      source=source, at=at)


def record_note(log: ReviewLog, result: GradingResult, *, question: str, text: str,
                reviewer: str, result_ref: str = "", source: str = "web") -> ReviewEvent | None:
    """Set the note on one interview question (empty text clears it); None when unchanged."""
    known = {q.id for q in result.questions}
    if question not in known:
        raise SpecError(f"unknown question {question!r}")
    text = _clean(text, "note", MAX_NOTE, required=False)
    current = log.state(result.submission.content_hash).notes.get(question)
    old = (current.after or {}).get("text", "") if current else ""
    if text == old:
        return None
    return log.append(result.submission.content_hash, "note", question,
                      before={"text": old} if old else None, after={"text": text},
                      reviewer=reviewer, result_ref=result_ref, source=source)


def record_decision(log: ReviewLog, result: GradingResult, *, decision: str | None,
                    reviewer: str, reason: str, result_ref: str = "",
                    source: str = "web") -> ReviewEvent:
    """Decide on a candidate (advance / hold / reject; None withdraws it), with a reason."""
    if decision is not None and decision not in DECISIONS:
        raise SpecError(f"unknown decision {decision!r}", hint=f"choose {', '.join(DECISIONS)}")
    reason = _clean(reason, "reason", MAX_REASON, required=True)
    current = log.state(result.submission.content_hash).decision_value
    if decision is None and current is None:
        raise SpecError("there is no decision to withdraw")
    return log.append(result.submission.content_hash, "decision", "",
                      before={"decision": current} if current else None,
                      after={"decision": decision} if decision else None,
                      reviewer=reviewer, reason=reason, result_ref=result_ref, source=source)


def set_round_setting(log: ReviewLog, key: str, value: Any, *, reviewer: str,
                      reason: str = "") -> ReviewEvent:
    """Change a round-wide setting (audited like every other change)."""
    before = log.settings().get(key)
    return log.append(ROUND, "setting", key, before=before, after=value, reviewer=reviewer,
                      reason=reason)


# --- the overrides YAML, kept in step for `takehome report` and `takehome grade` ----------------


def sync_overrides_file(log: ReviewLog, submission_hash: str, path: Path) -> Path | None:
    """Write the submission's current overrides to ``path`` (removing it when there are none).

    Returns the path written, or None when the folder does not exist (a result without a
    report folder).
    """
    if not path.parent.is_dir():
        return None
    overrides = log.state(submission_hash).overrides_file()
    if overrides.criteria:
        return save_overrides(overrides, path)
    path.unlink(missing_ok=True)
    return path


def review_in_store(result_path: Path, result: GradingResult, *, criterion: str, level: int,
                    reviewer: str, reason: str, note: str | None = None) -> Path | None:
    """``takehome review`` for a result inside a graded batch: record the override in the
    batch's store (as the web app does) and rewrite the overrides YAML from it.

    Returns the YAML path, or None when the result is not in a store (the caller then keeps the
    YAML-only behaviour).
    """
    store_path = Path(result_path).resolve().parent.parent / "results.sqlite"
    if not store_path.is_file():
        return None
    ref = latest_result_ref(store_path, result.submission.content_hash)
    if ref is None:
        return None
    log = ReviewLog(store_path)
    yaml_path = Path(result_path).with_name(f"{Path(result_path).stem}.overrides.yaml")
    import_overrides_file(log, result, yaml_path, result_ref=ref)
    record_override(log, result, criterion=criterion, level=level, reviewer=reviewer,
                    reason=reason, note=note, result_ref=ref, source="cli")
    sync_overrides_file(log, result.submission.content_hash, yaml_path)
    return yaml_path


def import_overrides_file(log: ReviewLog, result: GradingResult, path: Path,
                          result_ref: str = "") -> int:
    """Import the reviews of an overrides YAML that the store does not have; return how many.

    A review counts as known when the store's current override of that criterion has the same
    level, reviewer and reason.
    """
    if not path.is_file() or result.rubric is None:
        return 0
    overrides = load_overrides(path)
    state = log.state(result.submission.content_hash)
    known = {c.id for c in result.rubric.criteria}
    imported = 0
    for criterion, review in sorted(overrides.criteria.items()):
        current = state.overrides.get(criterion)
        if criterion not in known or (current is not None and (
                current.after["level"], current.reviewer, current.reason)
                == (review.level, review.reviewer, review.reason)):
            continue
        new_notes = [n for n in review.notes
                     if n not in state.override_notes.get(criterion, [])]
        record_override(log, result, criterion=criterion, level=review.level,
                        reviewer=review.reviewer, reason=review.reason,
                        note="\n".join(new_notes) or None, result_ref=result_ref,
                        source="import", at=review.at)
        imported += 1
    return imported
