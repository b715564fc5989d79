"""Reviewer overrides: a YAML file next to the result, applied when reports are rendered.

The overrides file for ``out/alice/result.json`` is ``out/alice/result.overrides.yaml``::

    schema_version: "1.0"
    criteria:
      tests:
        level: 3
        reviewer: Dana
        reason: Tests are meaningful; the grader missed the ones under src/checks/.
        notes: [Checked in the deep-dive.]
        at: "2026-11-26T06:40:00+00:00"

The result file is never modified. :func:`apply_overrides` returns a copy in which each reviewed
criterion keeps its automatic score and level (``automatic_score``, ``automatic_level``) and shows
the reviewer's level; when the level changed, the criterion's score becomes ``level / 4`` and the
total is recomputed (``rubric.automatic_total`` keeps the automatic one).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from contracts.errors import SpecError
from harness.result import GradingResult
from harness.rubric import CriterionReview, read_yaml, recompute_total, validate_yaml_model

OVERRIDES_SCHEMA_VERSION = "1.0"


class OverridesFile(BaseModel):
    """The overrides YAML: one review per criterion id."""

    model_config = ConfigDict(extra="forbid")

    schema_version: str = OVERRIDES_SCHEMA_VERSION
    criteria: dict[str, CriterionReview] = Field(default_factory=dict)


def overrides_path_for(result_path: Path) -> Path:
    """``<dir>/<stem>.overrides.yaml`` for ``<dir>/<stem>.json``."""
    result_path = Path(result_path)
    return result_path.with_name(f"{result_path.stem}.overrides.yaml")


def load_overrides(path: Path) -> OverridesFile:
    """Read and validate an overrides file (errors name the file and line)."""
    data, lines = read_yaml(Path(path))
    if data is None:
        return OverridesFile()
    if not isinstance(data, dict):
        raise SpecError(f"{path}:1: an overrides file must be a YAML mapping")
    return validate_yaml_model(OverridesFile, data, lines, Path(path))


def save_overrides(overrides: OverridesFile, path: Path) -> Path:
    """Write the overrides file (criteria sorted by id, atomically)."""
    data = overrides.model_dump(mode="json", exclude_none=True)
    data["criteria"] = dict(sorted(data["criteria"].items()))
    text = "# takehome reviewer overrides: edit with `takehome review`, or by hand.\n"
    text += yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def record_review(
    result: GradingResult,
    overrides_path: Path,
    *,
    criterion: str,
    level: int,
    reviewer: str,
    reason: str,
    note: str | None = None,
    now: datetime | None = None,
) -> OverridesFile:
    """Add or update one criterion's review in the overrides file; return the new file content.

    Notes accumulate across reviews of the same criterion; level, reviewer and reason are
    replaced by the latest review.
    """
    if result.rubric is None:
        raise SpecError("this result has no rubric scores to review (status "
                        f"{result.status}: {result.status_reason})")
    known = [c.id for c in result.rubric.criteria]
    if criterion not in known:
        raise SpecError(f"unknown criterion {criterion!r}", hint=f"criteria: {', '.join(known)}")
    if not 0 <= level <= 4:
        raise SpecError(f"level must be 0–4, got {level}")
    overrides = load_overrides(overrides_path) if overrides_path.exists() else OverridesFile()
    previous = overrides.criteria.get(criterion)
    notes = list(previous.notes) if previous else []
    if note:
        notes.append(note)
    stamp = (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
    criteria = dict(overrides.criteria)
    criteria[criterion] = CriterionReview(level=level, reviewer=reviewer, reason=reason,
                                          notes=notes, at=stamp)
    updated = OverridesFile(criteria=criteria)
    save_overrides(updated, overrides_path)
    return updated


def apply_overrides(result: GradingResult, overrides: OverridesFile | None) -> GradingResult:
    """A copy of ``result`` with the reviewers' levels applied and the total recomputed."""
    if overrides is None or not overrides.criteria:
        return result
    if result.rubric is None:
        raise SpecError("overrides given, but this result has no rubric scores to override")
    reviewed = result.model_copy(deep=True)
    rubric = reviewed.rubric
    assert rubric is not None
    known = {c.id for c in rubric.criteria}
    unknown = sorted(set(overrides.criteria) - known)
    if unknown:
        raise SpecError(f"overrides name unknown criteria: {', '.join(unknown)}",
                        hint=f"criteria in this result: {', '.join(sorted(known))}")
    automatic_total = rubric.total
    for criterion in rubric.criteria:
        review = overrides.criteria.get(criterion.id)
        if review is None:
            continue
        criterion.review = review
        criterion.automatic_level = criterion.level
        criterion.automatic_score = criterion.score
        if review.level != criterion.level or not criterion.graded:
            # a reviewer's level counts as level/4; a criterion the harness could not grade
            # (or that was not applicable) becomes graded by the review
            criterion.score = review.level / 4
            criterion.applicable = True
            criterion.harness_fault = False
        criterion.level = review.level
        if len(criterion.level_descriptors) == 5:
            criterion.descriptor = criterion.level_descriptors[review.level]
        criterion.status = "reviewed"
    rubric.total = recompute_total(rubric.criteria)
    rubric.automatic_total = automatic_total
    rubric.harness_fault = any(c.harness_fault for c in rubric.criteria)
    reviewed.total = rubric.total
    return reviewed


def review_result_file(result_path: Path, *, criterion: str, level: int, reviewer: str,
                       reason: str, note: str | None = None,
                       overrides_path: Path | None = None) -> Path:
    """Record a review for a result file (the ``takehome review`` verb); return the YAML path.

    The result file is only read; the review goes to ``<result>.overrides.yaml``. When the
    result belongs to a graded batch (its folder's parent has ``results.sqlite`` holding this
    submission) and no other overrides path is given, the review is recorded in the store's
    audit log too, exactly as the web app records it, and the YAML is rewritten from the store
    (:func:`harness.reviews.review_in_store`).
    """
    from harness.result import load_result
    from harness.reviews import review_in_store

    result_path = Path(result_path)
    result = load_result(result_path)
    if overrides_path is None:
        stored = review_in_store(result_path, result, criterion=criterion, level=level,
                                 reviewer=reviewer, reason=reason, note=note)
        if stored is not None:
            return stored
    path = overrides_path or overrides_path_for(result_path)
    record_review(result, path, criterion=criterion, level=level, reviewer=reviewer,
                  reason=reason, note=note)
    return path
