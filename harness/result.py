"""The canonical grading result (``result.json``): one versioned pydantic model.

Every report format renders from a :class:`GradingResult`; nothing else is read. The JSON schema
is exported to ``docs/result.schema.json`` by :func:`export_result_schema`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graders.base import Evidence, GraderResult, Severity, StageRecord
from harness.errors import TakehomeError
from harness.questions import FlagRef, Question, select_questions
from harness.rubric import Rubric, RubricResult, is_harness_fault, qualified_id, score_rubric

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


class AssignmentInfo(_Model):
    """The assignment the submission answers."""

    slug: str
    title: str
    content_hash: str = ""


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


def build_result(
    *,
    submission: SubmissionInfo,
    assignment: AssignmentInfo,
    run: RunInfo,
    status: Status,
    stages: Mapping[str, StageRecord],
    grader_results: Mapping[str, GraderResult],
    rubric: Rubric | None,
    status_reason: str = "",
    git: GitSummary | None = None,
    similarity: Iterable[SimilarityPair] = (),
    extra_red_flags: Iterable[AggregatedRedFlag] = (),
) -> GradingResult:
    """Score the rubric, collect red flags and choose questions; return the canonical result.

    With status ``rejected`` or ``harness_error`` (or no rubric) there is no total: a harness
    fault is never turned into a score, and a rejected submission was not graded.
    """
    graders = dict(sorted(grader_results.items()))
    rubric_result: RubricResult | None = None
    questions: list[Question] = []
    extra = list(extra_red_flags)
    if rubric is not None and status in ("graded", "execution_failed"):
        rubric_result = score_rubric(rubric, graders)
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
        "rubric_hash": rubric_result.rubric_hash if rubric_result else run.rubric_hash,
    })
    return GradingResult(
        submission=submission,
        assignment=assignment,
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
