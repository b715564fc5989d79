"""Choose 3 to 6 interview questions tailored to one submission, from the rubric's templates.

Order (deterministic):

1. templates triggered by a red flag, most severe flag first (high, medium, low), then by id;
2. templates triggered by a failed check, heaviest check first, then by criterion weight;
3. templates triggered by ``level<=N``, weakest criterion first (lowest score, then heaviest);
4. to reach :data:`MIN_QUESTIONS`, untriggered (generic) templates of the weakest criteria.

Selection takes, up to :data:`MAX_QUESTIONS`: every question triggered by a high-severity red
flag; then the best-ranked question of each criterion not yet covered (so one problem area does
not crowd out the others), those triggered by a red flag first (by severity), the others weakest
criterion first (lowest level, then score, then heaviest); then the remaining triggered
questions in the order above.
A template is used at most once, and two templates with the same text count once.

Templates limited to some task types (``task_types``) are only considered when the assignment's
task type is known and listed: the ``task_type`` argument, else the one recorded on the rubric
result, else the one inferred from the grader results (:func:`harness.rubric.infer_task_type`).
So a regression assignment is never asked a question written for rare positives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from graders.base import GraderResult
from harness.rubric import (
    Criterion,
    CriterionResult,
    QuestionTemplate,
    Rubric,
    RubricResult,
    infer_task_type,
    qualified_id,
)

MIN_QUESTIONS = 3
MAX_QUESTIONS = 6
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}
_LEVEL = re.compile(r"^level<=([0-4])$")


class Question(BaseModel):
    """A question for the interviewer, with why it was chosen for this submission."""

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    criterion: str | None = None  # criterion id, None for cross-cutting questions
    trigger: str | None = None  # the red flag, failed check or "level<=N" that selected it
    why: str = ""  # a short human explanation ("red flag imbalance.accuracy_only (high)")


class FlagRef(BaseModel):
    """The minimum the selector needs to know about a red flag (grader results or batch step)."""

    id: str
    severity: str


def _templates(rubric: Rubric,
               task_type: str | None) -> list[tuple[Criterion | None, QuestionTemplate]]:
    """Every template that applies to ``task_type``, with its criterion (None: cross-cutting)."""
    pairs: list[tuple[Criterion | None, QuestionTemplate]] = []
    for criterion in rubric.criteria:
        pairs.extend((criterion, q) for q in criterion.questions if q.applies_to(task_type))
    pairs.extend((None, q) for q in rubric.questions if q.applies_to(task_type))
    return pairs


def resolve_task_type(rubric_result: RubricResult | None,
                      grader_results: Mapping[str, GraderResult],
                      task_type: str | None = None) -> str | None:
    """The task type to filter templates by: given, else recorded on the result, else inferred."""
    if task_type:
        return task_type
    if rubric_result is not None and rubric_result.task_type:
        return rubric_result.task_type
    return infer_task_type(grader_results)


def _flags(grader_results: Mapping[str, GraderResult],
           extra_flags: Iterable[FlagRef]) -> dict[str, str]:
    """Every red flag id with its highest severity."""
    flags: dict[str, str] = {}
    found = [
        FlagRef(id=qualified_id(name, flag.id), severity=flag.severity)
        for name, result in sorted(grader_results.items())
        for flag in result.red_flags
    ]
    for flag in [*found, *extra_flags]:
        current = flags.get(flag.id)
        if current is None or SEVERITY_RANK.get(flag.severity, 3) < SEVERITY_RANK.get(current, 3):
            flags[flag.id] = flag.severity
    return flags


def _failed_checks(grader_results: Mapping[str, GraderResult]) -> dict[str, float]:
    """Every failed check id with its weight (the largest when it appears twice)."""
    failed: dict[str, float] = {}
    for name, result in sorted(grader_results.items()):
        if result.not_applicable:
            continue
        for check in result.checks:
            if not check.passed:
                key = qualified_id(name, check.id)
                failed[key] = max(failed.get(key, 0.0), check.weight)
    return failed


def select_questions(
    rubric: Rubric,
    rubric_result: RubricResult,
    grader_results: Mapping[str, GraderResult],
    extra_flags: Iterable[FlagRef] = (),
    min_questions: int = MIN_QUESTIONS,
    max_questions: int = MAX_QUESTIONS,
    task_type: str | None = None,
) -> list[Question]:
    """3–6 questions for this submission (see the module docstring for the order).

    ``task_type`` is the assignment's task type; when None it is taken from ``rubric_result``
    or inferred from the grader results (templates limited to task types are skipped when it
    stays unknown).
    """
    task = resolve_task_type(rubric_result, grader_results, task_type)
    flags = _flags(grader_results, extra_flags)
    failed = _failed_checks(grader_results)
    scored: dict[str, CriterionResult] = {c.id: c for c in rubric_result.criteria}
    weight_of = {c.id: c.weight for c in rubric.criteria}

    # (group, sort key..., question) tuples; the smallest sorts first
    candidates: list[tuple[tuple, Question]] = []
    for criterion, template in _templates(rubric, task):
        cid = criterion.id if criterion else None
        best: tuple | None = None
        best_q: Question | None = None
        for trigger in template.triggers:
            key: tuple | None = None
            why = ""
            level_match = _LEVEL.match(trigger)
            if level_match and cid is not None:
                result = scored.get(cid)
                if result is not None and result.level is not None and \
                        result.level <= int(level_match.group(1)):
                    key = (2, result.score if result.score is not None else 0.0,
                           -weight_of.get(cid, 0.0), cid, template.id)
                    why = f"{criterion.title} is at level {result.level}"
            elif trigger in flags:
                key = (0, SEVERITY_RANK.get(flags[trigger], 3), trigger, template.id)
                why = f"red flag {trigger} ({flags[trigger]})"
            elif trigger in failed:
                key = (1, -failed[trigger], -weight_of.get(cid or "", 0.0), trigger, template.id)
                why = f"failed check {trigger}"
            if key is not None and (best is None or key < best):
                best = key
                best_q = Question(id=template.id, text=template.text, criterion=cid,
                                  trigger=trigger, why=why)
        if best is not None and best_q is not None:
            candidates.append((best, best_q))

    chosen: list[Question] = []
    seen_text: set[str] = set()

    def add(question: Question) -> None:
        norm = " ".join(question.text.lower().split())
        if norm in seen_text or any(q.id == question.id for q in chosen):
            return
        seen_text.add(norm)
        chosen.append(question)

    ordered = [q for _, q in sorted(candidates, key=lambda item: item[0])]
    high = [q for key, q in sorted(candidates, key=lambda item: item[0])
            if key[0] == 0 and key[1] == SEVERITY_RANK["high"]]
    # 1. every high-severity red flag; 2. the best question of each criterion not yet covered;
    # 3. the rest, in priority order
    for question in high:
        if len(chosen) < max_questions:
            add(question)
    # each uncovered criterion's best question: flag-triggered first, then weakest criterion
    best_of: dict[str | None, tuple[tuple, Question]] = {}
    for key, question in sorted(candidates, key=lambda item: item[0]):
        best_of.setdefault(question.criterion, (key, question))

    def spread_rank(item: tuple[tuple, Question]) -> tuple:
        key, question = item
        result = scored.get(question.criterion or "")
        level = result.level if result is not None and result.level is not None else 5
        score = result.score if result is not None and result.score is not None else 2.0
        return (0 if key[0] == 0 else 1, key[1] if key[0] == 0 else 0, level, score,
                -weight_of.get(question.criterion or "", 0.0), key)

    for _, question in sorted(best_of.values(), key=spread_rank):
        covered = {q.criterion for q in chosen}
        if len(chosen) < max_questions and question.criterion not in covered:
            add(question)
    for question in ordered:
        if len(chosen) < max_questions:
            add(question)

    if len(chosen) < min_questions:
        add_generic(rubric, scored, weight_of, add, lambda: len(chosen) >= min_questions,
                    task_type=task)
    return chosen


def add_generic(rubric: Rubric, scored: Mapping[str, CriterionResult],
                weight_of: Mapping[str, float], add, done,
                task_type: str | None = None) -> None:
    """Add untriggered criterion questions, weakest criterion first, until ``done()``.

    Only templates that apply to ``task_type`` are used.
    """

    def weakness(criterion: Criterion) -> tuple:
        result = scored.get(criterion.id)
        score = result.score if result is not None and result.score is not None else 2.0
        return (score, -weight_of.get(criterion.id, 0.0), criterion.id)

    ordered = sorted(rubric.criteria, key=weakness)
    for criterion in ordered:
        for template in criterion.questions:
            if done():
                return
            if template.triggers or not template.applies_to(task_type):
                continue
            add(Question(id=template.id, text=template.text, criterion=criterion.id,
                         why=f"general question on {criterion.title}"))
    # still short (a rubric with few generic templates): any criterion template at all
    for criterion in ordered:
        for template in criterion.questions:
            if done():
                return
            if not template.applies_to(task_type):
                continue
            add(Question(id=template.id, text=template.text, criterion=criterion.id,
                         why=f"general question on {criterion.title}"))
