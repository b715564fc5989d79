"""The grader contract: every grader, built-in or plugin, has this shape.

A grader is an object with a ``name``, a ``version`` and ``grade(context) -> GraderResult``.
It is a deterministic function of the :class:`GraderContext`: the same context gives the same
result. Graders never run candidate code on the host and treat every artifact the sandbox
produced as untrusted input (read through :mod:`graders.artifacts`, which caps and validates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, field_validator

Severity = Literal["low", "medium", "high"]

EXCERPT_MAX_CHARS = 600


def plural(count: int, noun: str, suffix: str = "s") -> str:
    """``1 line``, ``2 lines``: a count with its noun, for the sentences checks write."""
    return f"{count} {noun}{'' if count == 1 else suffix}"


def clip(text: str, limit: int = EXCERPT_MAX_CHARS) -> str:
    """Return ``text`` cut to ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


class Evidence(BaseModel):
    """Where a check's verdict comes from: a place in the submission, an output or a metric."""

    path: str | None = None  # relative to the snapshot root (posix separators)
    cell: int | None = None  # notebook cell index (0-based) when the evidence is in a notebook
    line: int | None = None  # 1-based line in the file or in the cell
    excerpt: str | None = None  # short code or output excerpt (already clipped)
    metric: dict[str, float | int | str | None] | None = None
    image: str | None = None  # artifact-relative path of a PNG/JPEG the candidate's code produced
    reproduced: bool = True  # False: read from the notebook as submitted, not from our own run
    note: str | None = None

    @field_validator("excerpt")
    @classmethod
    def _clip_excerpt(cls, value: str | None) -> str | None:
        return None if value is None else clip(value)


class Check(BaseModel):
    """One judgement a grader makes, with its weight in the grader's score."""

    id: str
    passed: bool
    weight: float = Field(default=1.0, gt=0)
    sentence: str  # a human sentence saying what was looked for and what was found
    evidence: list[Evidence] = Field(default_factory=list)


class RedFlag(BaseModel):
    """Something an interviewer must know about, whatever the score."""

    id: str
    severity: Severity
    sentence: str
    evidence: list[Evidence] = Field(default_factory=list)


class GraderResult(BaseModel):
    """What a grader returns. ``score`` is None exactly when ``not_applicable`` is True."""

    grader: str
    version: str
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    not_applicable: bool = False
    reason: str | None = None  # why not applicable, or a one-line summary
    checks: list[Check] = Field(default_factory=list)
    red_flags: list[RedFlag] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)  # grader-specific data (metrics, curves)

    @classmethod
    def from_checks(
        cls,
        grader: str,
        version: str,
        checks: list[Check],
        red_flags: list[RedFlag] | None = None,
        details: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> GraderResult:
        """Score is the weighted share of passed checks (0 when there are no checks)."""
        total = sum(c.weight for c in checks)
        passed = sum(c.weight for c in checks if c.passed)
        score = round(passed / total, 6) if total else 0.0
        return cls(
            grader=grader,
            version=version,
            score=score,
            checks=checks,
            red_flags=red_flags or [],
            details=details or {},
            reason=reason,
        )

    @classmethod
    def not_applicable_result(cls, grader: str, version: str, reason: str) -> GraderResult:
        """A result saying the grader does not apply to this submission (and why)."""
        return cls(grader=grader, version=version, not_applicable=True, reason=reason)


class StageRecord(BaseModel):
    """The host-side record of one sandbox stage (verdict computed on the host, not inside)."""

    stage: str  # "run", "tests", "lint"
    verdict: str  # ok, exit_nonzero, timeout, oom, pids_exhausted, output_limit, sandbox_error
    reason: str = ""
    exit_code: int | None = None
    wall_time_s: float = 0.0
    peak_memory_bytes: int | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""


@dataclass(frozen=True)
class Artifacts:
    """Files the sandbox produced for one submission, copied out safely to ``root`` on the host.

    Every path may be missing; graders must cope. Contents are untrusted: read them through
    :mod:`graders.artifacts` helpers, which cap sizes and validate formats.
    """

    root: Path
    stages: dict[str, StageRecord] = field(default_factory=dict)
    executed_notebooks: dict[str, Path] = field(default_factory=dict)  # snapshot rel path -> file
    notebook_errors: dict[str, dict[str, Any]] = field(default_factory=dict)  # rel path -> error
    predictions: Path | None = None
    junit_xml: Path | None = None
    coverage_json: Path | None = None
    pylint_json: Path | None = None
    environment_json: Path | None = None  # installed packages in the image, integrity findings
    figures: list[Path] = field(default_factory=list)  # image files the candidate saved


@dataclass(frozen=True)
class GraderContext:
    """Everything a grader may look at. ``artifacts`` is None when grading with --no-run."""

    snapshot_root: Path  # read-only normalised snapshot of the submission
    snapshot_meta: dict[str, Any]  # intake metadata: content hash, kind, git history, ...
    assignment: Any  # harness.assignment.Assignment (spec + folder); typed loosely to avoid cycles
    artifacts: Artifacts | None = None
    reference_scores: dict[str, float] = field(default_factory=dict)  # "reference"/"baseline"
    options: dict[str, Any] = field(default_factory=dict)
    # static mode: where harness.static_lint wrote pylint.json / lint_sources.json / lint.json
    static_lint_dir: Path | None = None


@runtime_checkable
class Grader(Protocol):
    """The contract every grader implements."""

    name: str
    version: str

    def grade(self, context: GraderContext) -> GraderResult:
        """Judge the submission described by ``context``; never raise for candidate faults."""
        ...
