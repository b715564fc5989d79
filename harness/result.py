"""The canonical grading result (``result.json``): one versioned pydantic model.

Every report format renders from a :class:`GradingResult`; nothing else is read. The JSON schema
is exported to ``docs/result.schema.json`` by :func:`export_result_schema`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.errors import TakehomeError
from graders.base import Evidence, GraderResult, Severity, StageRecord, clip
from harness import __version__
from harness.questions import FlagRef, Question, select_questions
from harness.rubric import (
    Rubric,
    RubricResult,
    is_harness_fault,
    load_rubric,
    qualified_id,
    rubric_hash,
    score_rubric,
)

SCHEMA_VERSION = "1.0"
MAX_RESULT_BYTES = 32 * 1024 * 1024
Status = Literal["graded", "execution_failed", "rejected", "harness_error"]
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


class ResultError(TakehomeError):
    """A result file cannot be read or is invalid."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmissionInfo(_Model):
    """What was submitted (``source`` is for display only: a path or URL as given)."""

    name: str
    content_hash: str
    kind: str = "directory"  # directory | zip | tar | notebook | git | bundle
    source: str = ""
    files: int = 0


class InferenceEvidence(_Model):
    """Where one inferred fact of a screening task context came from."""

    field: str
    value: Any = None
    source: str  # code | data | config | text
    path: str = ""
    cell: int | None = None
    line: int | None = None
    excerpt: str = ""


class TaskContextInfo(_Model):
    """A task context inferred from the submission (``takehome screen``); None values: unknown."""

    inferred: bool = True
    target: str | None = None
    task_type: str | None = None
    positive_class: int | str | None = None
    classes: list[int | str] | None = None
    id_column: str | None = None
    class_shares: dict[str, float] | None = None
    stated_minority_share: float | None = None
    data_file: str | None = None
    evidence: list[InferenceEvidence] = Field(default_factory=list)
    not_judged: list[str] = Field(default_factory=list)


class AssignmentInfo(_Model):
    """The assignment the submission answers (``task_context``: inferred, when screening)."""

    slug: str
    title: str
    content_hash: str = ""
    task_context: TaskContextInfo | None = None


class RunInfo(_Model):
    """How the grading ran: versions, image, rubric, times."""

    harness_version: str
    image: str | None = None
    image_digest: str | None = None
    rubric: str = ""
    rubric_hash: str = ""
    started_at: str | None = None  # ISO 8601, UTC
    finished_at: str | None = None
    timings: dict[str, float] = Field(default_factory=dict)  # stage -> seconds
    container_starts: int = 0
    mode: Literal["sandbox", "static"] = "sandbox"


class AggregatedRedFlag(_Model):
    """A red flag with the grader that raised it (``id`` is qualified: ``<grader>.<id>``)."""

    grader: str
    id: str
    severity: Severity
    sentence: str
    evidence: list[Evidence] = Field(default_factory=list)


class GitSummary(_Model):
    """A summary of the submission's git history (when it had one)."""

    commit_count: int = 0
    first_commit_at: str | None = None
    last_commit_at: str | None = None
    span_days: float | None = None
    authors: list[str] = Field(default_factory=list)  # hidden in blind reports


class SimilarityExcerpt(_Model):
    """Two matching passages, side by side."""

    path: str = ""
    other_path: str = ""
    excerpt: str = ""
    other_excerpt: str = ""


class SimilarityPair(_Model):
    """This submission closely matches another one."""

    other: str  # the other submission's name
    other_content_hash: str = ""
    score: float = Field(ge=0.0, le=1.0)
    excerpts: list[SimilarityExcerpt] = Field(default_factory=list)


class GradingResult(_Model):
    """The canonical, versioned result of grading one submission."""

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    submission: SubmissionInfo
    assignment: AssignmentInfo
    run: RunInfo
    status: Status
    status_reason: str = ""
    stages: dict[str, StageRecord] = Field(default_factory=dict)
    graders: dict[str, GraderResult] = Field(default_factory=dict)
    rubric: RubricResult | None = None
    total: float | None = Field(default=None, ge=0.0, le=100.0)
    red_flags: list[AggregatedRedFlag] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list)
    git: GitSummary | None = None
    similarity: list[SimilarityPair] = Field(default_factory=list)
    blind: bool = False  # True when names were hidden (see harness.report.blind)


def aggregate_red_flags(grader_results: Mapping[str, GraderResult],
                        extra: Iterable[AggregatedRedFlag] = ()) -> list[AggregatedRedFlag]:
    """All red flags, most severe first, then by grader and id (deterministic)."""
    flags = [
        AggregatedRedFlag(grader=name, id=qualified_id(name, flag.id), severity=flag.severity,
                          sentence=flag.sentence, evidence=flag.evidence)
        for name, result in grader_results.items()
        for flag in result.red_flags
    ]
    flags.extend(extra)
    return sorted(flags, key=lambda f: (SEVERITY_ORDER.get(f.severity, 3), f.grader, f.id))


def harness_fault_flags(rubric_result: RubricResult) -> list[AggregatedRedFlag]:
    """One flag per criterion that could not be graded because takehome failed."""
    return [
        AggregatedRedFlag(
            grader="harness", id="harness.grader_fault", severity="high",
            sentence=(f"{c.title} was not graded: a grader failed inside takehome ({c.note}). "
                      "The total leaves this criterion out; re-run or grade it by review."),
        )
        for c in rubric_result.criteria if c.harness_fault
    ]


def submission_from_snapshot(snapshot: Any | None, source_display: str = "") -> SubmissionInfo:
    """Submission info from a ``harness.intake.Snapshot`` (or from the source name alone)."""
    if snapshot is None:
        name = Path(source_display).name or "submission"
        for suffix in (".tar.gz", ".tgz", ".zip", ".tar", ".ipynb", ".bundle"):
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
        return SubmissionInfo(name=name, content_hash="", kind="unknown", source=source_display)
    return SubmissionInfo(
        name=str(snapshot.name), content_hash=str(snapshot.content_hash),
        kind=str(snapshot.kind), source=source_display or str(snapshot.name),
        files=len(getattr(snapshot, "files", []) or []),
    )


def git_from_snapshot(snapshot: Any | None) -> GitSummary | None:
    """Commit count, first/last dates, span and authors from a snapshot's git history."""
    commits = getattr(snapshot, "git_commits", None) if snapshot is not None else None
    if not commits:
        return None
    dates = sorted(str(c.date) for c in commits)
    span = None
    try:
        first, last = datetime.fromisoformat(dates[0]), datetime.fromisoformat(dates[-1])
        span = round(abs((last - first).total_seconds()) / 86400, 2)
    except ValueError:
        pass
    authors = sorted({f"{c.author_name} <{c.author_email}>" for c in commits})
    count = getattr(snapshot, "git_commit_count", None) or len(commits)
    return GitSummary(commit_count=count, first_commit_at=dates[0], last_commit_at=dates[-1],
                      span_days=span, authors=authors[:20])


def assignment_info(assignment: Any) -> AssignmentInfo:
    """AssignmentInfo from an AssignmentInfo or a ``harness.assignment.Assignment``."""
    if isinstance(assignment, AssignmentInfo):
        return assignment
    spec = assignment.spec
    inferred = getattr(assignment, "inferred_context", None)
    return AssignmentInfo(slug=spec.slug, title=spec.title, content_hash=assignment.content_hash(),
                          task_context=TaskContextInfo(**inferred()) if callable(inferred) else None)


def build_result(
    *,
    assignment: AssignmentInfo | Any,
    status: Status,
    stages: Mapping[str, StageRecord],
    grader_results: Mapping[str, GraderResult],
    rubric: Rubric | None,
    status_reason: str = "",
    submission: SubmissionInfo | None = None,
    run: RunInfo | None = None,
    snapshot: Any | None = None,
    run_info: Mapping[str, Any] | None = None,
    source_display: str = "",
    git: GitSummary | None = None,
    similarity: Iterable[SimilarityPair] = (),
    extra_red_flags: Iterable[AggregatedRedFlag] = (),
) -> GradingResult:
    """Score the rubric, collect red flags and choose questions; return the canonical result.

    The submission is given as ``submission`` or as an intake ``snapshot`` (plus
    ``source_display``; None for a rejected submission); the run as ``run`` or a ``run_info``
    dict of :class:`RunInfo` fields; the assignment as AssignmentInfo or an Assignment.
    With status ``rejected`` or ``harness_error`` (or no rubric) there is no total: a harness
    fault is never turned into a score, and a rejected submission was not graded.
    """
    if submission is None:
        submission = submission_from_snapshot(snapshot, source_display)
    if run is None:
        run = RunInfo(**{k: v for k, v in (run_info or {}).items()
                         if k in RunInfo.model_fields and v is not None})
    if git is None:
        git = git_from_snapshot(snapshot)
    graders = dict(sorted(grader_results.items()))
    rubric_result: RubricResult | None = None
    questions: list[Question] = []
    extra = list(extra_red_flags) + unreadable_notebook_flags(snapshot)
    if rubric is not None and status in ("graded", "execution_failed"):
        task_type = getattr(getattr(assignment, "spec", None), "task_type", None)
        rubric_result = score_rubric(rubric, graders, task_type=task_type)
        extra.extend(harness_fault_flags(rubric_result))
        questions = select_questions(
            rubric, rubric_result, graders,
            extra_flags=[FlagRef(id=f.id, severity=f.severity) for f in extra],
        )
    else:
        extra.extend(
            AggregatedRedFlag(grader="harness", id="harness.grader_fault", severity="high",
                              sentence=f"Grader {name} failed inside takehome: {result.reason}")
            for name, result in graders.items() if is_harness_fault(result)
        )
    run = run.model_copy(update={
        "rubric": rubric.name if rubric else run.rubric,
        "rubric_hash": rubric_hash(rubric) if rubric else run.rubric_hash,
    })
    return GradingResult(
        submission=submission,
        assignment=assignment_info(assignment),
        run=run,
        status=status,
        status_reason=status_reason,
        stages=dict(stages),
        graders=graders,
        rubric=rubric_result,
        total=rubric_result.total if rubric_result else None,
        red_flags=aggregate_red_flags(graders, extra),
        questions=questions,
        git=git,
        similarity=sorted(similarity, key=lambda p: (-p.score, p.other)),
    )


def unreadable_notebook_flags(snapshot: Any | None) -> list[AggregatedRedFlag]:
    """One flag per notebook intake could not read: it was left out, the rest was graded."""
    return [
        AggregatedRedFlag(
            grader="intake", id="intake.unreadable_notebook", severity="medium",
            sentence=(f"Notebook {clip(problem, 300)}. It was left out of grading (not read, "
                      "not run); the rest of the submission was graded. Ask for a copy that "
                      "opens in Jupyter."),
            evidence=[Evidence(path=problem.split(": ", 1)[0], note="unreadable notebook")],
        )
        for problem in (getattr(snapshot, "unreadable_notebooks", None) or [])
    ]


def harness_error_result(
    *,
    name: str,
    assignment: AssignmentInfo | Any,
    rubric: Rubric | None,
    reason: str,
    image: str = "",
    image_digest: str | None = None,
    content_hash: str = "",
) -> GradingResult:
    """The result of a submission whose grading crashed inside takehome (never a score)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return build_result(
        submission=SubmissionInfo(name=name, content_hash=content_hash, kind="unknown",
                                  source=name),
        assignment=assignment,
        run=RunInfo(harness_version=__version__, image=image or None,
                    image_digest=image_digest or None, started_at=now, finished_at=now),
        status="harness_error", status_reason=reason, stages={}, grader_results={},
        rubric=rubric,
    )


SIMILARITY_QUESTION = Question(
    id="similarity-copied",
    text="Parts of this submission closely match another one. Walk me through how you wrote "
         "this part, and what sources you used.",
    trigger="similarity.copied", why="red flag similarity.copied (high)",
)


def attach_similarity(
    result: GradingResult,
    name: str,
    pairs: Iterable[Any],
    *,
    rubric: Rubric | None = None,
    content_hashes: Mapping[str, str] | None = None,
) -> GradingResult:
    """A copy of ``result`` with similarity pairs, a ``similarity.copied`` red flag and questions
    re-selected (so the similarity question is asked).

    ``pairs`` are ``harness.similarity.SimilarityPair`` objects (``first``, ``second``,
    ``score``, ``excerpts`` as (first, second) tuples, ``second_is_public``); those not naming
    ``name`` are ignored. ``rubric`` defaults to the rubric named in the result when it can be
    loaded with the same hash; otherwise the similarity question is put first by hand.
    """
    hashes = content_hashes or {}
    attached: list[SimilarityPair] = []
    for pair in pairs:
        first, second = str(pair.first), str(pair.second)
        if name not in (first, second):
            continue
        mine_first = first == name
        other = second if mine_first else first
        excerpts = []
        for a, b in list(getattr(pair, "excerpts", []) or [])[:5]:
            this, that = (a, b) if mine_first else (b, a)
            excerpts.append(SimilarityExcerpt(excerpt=clip(str(this), 1200),
                                              other_excerpt=clip(str(that), 1200)))
        public = bool(getattr(pair, "second_is_public", False)) and mine_first
        attached.append(SimilarityPair(
            other=("public solution: " + other) if public else other,
            other_content_hash=hashes.get(other, ""),
            score=max(0.0, min(1.0, float(pair.score))), excerpts=excerpts))
    if not attached:
        return result
    attached.sort(key=lambda p: (-p.score, p.other))
    best = attached[0]
    flag = AggregatedRedFlag(
        grader="similarity", id="similarity.copied", severity="high",
        sentence=(f"{100 * best.score:.0f}% of the code overlaps with {best.other}"
                  + (f" (and {len(attached) - 1} more)" if len(attached) > 1 else "")
                  + ": compare the passages side by side before the interview."),
    )
    flags = [f for f in result.red_flags if f.id != "similarity.copied"] + [flag]
    updated = result.model_copy(update={
        "similarity": attached,
        "red_flags": sorted(flags, key=lambda f: (SEVERITY_ORDER.get(f.severity, 3),
                                                  f.grader, f.id)),
    })
    if result.rubric is None:
        return updated
    if rubric is None:
        try:
            candidate = load_rubric(result.run.rubric)
            rubric = candidate if rubric_hash(candidate) == result.run.rubric_hash else None
        except TakehomeError:
            rubric = None
    if rubric is not None:
        questions = select_questions(
            rubric, result.rubric, result.graders,
            extra_flags=[FlagRef(id=f.id, severity=f.severity) for f in flags
                         if f.grader in ("similarity", "harness")],
        )
    else:
        questions = [SIMILARITY_QUESTION] + [q for q in result.questions
                                             if q.id != SIMILARITY_QUESTION.id][:5]
    return updated.model_copy(update={"questions": questions})


NOT_JUDGED_KEYS = ("not_judged", "not_judged_statically")
MAX_NOT_JUDGED = 6


def not_judged_notes(result: GraderResult) -> list[str]:
    """What a grader says it could not judge (``details.not_judged``), as short sentences.

    Graders write a string or a list of strings; anything else is ignored, and every note is
    clipped, so a grader cannot flood the report.
    """
    notes: list[str] = []
    for key in NOT_JUDGED_KEYS:
        value = (result.details or {}).get(key)
        items = [value] if isinstance(value, str) else value if isinstance(value, list | tuple) else []
        notes.extend(clip(item.strip(), 300) for item in items if isinstance(item, str) and item.strip())
    return notes[:MAX_NOT_JUDGED]


def dump_result(result: GradingResult) -> str:
    """The canonical JSON text of a result: sorted keys, 2-space indent, trailing newline."""
    data = result.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_result(result: GradingResult, path: Path) -> Path:
    """Write the canonical JSON of ``result`` to ``path`` (atomically); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dump_result(result), encoding="utf-8")
    tmp.replace(path)
    return path


def load_result(path: Path, max_bytes: int = MAX_RESULT_BYTES) -> GradingResult:
    """Read and validate a result file (refusing files over ``max_bytes``)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ResultError(f"{path}: cannot read result ({exc.strerror})") from exc
    if size > max_bytes:
        raise ResultError(f"{path}: result file is {size} bytes, over the {max_bytes}-byte cap")
    try:
        return GradingResult.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ResultError(
            f"{path}: not a valid takehome result: {loc}: {first['msg']}"
            + (f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else "")
        ) from None


def result_schema() -> dict:
    """The JSON schema of :class:`GradingResult`."""
    schema = GradingResult.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://takehome.dev/schemas/result-{SCHEMA_VERSION}.json"
    return schema


def export_result_schema(path: Path) -> Path:
    """Write the JSON schema of the result to ``path`` (sorted keys, stable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result_schema(), sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return path
