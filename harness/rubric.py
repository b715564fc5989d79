"""Rubrics: criteria, levels 0–4 and question templates, and scoring grader results with them.

A rubric is a YAML file (``rubrics/<name>.yaml``, format in ``docs/rubric.md``) validated by the
pydantic models below. Errors name the file and the line (found from the YAML node marks).

Scoring (:func:`score_rubric`):

* a criterion's score is the weighted mean of its graders' scores, leaving out graders that are
  not applicable; its level is the number of thresholds the score reaches (0–4);
* a criterion whose graders are all not applicable drops out, and the remaining criteria's
  weights are renormalised (``weight`` is kept, ``effective_weight`` is what counted);
* a grader result that is a harness fault (its reason starts with ``"grader error"``, its
  ``details["harness_fault"]`` is true, or the result is missing) never becomes a score: the whole criterion is "not graded (harness fault)",
  is left out of the total, and the rubric result is flagged (``harness_fault``);
* the total is **score-based**: ``100 × Σ effective_weight × score`` over graded criteria, with the
  level shown beside each score. A reviewer's override that changes a criterion's level replaces
  that criterion's score by ``level / 4`` (see :mod:`harness.overrides`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graders.base import GraderResult
from harness.errors import SpecError

HARNESS_FAULT_PREFIX = "grader error"
RUBRICS_DIR = Path(__file__).resolve().parent.parent / "rubrics"
DEFAULT_RUBRIC = "ml-take-home"
MAX_RUBRIC_BYTES = 512 * 1024
_LEVEL_TRIGGER = re.compile(r"^level<=([0-4])$")
_ID_TRIGGER = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_.\-]+$")
_ID = re.compile(r"^[a-z][a-z0-9_\-]*$")

M = TypeVar("M", bound=BaseModel)


# --- the rubric file ---------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuestionTemplate(_Strict):
    """A question to ask in the interview, and what makes it relevant to a submission.

    ``triggers`` are red-flag ids or check ids (``"<grader>.<id>"``, a check triggers when it
    failed) or ``"level<=N"`` (the criterion's level is N or lower; criterion templates only).
    A template with no trigger is a generic question used to reach the minimum count.
    """

    id: str
    text: str = Field(min_length=5, max_length=400)
    triggers: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"question id {value!r} must be lowercase letters, digits, _ or -")
        return value

    @field_validator("triggers")
    @classmethod
    def _trigger_shape(cls, value: list[str]) -> list[str]:
        for trigger in value:
            if not (_LEVEL_TRIGGER.match(trigger) or _ID_TRIGGER.match(trigger)):
                raise ValueError(
                    f"trigger {trigger!r} must be '<grader>.<id>' (a red flag or a check) "
                    "or 'level<=N' with N in 0..4"
                )
        return value


class GraderRef(_Strict):
    """One grader a criterion draws on; ``checks`` narrows it to some of the grader's checks."""

    grader: str
    weight: float = Field(default=1.0, gt=0)
    checks: list[str] = Field(default_factory=list)


class Criterion(_Strict):
    """One line of the rubric: what is judged, how much it counts, what each level means."""

    id: str
    title: str = Field(min_length=1, max_length=80)
    weight: float = Field(gt=0)
    graders: list[GraderRef] = Field(min_length=1)
    levels: dict[int, str]
    thresholds: list[float] | None = None  # None: the rubric's default thresholds
    questions: list[QuestionTemplate] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"criterion id {value!r} must be lowercase letters, digits, _ or -")
        return value

    @field_validator("graders", mode="before")
    @classmethod
    def _grader_shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"grader": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("levels")
    @classmethod
    def _all_levels(cls, value: dict[int, str]) -> dict[int, str]:
        if sorted(value) != [0, 1, 2, 3, 4]:
            raise ValueError("levels must describe exactly the levels 0, 1, 2, 3 and 4")
        for level, text in value.items():
            if not text.strip():
                raise ValueError(f"level {level} has an empty descriptor")
        return value

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: list[float] | None) -> list[float] | None:
        return None if value is None else check_thresholds(value)

    @model_validator(mode="after")
    def _unique_questions(self) -> Criterion:
        ids = [q.id for q in self.questions]
        if len(ids) != len(set(ids)):
            raise ValueError(f"criterion {self.id!r} has duplicate question ids")
        return self


class Rubric(_Strict):
    """A whole rubric: criteria, default level thresholds and cross-cutting questions."""

    name: str
    title: str
    version: str = "1"
    description: str = ""
    thresholds: list[float] = Field(default_factory=lambda: [0.2, 0.4, 0.6, 0.8])
    criteria: list[Criterion] = Field(min_length=1)
    questions: list[QuestionTemplate] = Field(default_factory=list)

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        return check_thresholds(value)

    @field_validator("questions")
    @classmethod
    def _no_level_triggers(cls, value: list[QuestionTemplate]) -> list[QuestionTemplate]:
        for question in value:
            if any(_LEVEL_TRIGGER.match(t) for t in question.triggers):
                raise ValueError(
                    f"question {question.id!r}: 'level<=N' triggers belong in a criterion's questions"
                )
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> Rubric:
        ids = [c.id for c in self.criteria]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate criterion ids: {', '.join(dupes)}")
        qids = [q.id for q in self.questions] + [q.id for c in self.criteria for q in c.questions]
        qdupes = sorted({i for i in qids if qids.count(i) > 1})
        if qdupes:
            raise ValueError(f"duplicate question ids: {', '.join(qdupes)}")
        return self

    def criterion(self, criterion_id: str) -> Criterion:
        """The criterion with this id (KeyError when there is none)."""
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)

    def thresholds_for(self, criterion: Criterion) -> list[float]:
        """The thresholds that apply to ``criterion`` (its own, or the rubric's default)."""
        return criterion.thresholds or self.thresholds


def check_thresholds(value: list[float]) -> list[float]:
    """Validate 4 strictly increasing thresholds in (0, 1]; return them unchanged."""
    if len(value) != 4:
        raise ValueError(f"thresholds must list 4 numbers (levels 1–4), got {len(value)}")
    if any(not 0 < t <= 1 for t in value):
        raise ValueError("every threshold must be in (0, 1]")
    if any(b <= a for a, b in itertools.pairwise(value)):
        raise ValueError(f"thresholds must be strictly increasing, got {value}")
    return value


# --- YAML with line numbers --------------------------------------------------------------------


def _node_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key: Any = key_node.value
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag.endswith(":int"):
                key = int(key)
            out[path + (key,)] = key_node.start_mark.line + 1
            _node_lines(value_node, path + (key,), out)
            # keep the key's own line for the mapping entry (more useful than the value's)
            out[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_lines(item, path + (index,), out)


def line_for(lines: Mapping[tuple[Any, ...], int], loc: Sequence[Any]) -> int | None:
    """The YAML line of the deepest known prefix of a pydantic error location."""
    path = tuple(loc)
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        path = path[:-1]


def read_yaml(path: Path, max_bytes: int = MAX_RUBRIC_BYTES) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse a YAML file safely; return its data and a map from key paths to line numbers."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from exc
    if len(raw) > max_bytes:
        raise SpecError(f"{path}: file is larger than {max_bytes} bytes")
    text = raw.decode("utf-8", errors="replace")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{path}{where}: invalid YAML: {problem}") from exc
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _node_lines(node, (), lines)
    return data, lines


def _format_loc(loc: Sequence[Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def validate_yaml_model(model: type[M], data: Any, lines: Mapping[tuple[Any, ...], int],
                        source: Path) -> M:
    """Validate ``data`` against ``model``; on failure raise SpecError naming file:line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        messages = []
        for error in errors[:5]:
            loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            line = line_for(lines, loc)
            where = f"{source}:{line}" if line else str(source)
            msg = error["msg"].removeprefix("Value error, ")
            messages.append(f"{where}: {_format_loc(loc)}: {msg}")
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise SpecError("; ".join(messages) + more) from None


# --- loading -----------------------------------------------------------------------------------


def registered_graders() -> list[str]:
    """Names of graders registered in the ``takehome.graders`` entry point group."""
    return sorted({ep.name for ep in metadata.entry_points(group="takehome.graders")})


def resolve_rubric_path(name_or_path: str | Path) -> Path:
    """A rubric file path from a path, or from a name looked up in ``rubrics/``."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        if not candidate.is_file():
            raise SpecError(f"{candidate}: rubric file not found")
        return candidate
    name = str(name_or_path)
    if not _ID.match(name):
        raise SpecError(f"rubric name {name!r} is not a file and not a valid rubric name")
    for folder in (Path.cwd() / "rubrics", RUBRICS_DIR):
        path = folder / f"{name}.yaml"
        if path.is_file():
            return path
    raise SpecError(f"rubric {name!r} not found", hint=f"looked in ./rubrics and {RUBRICS_DIR}")


def load_rubric(name_or_path: str | Path, known_graders: Iterable[str] | None = None) -> Rubric:
    """Load and validate a rubric; every grader it names must be known.

    ``known_graders`` defaults to the graders registered through entry points (no check when
    none are registered, e.g. in a source tree that was never installed).
    """
    path = resolve_rubric_path(name_or_path)
    data, lines = read_yaml(path)
    if not isinstance(data, dict):
        raise SpecError(f"{path}:1: a rubric must be a YAML mapping")
    rubric = validate_yaml_model(Rubric, data, lines, path)
    known = set(known_graders) if known_graders is not None else set(registered_graders())
    if known:
        for ci, criterion in enumerate(rubric.criteria):
            for gi, ref in enumerate(criterion.graders):
                if ref.grader not in known:
                    line = line_for(lines, ("criteria", ci, "graders", gi))
                    raise SpecError(
                        f"{path}:{line}: criteria[{ci}] ({criterion.id}): unknown grader "
                        f"{ref.grader!r}",
                        hint=f"known graders: {', '.join(sorted(known))}",
                    )
    return rubric


def rubric_hash(rubric: Rubric) -> str:
    """A stable hash of the rubric's content (sha256 hex of its canonical JSON)."""
    canonical = json.dumps(rubric.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- scoring -----------------------------------------------------------------------------------


class CriterionReview(BaseModel):
    """A reviewer's override of one criterion's level (from the overrides YAML)."""

    model_config = ConfigDict(extra="forbid")

    level: int = Field(ge=0, le=4)
    reviewer: str = Field(min_length=1, max_length=120)
    reason: str = Field(min_length=1, max_length=2000)
    notes: list[str] = Field(default_factory=list)
    at: str | None = None  # ISO 8601 time of the review


class CriterionResult(BaseModel):
    """One criterion, scored. ``score``/``level`` are None when the criterion was not graded."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    weight: float
    effective_weight: float = 0.0  # share of the total (sums to 1 over graded criteria)
    grader_scores: dict[str, float | None] = Field(default_factory=dict)
    score: float | None = None
    level: int | None = Field(default=None, ge=0, le=4)
    descriptor: str = ""  # the rubric's descriptor of ``level``
    level_descriptors: list[str] = Field(default_factory=list)  # index = level 0–4
    applicable: bool = True
    harness_fault: bool = False
    status: str = "graded"  # graded | not_applicable | not graded (harness fault) | reviewed
    note: str = ""
    automatic_score: float | None = None  # set when a review changed the level
    automatic_level: int | None = None
    review: CriterionReview | None = None

    @property
    def graded(self) -> bool:
        """True when the criterion counts in the total."""
        return self.applicable and not self.harness_fault and self.score is not None


class RubricResult(BaseModel):
    """All criteria scored, and the total (0–100, score-based; None when nothing was graded)."""

    model_config = ConfigDict(extra="forbid")

    rubric: str
    rubric_hash: str
    total: float | None = None
    total_basis: str = "score"  # the total is a weighted mean of criterion scores × 100
    criteria: list[CriterionResult] = Field(default_factory=list)
    harness_fault: bool = False
    automatic_total: float | None = None  # set when reviews changed the total

    def criterion(self, criterion_id: str) -> CriterionResult:
        """The scored criterion with this id (KeyError when there is none)."""
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)


def is_harness_fault(result: GraderResult | None) -> bool:
    """True when the grader result reports a fault of takehome, not of the candidate."""
    if result is None:
        return True
    if result.details.get("harness_fault") is True:  # graders.registry.harness_fault()
        return True
    reason = (result.reason or "").strip().lower()
    return reason.startswith(HARNESS_FAULT_PREFIX)


def level_for(score: float, thresholds: Sequence[float]) -> int:
    """The level (0–4) a score reaches: how many thresholds it is at or above."""
    return sum(1 for t in thresholds if score >= t - 1e-12)


def qualified_id(grader: str, item_id: str) -> str:
    """``"<grader>.<id>"`` for a check or red flag id (unchanged when already qualified)."""
    return item_id if "." in item_id else f"{grader}.{item_id}"


def _ref_score(ref: GraderRef, result: GraderResult) -> float | None:
    """The score a grader reference contributes (None: not applicable for this criterion)."""
    if result.not_applicable or result.score is None:
        return None
    if not ref.checks:
        return result.score
    wanted = {qualified_id(ref.grader, c) for c in ref.checks}
    chosen = [c for c in result.checks if qualified_id(result.grader, c.id) in wanted]
    total = sum(c.weight for c in chosen)
    if not total:
        return None
    return sum(c.weight for c in chosen if c.passed) / total


def _score_criterion(rubric: Rubric, criterion: Criterion,
                     results: Mapping[str, GraderResult]) -> CriterionResult:
    scored = CriterionResult(
        id=criterion.id, title=criterion.title, weight=criterion.weight,
        level_descriptors=[criterion.levels[level] for level in range(5)],
    )
    faults = [ref.grader for ref in criterion.graders if is_harness_fault(results.get(ref.grader))]
    if faults:
        scored.harness_fault = True
        scored.applicable = False
        scored.status = "not graded (harness fault)"
        details = []
        for name in faults:
            result = results.get(name)
            details.append(f"{name}: {result.reason if result else 'no result'}")
        scored.note = "; ".join(details)
        scored.grader_scores = {ref.grader: None for ref in criterion.graders}
        return scored
    weighted: list[tuple[float, float]] = []
    for ref in criterion.graders:
        value = _ref_score(ref, results[ref.grader])
        scored.grader_scores[ref.grader] = None if value is None else round(value, 6)
        if value is not None:
            weighted.append((ref.weight, value))
    if not weighted:
        scored.applicable = False
        scored.status = "not_applicable"
        reasons = [f"{r.grader}: {results[r.grader].reason}" for r in criterion.graders
                   if results[r.grader].reason]
        scored.note = "; ".join(reasons)
        return scored
    score = sum(w * v for w, v in weighted) / sum(w for w, _ in weighted)
    scored.score = round(score, 6)
    scored.level = level_for(score, rubric.thresholds_for(criterion))
    scored.descriptor = criterion.levels[scored.level]
    return scored


def recompute_total(criteria: list[CriterionResult]) -> float | None:
    """Set each criterion's effective weight (renormalised over graded ones); return the total."""
    graded = [c for c in criteria if c.graded]
    weight_sum = sum(c.weight for c in graded)
    for criterion in criteria:
        criterion.effective_weight = (
            round(criterion.weight / weight_sum, 6) if criterion.graded and weight_sum else 0.0
        )
    if not graded or not weight_sum:
        return None
    total = 100.0 * sum(c.weight * (c.score or 0.0) for c in graded) / weight_sum
    return round(total, 1)


def score_rubric(rubric: Rubric, grader_results: Mapping[str, GraderResult]) -> RubricResult:
    """Score every criterion of ``rubric`` from the grader results, and the weighted total."""
    criteria = [_score_criterion(rubric, c, grader_results) for c in rubric.criteria]
    total = recompute_total(criteria)
    return RubricResult(
        rubric=rubric.name,
        rubric_hash=rubric_hash(rubric),
        total=total,
        criteria=criteria,
        harness_fault=any(c.harness_fault for c in criteria),
    )
