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
* a criterion's ``caps`` bound its level: when a listed red flag was raised (or a listed check
  failed), the level is at most the cap's ``max_level``; the caps that set the level are recorded
  on the result (``CriterionResult.caps``, ``uncapped_level``) and explained in its ``note``.
  Caps bound the level and its descriptor, not the score;
* descriptors and question templates may depend on the assignment's task type
  (``levels_by_task``, ``task_types``); :func:`score_rubric` takes the task type or infers it from
  the grader results (:func:`infer_task_type`) and records it on the result;
* the total is **score-based**: ``100 × Σ effective_weight × score`` over graded criteria, with the
  level shown beside each score. A reviewer's override that changes a criterion's level replaces
  that criterion's score by ``level / 4`` (see :mod:`harness.overrides`).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts.errors import SpecError
from graders.base import GraderResult, Severity, clip
from harness.assignment import TaskType

HARNESS_FAULT_PREFIX = "grader error"
RUBRICS_DIR = Path(__file__).resolve().parent.parent / "rubrics"
DEFAULT_RUBRIC = "ml-take-home"
MAX_RUBRIC_BYTES = 512 * 1024
_LEVEL_TRIGGER = re.compile(r"^level<=([0-4])$")
_ID_TRIGGER = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_.\-]+$")
_ID = re.compile(r"^[a-z][a-z0-9_\-]*$")
TASK_TYPES: tuple[str, ...] = get_args(TaskType)
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}
#: Primary metrics that tell the task type on their own (score-based metrics are binary-only).
_REGRESSION_METRICS = frozenset({"rmse", "mae", "r2"})
_BINARY_ONLY_METRICS = frozenset({"average_precision", "roc_auc", "log_loss"})
_TASK_IN_REASON = re.compile(r"task_type '([a-z_]+)'")

M = TypeVar("M", bound=BaseModel)


# --- the rubric file ---------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuestionTemplate(_Strict):
    """A question to ask in the interview, and what makes it relevant to a submission.

    ``triggers`` are red-flag ids or check ids (``"<grader>.<id>"``, a check triggers when it
    failed) or ``"level<=N"`` (the criterion's level is N or lower; criterion templates only).
    A template with no trigger is a generic question used to reach the minimum count.
    ``task_types`` limits the template to assignments of those task types (empty: every task);
    a limited template is never used when the task type is unknown.
    """

    id: str
    text: str = Field(min_length=5, max_length=400)
    triggers: list[str] = Field(default_factory=list)
    task_types: list[TaskType] = Field(default_factory=list)

    @field_validator("task_types")
    @classmethod
    def _unique_task_types(cls, value: list[str]) -> list[str]:
        if len(value) != len(set(value)):
            raise ValueError(f"task_types lists a task type twice: {value}")
        return value

    def applies_to(self, task_type: str | None) -> bool:
        """True when the template may be asked for an assignment of ``task_type``."""
        return not self.task_types or task_type in self.task_types

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


class LevelCap(_Strict):
    """A ceiling on a criterion's level while a red flag is raised or a check failed.

    ``when`` is a red-flag id or a check id written ``"<grader>.<id>"``; a check triggers the cap
    when it failed (a check that was not run does not). ``min_severity`` (red flags only) limits
    the cap to flags of at least that severity. ``reason`` is shown in the result.
    """

    when: str
    max_level: int = Field(ge=0, le=3)
    reason: str = Field(default="", max_length=300)
    min_severity: Severity | None = None

    @field_validator("when")
    @classmethod
    def _when_shape(cls, value: str) -> str:
        if not _ID_TRIGGER.match(value):
            raise ValueError(f"cap trigger {value!r} must be '<grader>.<id>' (a red flag or a check)")
        return value


class Criterion(_Strict):
    """One line of the rubric: what is judged, how much it counts, what each level means.

    ``levels_by_task`` replaces some or all of the descriptors for one task type (e.g. a
    ``regression`` wording of a criterion written for classification); ``caps`` bound the level
    while a red flag is raised or a check failed (see :class:`LevelCap`).
    """

    id: str
    title: str = Field(min_length=1, max_length=80)
    weight: float = Field(gt=0)
    graders: list[GraderRef] = Field(min_length=1)
    levels: dict[int, str]
    thresholds: list[float] | None = None  # None: the rubric's default thresholds
    questions: list[QuestionTemplate] = Field(default_factory=list)
    levels_by_task: dict[TaskType, dict[int, str]] = Field(default_factory=dict)
    caps: list[LevelCap] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"criterion id {value!r} must be lowercase letters, digits, _ or -")
        return value

    @field_validator("levels_by_task")
    @classmethod
    def _task_levels(cls, value: dict[str, dict[int, str]]) -> dict[str, dict[int, str]]:
        for task, levels in value.items():
            if not levels:
                raise ValueError(f"levels_by_task.{task} describes no level")
            unknown = sorted(set(levels) - {0, 1, 2, 3, 4})
            if unknown:
                raise ValueError(f"levels_by_task.{task}: levels must be 0–4, got {unknown}")
            for level, text in levels.items():
                if not text.strip():
                    raise ValueError(f"levels_by_task.{task}: level {level} has an empty descriptor")
        return value

    @field_validator("caps")
    @classmethod
    def _unique_caps(cls, value: list[LevelCap]) -> list[LevelCap]:
        keys = [(cap.when, cap.min_severity) for cap in value]
        dupes = sorted({cap.when for cap, key in zip(value, keys, strict=True)
                        if keys.count(key) > 1})
        if dupes:
            raise ValueError(f"caps list the same trigger twice: {', '.join(dupes)}")
        return value

    def descriptors_for(self, task_type: str | None) -> list[str]:
        """The five level descriptors (index = level) for ``task_type``."""
        variant = self.levels_by_task.get(task_type, {}) if task_type else {}
        return [variant.get(level, self.levels[level]) for level in range(5)]

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


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


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
        node = yaml.compose(text, Loader=_YAML_LOADER)
        data = yaml.load(text, Loader=_YAML_LOADER)  # a safe loader (C or Python)
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
    known = frozenset(known_graders if known_graders is not None else registered_graders())
    try:
        info = path.stat()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the rubric: {exc.strerror or exc}") from None
    return _load_checked(path, (path.resolve(), info.st_mtime_ns, info.st_size), known)


@functools.lru_cache(maxsize=32)
def _load_checked(path: Path, _version: tuple, known: frozenset[str]) -> Rubric:
    """Parse and check one rubric file; cached per file version (a Rubric is immutable).

    Every batch and report loads its rubric; YAML parsing with line numbers costs about 0.15 s.
    ``_version`` (real path, modification time, size) makes an edited file load again.
    """
    data, lines = read_yaml(path)
    if not isinstance(data, dict):
        raise SpecError(f"{path}:1: a rubric must be a YAML mapping")
    rubric = validate_yaml_model(Rubric, data, lines, path)
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
            for ki, cap in enumerate(criterion.caps):
                grader = cap.when.split(".", 1)[0]
                if grader not in known:
                    line = line_for(lines, ("criteria", ci, "caps", ki, "when"))
                    raise SpecError(
                        f"{path}:{line}: criteria[{ci}].caps[{ki}] ({criterion.id}): "
                        f"{cap.when!r} names unknown grader {grader!r}",
                        hint=f"known graders: {', '.join(sorted(known))}",
                    )
    return rubric


#: Optional keys added after the first rubric format; left out of the hash while empty, so a
#: rubric that does not use them keeps the hash it always had.
_HASH_OPTIONAL_KEYS = ("caps", "levels_by_task", "task_types")


def _drop_empty_optional(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _drop_empty_optional(value) for key, value in data.items()
                if not (key in _HASH_OPTIONAL_KEYS and value in ([], {}))}
    if isinstance(data, list):
        return [_drop_empty_optional(item) for item in data]
    return data


def rubric_hash(rubric: Rubric) -> str:
    """A stable hash of the rubric's content (sha256 hex of its canonical JSON)."""
    payload = _drop_empty_optional(rubric.model_dump(mode="json"))
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
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


class AppliedCap(BaseModel):
    """A cap that set a criterion's level: what triggered it, the ceiling, and why."""

    model_config = ConfigDict(extra="forbid")

    trigger: str  # "<grader>.<id>" of the red flag or failed check
    kind: Literal["red_flag", "failed_check"]
    max_level: int = Field(ge=0, le=4)
    reason: str = ""  # the rubric's reason for the cap
    sentence: str = ""  # the grader's own sentence about the flag or check (clipped)


class CriterionResult(BaseModel):
    """One criterion, scored. ``score``/``level`` are None when the criterion was not graded.

    When caps lowered the level, ``uncapped_level`` is the level the score alone reaches and
    ``caps`` lists the caps that set the level (both empty/None otherwise).
    """

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
    uncapped_level: int | None = Field(default=None, ge=0, le=4)  # set when caps lowered it
    caps: list[AppliedCap] = Field(default_factory=list)

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
    task_type: str | None = None  # the task type the descriptors were chosen for (None: unknown)

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


def infer_task_type(grader_results: Mapping[str, GraderResult]) -> str | None:
    """The assignment's task type as far as the grader results tell it (None: unknown).

    In order: a ``details["task_type"]`` any grader recorded; the imbalance grader's
    "not a classification task (task_type '...')" reason; the held-out primary metric (rmse, mae
    and r2 mean regression; average precision, ROC AUC and log loss are binary-only); the number
    of classes in the imbalance grader's ``class_shares`` or the held-out confusion matrix.
    """
    ordered = sorted(grader_results.items())
    for _, result in ordered:
        declared = result.details.get("task_type") if isinstance(result.details, dict) else None
        if declared in TASK_TYPES:
            return str(declared)
    imbalance = grader_results.get("imbalance")
    if imbalance is not None and imbalance.reason:
        match = _TASK_IN_REASON.search(imbalance.reason)
        if match and match.group(1) in TASK_TYPES:
            return match.group(1)
    heldout = grader_results.get("heldout_metrics")
    metric = heldout.details.get("primary_metric") if heldout is not None else None
    if metric in _REGRESSION_METRICS:
        return "regression"
    if metric in _BINARY_ONLY_METRICS:
        return "binary_classification"
    shares = imbalance.details.get("class_shares") if imbalance is not None else None
    classes = len(shares) if isinstance(shares, dict | list) else 0
    if not classes and heldout is not None:
        matrix = heldout.details.get("confusion_matrix")
        if isinstance(matrix, dict):
            matrix = matrix.get("labels") or matrix.get("matrix")
        classes = len(matrix) if isinstance(matrix, list) else 0
    if classes == 2:
        return "binary_classification"
    if classes > 2:
        return "multiclass_classification"
    return None


class _Findings:
    """Red flags raised and checks failed across all grader results, by qualified id."""

    def __init__(self, results: Mapping[str, GraderResult]) -> None:
        self.flags: dict[str, tuple[str, str]] = {}  # id -> (most severe severity, its sentence)
        self.failed: dict[str, str] = {}  # id -> sentence of the (first) failed check
        for name, result in sorted(results.items()):
            if result is None:
                continue
            for flag in result.red_flags:
                key = qualified_id(name, flag.id)
                current = self.flags.get(key)
                if current is None or SEVERITY_RANK[flag.severity] < SEVERITY_RANK[current[0]]:
                    self.flags[key] = (flag.severity, flag.sentence)
            if result.not_applicable:
                continue
            for check in result.checks:
                if not check.passed:
                    self.failed.setdefault(qualified_id(name, check.id), check.sentence)

    def hit(self, cap: LevelCap) -> AppliedCap | None:
        """The applied cap when its trigger is present (a flag of enough severity, or a failure)."""
        flag = self.flags.get(cap.when)
        if flag is not None and (cap.min_severity is None
                                 or SEVERITY_RANK[flag[0]] <= SEVERITY_RANK[cap.min_severity]):
            return AppliedCap(trigger=cap.when, kind="red_flag", max_level=cap.max_level,
                              reason=cap.reason, sentence=clip(flag[1], 300))
        if cap.when in self.failed:
            return AppliedCap(trigger=cap.when, kind="failed_check", max_level=cap.max_level,
                              reason=cap.reason, sentence=clip(self.failed[cap.when], 300))
        return None


def cap_note(applied: Sequence[AppliedCap], uncapped_level: int) -> str:
    """A sentence for reports: the capped level, the level the score reached, and why."""
    level = min(cap.max_level for cap in applied)
    why = "; ".join(
        f"{'red flag' if cap.kind == 'red_flag' else 'failed check'} {cap.trigger}"
        + (f" ({cap.reason})" if cap.reason else "")
        for cap in applied
    )
    return f"Level capped at {level} (the score alone reaches {uncapped_level}): {why}."


def _apply_caps(scored: CriterionResult, criterion: Criterion, findings: _Findings) -> None:
    """Lower ``scored.level`` to the lowest cap that triggered; record the caps that set it."""
    if scored.level is None:
        return
    hits = [hit for cap in criterion.caps if (hit := findings.hit(cap)) is not None]
    lowering = [hit for hit in hits if hit.max_level < scored.level]
    if not lowering:
        return
    level = min(hit.max_level for hit in lowering)
    scored.uncapped_level = scored.level
    scored.level = level
    scored.caps = [hit for hit in lowering if hit.max_level == level]
    scored.note = cap_note(scored.caps, scored.uncapped_level)


def _score_criterion(rubric: Rubric, criterion: Criterion,
                     results: Mapping[str, GraderResult], task_type: str | None = None,
                     findings: _Findings | None = None) -> CriterionResult:
    scored = CriterionResult(
        id=criterion.id, title=criterion.title, weight=criterion.weight,
        level_descriptors=criterion.descriptors_for(task_type),
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
    if criterion.caps:
        _apply_caps(scored, criterion, findings or _Findings(results))
    scored.descriptor = scored.level_descriptors[scored.level]
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


def score_rubric(rubric: Rubric, grader_results: Mapping[str, GraderResult],
                 task_type: str | None = None) -> RubricResult:
    """Score every criterion of ``rubric`` from the grader results, and the weighted total.

    ``task_type`` (the assignment's ``spec.task_type``) chooses the level descriptors; when it
    is None it is inferred from the grader results (:func:`infer_task_type`). Caps are applied
    from the red flags and failed checks of all grader results.
    """
    if task_type is not None and task_type not in TASK_TYPES:
        raise ValueError(f"unknown task type {task_type!r} (known: {', '.join(TASK_TYPES)})")
    task = task_type or infer_task_type(grader_results)
    findings = _Findings(grader_results)
    criteria = [_score_criterion(rubric, c, grader_results, task, findings)
                for c in rubric.criteria]
    total = recompute_total(criteria)
    return RubricResult(
        rubric=rubric.name,
        rubric_hash=rubric_hash(rubric),
        total=total,
        criteria=criteria,
        harness_fault=any(c.harness_fault for c in criteria),
        task_type=task,
    )
