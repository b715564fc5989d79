"""The assignment spec: ``assignments/<slug>/assignment.yaml`` and the folder around it.

An assignment folder holds::

    assignment.yaml          the spec (this module's AssignmentSpec)
    README.md                the candidate prompt
    public/                  train.csv, sample_test_features.csv (given to candidates)
    hidden/                  test_features.csv (mounted in the sandbox), test_labels.csv (host only)
    solutions/reference/     a strong submission, graded to calibrate the metric scale
    solutions/baseline/      a weak submission, graded to calibrate the metric scale
    examples/                example submissions (strong, weak, broken)

``load_assignment`` turns a slug or a folder into an :class:`Assignment`; ``run_command_for``
decides how a repository submission is run (its ``takehome.toml`` or a documented default).
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts.errors import SpecError, SubmissionRejected
from contracts.metrics import GREATER_IS_BETTER

SPEC_FILE = "assignment.yaml"
README_FILE = "README.md"
RUN_CONFIG_FILE = "takehome.toml"
RUN_COMMAND_MAX_CHARS = 1000
RUN_CONFIG_MAX_BYTES = 64 * 1024

TaskType = Literal["binary_classification", "multiclass_classification", "regression"]
MetricName = Literal[
    "average_precision",
    "roc_auc",
    "f1",
    "precision",
    "recall",
    "balanced_accuracy",
    "accuracy",
    "matthews_corrcoef",
    "log_loss",
    "rmse",
    "mae",
    "r2",
]

#: Metrics that make sense for each task type. Multiclass predictions carry a label only (no
#: per-class probabilities), so score-based metrics are binary-only.
METRICS_FOR_TASK: dict[str, frozenset[str]] = {
    "binary_classification": frozenset(
        {
            "average_precision",
            "roc_auc",
            "f1",
            "precision",
            "recall",
            "balanced_accuracy",
            "accuracy",
            "matthews_corrcoef",
            "log_loss",
        }
    ),
    "multiclass_classification": frozenset(
        {"f1", "precision", "recall", "balanced_accuracy", "accuracy", "matthews_corrcoef"}
    ),
    "regression": frozenset({"rmse", "mae", "r2"}),
}

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_RUBRIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_PY_SCRIPT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*\.py$")
_MAKE_TARGET = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_MAKEFILES = ("GNUmakefile", "makefile", "Makefile")

Label = int | str
#: Value columns of predictions.csv; an id column may not share their names.
PREDICTION_VALUE_COLUMNS = frozenset({"score", "label", "prediction"})


def greater_is_better(metric: str) -> bool:
    """True when a larger value of ``metric`` is better (``rmse``: False); KeyError if unknown."""
    return GREATER_IS_BETTER[metric]


class Limits(BaseModel):
    """Resource limits of each sandbox run of a submission."""

    model_config = ConfigDict(extra="forbid")

    wall_time_s: int = Field(default=600, ge=10, le=6 * 3600, description="Wall-clock seconds.")
    memory_mb: int = Field(default=2048, ge=256, le=64 * 1024, description="Memory incl. swap.")
    cpus: float = Field(default=1.0, gt=0, le=64, description="CPU share (1.0 = one core).")


class SubmissionContract(BaseModel):
    """How a submission is run: which notebook, which command, where predictions go."""

    model_config = ConfigDict(extra="forbid")

    notebook: str | None = Field(
        default=None,
        description="Notebook (path relative to the submission root) to execute; unset: the "
        "submission's only notebook, or every notebook when there are several.",
    )
    execute_notebooks: bool = Field(
        default=True, description="Execute notebooks top to bottom in the sandbox."
    )
    default_commands: list[str] = Field(
        default_factory=lambda: ["python predict.py", "make predict"],
        description="Tried in order when the repository has no takehome.toml; each applies only "
        "when its file exists ('python X.py': X.py; 'make T': a Makefile with target T).",
    )
    predictions_file: str = Field(
        default="predictions.csv",
        description="File name the submission writes in $TAKEHOME_OUTPUT_DIR.",
    )

    @field_validator("notebook")
    @classmethod
    def _notebook_is_relative_ipynb(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.endswith(".ipynb") or value.startswith("/") or ".." in Path(value).parts:
            raise ValueError(
                f"{value!r} must be a relative path ending in .ipynb (e.g. solution.ipynb)"
            )
        return value

    @field_validator("default_commands")
    @classmethod
    def _known_command_forms(cls, value: list[str]) -> list[str]:
        for command in value:
            if _parse_default_command(command) is None:
                raise ValueError(f"{command!r} is not 'python <script>.py' or 'make <target>'")
        return value

    @field_validator("predictions_file")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in {"", ".", ".."} or not value.endswith(".csv"):
            raise ValueError(f"{value!r} must be a plain .csv file name (e.g. predictions.csv)")
        return value


class AssignmentSpec(BaseModel):
    """The contents of ``assignment.yaml``."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(description="Folder name: lower-case letters, digits and dashes.")
    title: str = Field(min_length=1, max_length=200)
    task_type: TaskType
    target: str = Field(min_length=1, description="Label column in train.csv / test_labels.csv.")
    id_column: str = Field(min_length=1, description="Unique row id in every data file.")
    positive_class: Label | None = Field(
        default=None, description="Binary only: the label value `score` is the probability of."
    )
    classes: list[Label] | None = Field(
        default=None, description="Classification only: every allowed label value."
    )
    metrics: list[MetricName] = Field(min_length=1)
    primary_metric: MetricName
    limits: Limits = Field(default_factory=Limits)
    rubric: str = Field(default="ml-take-home", description="rubrics/<rubric>.yaml")
    submission: SubmissionContract = Field(default_factory=SubmissionContract)
    starter_code: list[str] = Field(
        default_factory=list,
        description="Paths (relative to the assignment) given to candidates as starter code; "
        "similarity detection ignores them.",
    )
    time_budget_hours: float = Field(
        default=4.0, gt=0, le=40, description="Suggested maximum time a candidate spends."
    )
    candidate_feedback: Literal["none", "descriptors"] = Field(
        default="none",
        description="What a candidate who submitted through an invitation link sees once graded: "
        "nothing (none), or each criterion's rubric descriptor of the level reached "
        "(descriptors); never scores, levels or red flags.",
    )

    @field_validator("slug")
    @classmethod
    def _slug_shape(cls, value: str) -> str:
        if not SLUG_PATTERN.match(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and dashes")
        return value

    @field_validator("rubric")
    @classmethod
    def _rubric_name(cls, value: str) -> str:
        if not _RUBRIC_NAME.match(value):
            raise ValueError(f"{value!r} must be a rubric name without a path or .yaml suffix")
        return value

    @field_validator("starter_code")
    @classmethod
    def _relative_paths(cls, value: list[str]) -> list[str]:
        for item in value:
            if item.startswith("/") or ".." in Path(item).parts:
                raise ValueError(f"{item!r} must be a path inside the assignment folder")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AssignmentSpec:
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError("metrics lists a metric twice")
        allowed = METRICS_FOR_TASK[self.task_type]
        unfit = [m for m in self.metrics if m not in allowed]
        if unfit:
            raise ValueError(
                f"metrics {unfit} do not fit task_type {self.task_type}; "
                f"use some of {sorted(allowed)}"
            )
        if self.primary_metric not in self.metrics:
            raise ValueError(f"primary_metric {self.primary_metric!r} must be one of metrics")
        if self.id_column == self.target:
            raise ValueError("id_column and target must be different columns")
        if self.id_column in PREDICTION_VALUE_COLUMNS:
            raise ValueError(f"id_column must not be one of {sorted(PREDICTION_VALUE_COLUMNS)}")
        self._check_labels()
        return self

    def _check_labels(self) -> None:
        if self.task_type == "regression":
            if self.classes is not None or self.positive_class is not None:
                raise ValueError("regression takes neither classes nor positive_class")
            return
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise ValueError("classification needs classes: a list of distinct label values")
        if self.task_type == "binary_classification":
            if len(self.classes) != 2:
                raise ValueError("binary_classification needs exactly two classes")
            if self.positive_class is None or self.positive_class not in self.classes:
                raise ValueError("binary_classification needs positive_class, one of classes")
        elif self.positive_class is not None:
            raise ValueError("positive_class is for binary_classification only")
        elif len(self.classes) < 3:
            raise ValueError("multiclass_classification needs at least three classes")

    @property
    def is_classification(self) -> bool:
        """True for binary and multiclass classification."""
        return self.task_type != "regression"

    @property
    def primary_greater_is_better(self) -> bool:
        """Whether a larger primary metric is better."""
        return GREATER_IS_BETTER[self.primary_metric]


@dataclass(frozen=True)
class Assignment:
    """An assignment folder and its validated spec."""

    root: Path
    spec: AssignmentSpec

    @property
    def spec_file(self) -> Path:
        return self.root / SPEC_FILE

    @property
    def readme(self) -> Path:
        return self.root / README_FILE

    @property
    def public_dir(self) -> Path:
        return self.root / "public"

    @property
    def hidden_dir(self) -> Path:
        return self.root / "hidden"

    @property
    def solutions_dir(self) -> Path:
        return self.root / "solutions"

    @property
    def examples_dir(self) -> Path:
        return self.root / "examples"

    @property
    def train_csv(self) -> Path:
        return self.public_dir / "train.csv"

    @property
    def sample_test_features_csv(self) -> Path:
        return self.public_dir / "sample_test_features.csv"

    @property
    def hidden_features_csv(self) -> Path:
        return self.hidden_dir / "test_features.csv"

    @property
    def hidden_labels_csv(self) -> Path:
        """Held-out labels: read on the host only, never mounted in the sandbox."""
        return self.hidden_dir / "test_labels.csv"

    def solution_dir(self, name: str) -> Path:
        """``solutions/<name>`` (``reference`` or ``baseline``)."""
        return self.solutions_dir / name

    def content_hash(self) -> str:
        """sha256 over assignment.yaml, README.md, public/ and hidden/ (sorted, deterministic).

        Each file contributes its posix path relative to the assignment and its bytes, both
        length-prefixed, so renaming or moving a file changes the hash. Caches are skipped.
        """
        digest = hashlib.sha256()
        files = [self.spec_file, self.readme]
        for folder in (self.public_dir, self.hidden_dir):
            if folder.is_dir():
                files.extend(
                    p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                )
        for path in sorted(set(files), key=lambda p: p.relative_to(self.root).as_posix()):
            if not path.is_file():
                continue
            rel = path.relative_to(self.root).as_posix().encode()
            data = path.read_bytes()
            digest.update(len(rel).to_bytes(8, "big") + rel)
            digest.update(len(data).to_bytes(8, "big") + data)
        return digest.hexdigest()

    def prediction_columns(self) -> list[str]:
        """Columns of predictions.csv: [id, "score", "label"], [id, "label"] or [id, "prediction"].

        Binary: ``score`` is the probability of ``positive_class``; multiclass: ``label`` only;
        regression: ``prediction``.
        """
        id_column = self.spec.id_column
        if self.spec.task_type == "binary_classification":
            return [id_column, "score", "label"]
        if self.spec.task_type == "multiclass_classification":
            return [id_column, "label"]
        return [id_column, "prediction"]


def repo_root() -> Path:
    """The checkout root (the package is installed editable, so it is this file's grandparent)."""
    return Path(__file__).resolve().parent.parent


def default_assignments_root() -> Path:
    """``<repo>/assignments``: where bundled assignments live."""
    return repo_root() / "assignments"


def _slug_roots(assignments_root: Path | None) -> list[Path]:
    """Where a slug is looked up: the given root, else ./assignments then <repo>/assignments."""
    if assignments_root is not None:
        return [assignments_root]
    roots = [Path.cwd() / "assignments", default_assignments_root()]
    return [r for i, r in enumerate(roots) if r.resolve() not in {x.resolve() for x in roots[:i]}]


class SpecFileError(SpecError):
    """An assignment.yaml that cannot be read or validated; ``detail`` omits the file name."""

    def __init__(self, file: Path, detail: str, hint: str):
        super().__init__(f"{file}: {detail}", hint=hint)
        self.file = file
        self.detail = detail


def _format_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (remove it or check its spelling)"
        elif item["type"] == "literal_error":
            message = f"{message}, got {item.get('input')!r}"
        parts.append(f"{loc}: {message}")
    return "; ".join(parts)


def load_spec(path: Path) -> AssignmentSpec:
    """Read and validate one ``assignment.yaml``; SpecError naming the file and field otherwise."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecFileError(path, f"cannot read ({exc.strerror})", hint="check the path") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise SpecFileError(path, f"not valid YAML{where}", hint="fix the YAML syntax") from exc
    if not isinstance(raw, dict):
        raise SpecFileError(path, "expected a mapping of fields", hint="see docs/authoring.md")
    try:
        return AssignmentSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecFileError(
            path, _format_validation_error(exc), hint="see docs/assignment.schema.json"
        ) from exc


def load_assignment(name_or_path: str | Path, assignments_root: Path | None = None) -> Assignment:
    """Load an assignment from a folder path (or its assignment.yaml) or a slug.

    A slug is looked up under ``assignments_root``; by default under ``./assignments``, then
    ``<repo>/assignments``.
    """
    candidate = Path(name_or_path)
    if candidate.is_file() and candidate.name == SPEC_FILE:
        candidate = candidate.parent
    if not (candidate / SPEC_FILE).is_file():
        roots = _slug_roots(assignments_root)
        slug = str(name_or_path)
        matches = [r / slug for r in roots if (r / slug / SPEC_FILE).is_file()]
        if SLUG_PATTERN.match(slug) and matches:
            candidate = matches[0]
        elif candidate.is_dir():
            raise SpecError(
                f"{candidate}: no {SPEC_FILE} in this folder",
                hint="point at an assignment folder, or run `takehome new <slug>`",
            )
        else:
            known = sorted({p.parent.name for r in roots for p in r.glob(f"*/{SPEC_FILE}")})
            where = " or ".join(str(r) for r in roots)
            raise SpecError(
                f"assignment {slug!r} not found (neither a folder nor a slug in {where})",
                hint=f"use one of {known}" if known else "run `takehome new <slug>`",
            )
    root_dir = candidate.resolve()
    return Assignment(root=root_dir, spec=load_spec(root_dir / SPEC_FILE))


def export_schema(path: Path) -> None:
    """Write the JSON schema of assignment.yaml (docs/assignment.schema.json) to ``path``."""
    schema = AssignmentSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "takehome assignment.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --- how a repository submission is run ------------------------------------------------------


class RunConfigError(SubmissionRejected):
    """The submission's takehome.toml is unusable (the run stage cannot start)."""


def _parse_default_command(command: str) -> tuple[str, str] | None:
    """('python', script) or ('make', target) for a documented default command, else None."""
    parts = command.split()
    if len(parts) != 2:
        return None
    tool, arg = parts
    if tool == "python" and _PY_SCRIPT.match(arg) and ".." not in arg.split("/"):
        return tool, arg
    if tool == "make" and _MAKE_TARGET.match(arg):
        return tool, arg
    return None


def _makefile_has_target(snapshot_root: Path, target: str) -> bool:
    rule = re.compile(rf"^{re.escape(target)}\s*:(?!=)", re.MULTILINE)
    for name in _MAKEFILES:
        path = snapshot_root / name
        if path.is_file() and not path.is_symlink():
            text = path.read_bytes()[:RUN_CONFIG_MAX_BYTES].decode("utf-8", errors="replace")
            if rule.search(text):
                return True
    return False


def _default_applies(snapshot_root: Path, command: str) -> bool:
    parsed = _parse_default_command(command)
    if parsed is None:
        return False
    tool, arg = parsed
    if tool == "python":
        script = snapshot_root / arg
        return script.is_file() and not script.is_symlink()
    return _makefile_has_target(snapshot_root, arg)


def _command_from_config(config_path: Path) -> list[str]:
    where = f"{RUN_CONFIG_FILE}"
    fix = 'write [run] then command = "python predict.py"'
    if config_path.is_symlink() or not config_path.is_file():
        raise RunConfigError(f"{where}: must be a regular file", hint=fix)
    data = config_path.read_bytes()
    if len(data) > RUN_CONFIG_MAX_BYTES:
        raise RunConfigError(f"{where}: larger than {RUN_CONFIG_MAX_BYTES} bytes", hint=fix)
    try:
        config = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RunConfigError(f"{where}: not valid TOML ({exc})", hint=fix) from exc
    run = config.get("run")
    if not isinstance(run, dict) or "command" not in run:
        raise RunConfigError(f"{where}: no [run] command", hint=fix)
    command = run["command"]
    if not isinstance(command, str) or not command.strip():
        raise RunConfigError(f"{where}: [run] command must be a non-empty string", hint=fix)
    if len(command) > RUN_COMMAND_MAX_CHARS or "\x00" in command or "\n" in command:
        raise RunConfigError(
            f"{where}: [run] command must be one line of at most {RUN_COMMAND_MAX_CHARS} chars",
            hint="put longer logic in a script and run that",
        )
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise RunConfigError(f"{where}: [run] command cannot be split ({exc})", hint=fix) from exc
    if not argv:
        raise RunConfigError(f"{where}: [run] command is empty", hint=fix)
    return argv


def run_command_for(snapshot_root: Path, spec: AssignmentSpec) -> list[str] | None:
    """The argv that runs a repository submission, or None when it has nothing to run.

    ``takehome.toml``'s ``[run] command`` wins (split like a shell line, run without a shell);
    otherwise the first of ``spec.submission.default_commands`` whose file exists; otherwise
    None (a notebook-only submission). Raises RunConfigError when takehome.toml is unusable.
    """
    config_path = snapshot_root / RUN_CONFIG_FILE
    if config_path.exists() or config_path.is_symlink():
        return _command_from_config(config_path)
    for command in spec.submission.default_commands:
        if _default_applies(snapshot_root, command):
            return command.split()
    return None
