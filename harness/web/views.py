"""What the pages show, computed from the store and the review log (routes stay small).

A candidate is always shown as :func:`harness.report.prepare` makes it: the reviewers' overrides
applied, then names hidden when blind. The round table uses the batch index's row data
(:mod:`harness.report.index`), with the decisions added.
"""

from __future__ import annotations

import csv
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from harness.report import prepare
from harness.report.blind import pseudonym
from harness.report.html import HELDOUT_GRADER, STATUS_LABELS, heldout_primary
from harness.report.index import criterion_ids, csv_safe, index_row, short_title
from harness.result import GradingResult
from harness.reviews import MAX_NOTE, ReviewLog, ReviewState
from harness.web.rounds import Candidate, Round

SORT_KEYS = ("name", "status", "total", "flags", "decision", "metric")
STATUSES = tuple(STATUS_LABELS)
_parsed: OrderedDict[tuple[str, str], GradingResult] = OrderedDict()
_parsed_lock = threading.Lock()
PARSED_CACHE = 256


def parsed(candidate: Candidate) -> GradingResult:
    """The candidate's validated result, parsed once per grading (a small LRU cache)."""
    key = (candidate.stored.key.submission_hash, candidate.result_ref)
    with _parsed_lock:
        if key in _parsed:
            _parsed.move_to_end(key)
            return _parsed[key]
    result = candidate.result
    with _parsed_lock:
        _parsed[key] = result
        while len(_parsed) > PARSED_CACHE:
            _parsed.popitem(last=False)
    return result


@dataclass
class Shown:
    """One candidate as a page shows it."""

    candidate: Candidate
    result: GradingResult  # overrides applied, blinded when blind
    original: GradingResult  # as graded
    review: ReviewState
    blind: bool

    @property
    def id(self) -> str:
        """The candidate's URL id."""
        return self.candidate.id

    @property
    def name(self) -> str:
        """The name to show (a pseudonym when blind)."""
        return self.result.submission.name

    @property
    def stale(self) -> list:
        """Reviews made on an older grading of this submission."""
        return self.review.stale(self.candidate.result_ref)


def show(candidate: Candidate, review: ReviewState, blind: bool) -> Shown:
    """Prepare one candidate for display."""
    original = parsed(candidate)
    overrides = review.overrides_file() if original.rubric is not None else None
    try:
        result = prepare(original, overrides, blind)
    except ValueError:  # an override of a criterion this grading no longer has
        result = prepare(original, None, blind)
    return Shown(candidate, result, original, review, blind)


def shown_candidates(rnd: Round, blind: bool) -> list[Shown]:
    """Every candidate of a round whose stored result is valid, prepared (see
    :func:`unreadable`)."""
    states = ReviewLog(rnd.store.path).states()
    shown = []
    for candidate in rnd.candidates():
        try:
            shown.append(show(candidate, states.get(candidate.stored.key.submission_hash,
                                                    ReviewState()), blind))
        except ValueError:  # an invalid stored result: listed apart, never half-shown
            continue
    return shown


def unreadable(rnd: Round, shown: list[Shown]) -> list[str]:
    """The names of the round's stored results that are not valid results."""
    ok = {s.id for s in shown}
    return [c.stored.name for c in rnd.candidates() if c.id not in ok]


def display_name(shown: Shown) -> str:
    """The candidate's name, or its pseudonym when blind."""
    if shown.blind:
        return pseudonym(shown.original.submission.content_hash, shown.original.submission.name)
    return shown.original.submission.name


# --- the round table --------------------------------------------------------------------------


@dataclass(frozen=True)
class TableQuery:
    """Sorting and filters of the round table (from the query string; unknown values ignored)."""

    sort: str = "total"
    descending: bool = True
    status: str = ""
    decision: str = ""  # advance | hold | reject | none
    flags: str = ""  # any | high | none
    criterion: str = ""
    level_op: str = "le"  # le | eq | ge
    level: int | None = None

    @classmethod
    def from_params(cls, params: Any, criteria: list[str]) -> TableQuery:
        """Read the query string, keeping only known values."""
        sort = params.get("sort", "total")
        if sort not in SORT_KEYS and sort not in criteria:
            sort = "total"
        level = params.get("level", "")
        return cls(
            sort=sort,
            descending=params.get("dir", "desc" if sort in ("total", "flags") else "asc")
            == "desc",
            status=params.get("status", "") if params.get("status") in STATUSES else "",
            decision=params.get("decision", "") if params.get("decision") in (
                "advance", "hold", "reject", "none") else "",
            flags=params.get("flags", "") if params.get("flags") in ("any", "high", "none")
            else "",
            criterion=params.get("criterion", "") if params.get("criterion") in criteria else "",
            level_op=params.get("level_op", "le") if params.get("level_op") in ("le", "eq", "ge")
            else "le",
            level=int(level) if level in ("0", "1", "2", "3", "4") else None,
        )

    def link(self, **changes: Any) -> str:
        """The query string of this table with ``changes`` applied."""
        from urllib.parse import urlencode

        values = {"sort": self.sort, "dir": "desc" if self.descending else "asc",
                  "status": self.status, "decision": self.decision, "flags": self.flags,
                  "criterion": self.criterion, "level_op": self.level_op,
                  "level": "" if self.level is None else str(self.level)}
        values.update({k: v for k, v in changes.items()})
        return "?" + urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def sort_link(self, key: str) -> str:
        """The link a column header points to (toggles the direction when already sorted)."""
        if key == self.sort:
            return self.link(dir="asc" if self.descending else "desc")
        return self.link(sort=key, dir="desc" if key in ("total", "flags") else "asc")


def table_rows(shown: list[Shown], query: TableQuery) -> tuple[list[dict[str, Any]], list]:
    """(rows, criteria columns) of the round table after filtering and sorting."""
    criteria = criterion_ids([s.result for s in shown])
    rows = []
    for s in shown:
        row = index_row(s.result, f"c/{s.id}", criteria)
        row.update({"id": s.id, "name": display_name(s), "decision": s.review.decision_value,
                    "decision_by": s.review.decision.reviewer if s.review.decision else "",
                    "stale": bool(s.stale), "shown": s})
        row["level_of"] = {cid: lv["level"] for (cid, _), lv in zip(criteria, row["levels"])}
        if _keep(row, s, query):
            rows.append(row)
    rows.sort(key=lambda r: _sort_key(r, query.sort))
    if query.descending:
        # missing values stay last whichever way the table is sorted
        present = [r for r in rows if _sort_key(r, query.sort)[0] == 0]
        rows = present[::-1] + [r for r in rows if _sort_key(r, query.sort)[0] != 0]
    columns = [(cid, title, short_title(cid, title)) for cid, title in criteria]
    return rows, columns


def _keep(row: dict[str, Any], s: Shown, q: TableQuery) -> bool:
    if q.status and s.result.status != q.status:
        return False
    if q.decision and (row["decision"] or "none") != q.decision:
        return False
    if q.flags == "any" and not row["flags"]:
        return False
    if q.flags == "high" and not row["high"]:
        return False
    if q.flags == "none" and row["flags"]:
        return False
    if q.criterion and q.level is not None:
        level = row["level_of"].get(q.criterion)
        if level is None:
            return False
        if {"le": level > q.level, "eq": level != q.level, "ge": level < q.level}[q.level_op]:
            return False
    return True


_DECISION_ORDER = {"advance": 0, "hold": 1, "reject": 2}


def _sort_key(row: dict[str, Any], key: str) -> tuple:
    r: GradingResult = row["r"]
    value: Any
    if key == "name":
        value = row["name"].lower()
    elif key == "status":
        value = r.status
    elif key == "total":
        value = r.total
    elif key == "flags":
        value = (row["high"], row["flags"])
    elif key == "decision":
        value = _DECISION_ORDER.get(row["decision"] or "")
    elif key == "metric":
        value = row["primary_value"]
    else:
        value = row["level_of"].get(key)
    return (0 if value is not None else 1, value if value is not None else 0,
            row["name"].lower())


# --- comparison ---------------------------------------------------------------------------------


def comparison(shown: list[Shown]) -> list[dict[str, Any]]:
    """One row per criterion: each candidate's level, score, descriptor and failing checks."""
    order = criterion_ids([s.result for s in shown])
    rows = []
    for cid, title in order:
        cells = []
        for s in shown:
            criterion = next((c for c in (s.result.rubric.criteria if s.result.rubric else [])
                              if c.id == cid), None)
            failing = []
            if criterion is not None:
                for grader in criterion.grader_scores:
                    result = s.result.graders.get(grader)
                    for check in (result.checks if result else []):
                        if not check.passed:
                            failing.append(check)
            failing.sort(key=lambda c: -c.weight)
            cells.append({"c": criterion, "failing": failing[:3]})
        rows.append({"id": cid, "title": title, "cells": cells})
    return rows


def metric_of(result: GradingResult) -> tuple[str | None, float | None]:
    """(primary metric name, held-out value) of a result."""
    return heldout_primary(result.graders.get(HELDOUT_GRADER))


# --- CSV export ---------------------------------------------------------------------------------


def review_markdown(shown: Shown) -> str:
    """The interviewers' part of a candidate's Markdown download: decision and question notes.

    Empty when nobody decided or wrote a note. Every reviewer's text is escaped (one paragraph
    per note, no raw HTML), as the report's own text is.
    """
    from harness.report.markdown import md_escape

    review, lines = shown.review, []
    if review.decision is not None:
        decision = review.decision
        reason = f": {md_escape(decision.reason, MAX_NOTE)}" if decision.reason else ""
        lines.append(f"- **Decision:** {md_escape(review.decision_value or 'withdrawn')} by "
                     f"{md_escape(decision.reviewer)} ({md_escape(decision.at)}){reason}")
    questions = {q.id: q.text for q in shown.result.questions}
    for question, event in sorted(review.notes.items()):
        text = (event.after or {}).get("text", "")
        lines.append(f"- **{md_escape(questions.get(question, question))}** "
                     f"({md_escape(event.reviewer)}, {md_escape(event.at)}): "
                     f"{md_escape(text, MAX_NOTE)}")
    return "\n".join(["", "## Interview review", "", *lines, ""]) if lines else ""


def notes_cell(shown: Shown) -> str:
    """Every question note of a candidate in one CSV cell: ``question: note`` per line."""
    questions = {q.id: q.text for q in shown.result.questions}
    return "\n".join(f"{questions.get(q, q)}: {(e.after or {}).get('text', '')}"
                     for q, e in sorted(shown.review.notes.items()))


def round_csv(shown: list[Shown]) -> str:
    """The round for applicant-tracking systems: one row per candidate (formula-safe cells)."""
    criteria = criterion_ids([s.result for s in shown])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["candidate", "content_hash", "status", "total", "automatic_total", "red_flags",
              "high_red_flags"]
    header += [f"{cid}_level" for cid, _ in criteria]
    header += ["primary_metric", "primary_value", "decision", "decision_reviewer",
               "decision_reason", "decided_at", "reviewed_criteria", "reviewers",
               "reviews_on_older_grading", "interview_notes"]
    writer.writerow(header)
    for s in sorted(shown, key=lambda s: display_name(s).lower()):
        r = s.result
        scored = {c.id: c for c in r.rubric.criteria} if r.rubric else {}
        automatic = r.rubric.automatic_total if r.rubric else None
        if automatic is None:
            automatic = r.total
        metric, value = metric_of(r)
        decision = s.review.decision
        reviewers = sorted({e.reviewer for e in s.review.events if e.kind != "setting"})
        row: list[Any] = [display_name(s), r.submission.content_hash, r.status,
                          "" if r.total is None else f"{r.total:.1f}",
                          "" if automatic is None else f"{automatic:.1f}", len(r.red_flags),
                          sum(1 for f in r.red_flags if f.severity == "high")]
        for cid, _ in criteria:
            c = scored.get(cid)
            row.append("" if c is None or c.level is None else c.level)
        row += [metric or "", "" if value is None else f"{value:.4f}",
                s.review.decision_value or "", decision.reviewer if decision else "",
                decision.reason if decision else "", decision.at if decision else "",
                " ".join(sorted(s.review.overrides)), " ".join(reviewers),
                "yes" if s.stale else "", notes_cell(s)]
        writer.writerow([csv_safe(v) for v in row])
    return buffer.getvalue()
