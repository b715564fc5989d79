"""Authoring assignments: ``takehome new`` (scaffold) and ``takehome validate`` (checks).

Validation never prints held-out values: messages about hidden files carry counts and column
names only, so a validation log can be shared with anyone.
"""

from __future__ import annotations

import runpy
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from contracts.errors import SpecError, TakehomeError
from harness.assignment import (
    README_FILE,
    SLUG_PATTERN,
    SPEC_FILE,
    Assignment,
    SpecFileError,
    default_assignments_root,
    load_assignment,
    repo_root,
)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "new_assignment"
GENERATOR_FILE = "generate_data.py"
SOLUTIONS = ("reference", "baseline")
README_MUST_MENTION = ("TAKEHOME_DATA_DIR", "TAKEHOME_OUTPUT_DIR")

#: The calibration hook: grades the reference and baseline solutions and returns their primary
#: metric, e.g. ``{"reference": 0.68, "baseline": 0.23}``. Wired by the caller (it needs the
#: sandbox); raise TakehomeError to report that calibration could not run.
Calibrate = Callable[[Assignment], Mapping[str, float]]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an assignment: the file (relative to the assignment), what, how to fix."""

    file: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message} (fix: {self.fix})"


# --- scaffold ---------------------------------------------------------------------------------


def new_assignment(slug: str, dest_root: Path) -> Path:
    """Create ``dest_root/<slug>`` from the template, with a toy dataset; return the folder.

    The scaffold validates out of the box (``takehome validate <folder>``). Refuses to write
    into an existing folder.
    """
    if not SLUG_PATTERN.match(slug):
        raise SpecError(
            f"{slug!r} is not a valid slug",
            hint="use lower-case letters, digits and dashes, e.g. churn-prediction",
        )
    dest = Path(dest_root) / slug
    if dest.exists():
        raise SpecError(f"{dest} already exists", hint="choose another slug or remove the folder")
    if not TEMPLATE_DIR.is_dir():
        raise SpecError(f"{TEMPLATE_DIR}: template folder missing", hint="reinstall takehome")
    title = slug.replace("-", " ").capitalize()
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{slug}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        for source in sorted(TEMPLATE_DIR.rglob("*")):
            if source.is_dir() or "__pycache__" in source.parts:
                continue
            target = staging / source.relative_to(TEMPLATE_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            text = source.read_text(encoding="utf-8")
            target.write_text(
                text.replace("{{slug}}", slug).replace("{{title}}", title), encoding="utf-8"
            )
        for folder in ("public", "hidden"):
            (staging / folder).mkdir(parents=True, exist_ok=True)
        generator = runpy.run_path(str(staging / GENERATOR_FILE), run_name="takehome_scaffold")
        generator["generate"](staging)
        staging.rename(dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return dest


# --- validation -------------------------------------------------------------------------------


def validate_path(
    name_or_path: str | Path,
    assignments_root: Path | None = None,
    calibrate: Calibrate | None = None,
) -> list[Problem]:
    """Load and validate an assignment; a spec that does not load is reported as a Problem."""
    try:
        assignment = load_assignment(name_or_path, assignments_root)
    except SpecFileError as exc:
        return [Problem(str(exc.file), exc.detail, exc.hint or "see docs/authoring.md")]
    except SpecError as exc:
        return [Problem(str(name_or_path), exc.message, exc.hint or "see docs/authoring.md")]
    return validate_assignment(assignment, calibrate=calibrate)


def validate_assignment(
    assignment: Assignment,
    calibrate: Calibrate | None = None,
    rubrics_dir: Path | None = None,
) -> list[Problem]:
    """Every problem found in the assignment folder (empty list: valid).

    ``calibrate`` is the hook for grading the reference and baseline solutions (see
    :data:`Calibrate`); it runs only when every static check passes. ``rubrics_dir`` defaults to
    ``<repo>/rubrics``.
    """
    problems: list[Problem] = []
    problems += _check_layout(assignment)
    problems += _check_rubric(assignment, rubrics_dir or repo_root() / "rubrics")
    problems += _check_readme(assignment)
    problems += _check_data(assignment)
    if calibrate is not None and not problems:
        problems += _check_calibration(assignment, calibrate)
    return problems


def _rel(assignment: Assignment, path: Path) -> str:
    return path.relative_to(assignment.root).as_posix()


def _check_layout(assignment: Assignment) -> list[Problem]:
    spec = assignment.spec
    problems: list[Problem] = []
    if assignment.root.name != spec.slug:
        problems.append(
            Problem(
                SPEC_FILE,
                f"slug {spec.slug!r} differs from the folder name {assignment.root.name!r}",
                "make the slug and the folder name equal",
            )
        )
    required = [
        (assignment.readme, "write the candidate prompt (see docs/authoring.md)"),
        (assignment.train_csv, "run generate_data.py"),
        (assignment.sample_test_features_csv, "run generate_data.py"),
        (assignment.hidden_features_csv, "run generate_data.py"),
        (assignment.hidden_labels_csv, "run generate_data.py"),
    ]
    for path, fix in required:
        if not path.is_file():
            problems.append(Problem(_rel(assignment, path), "file missing", fix))
    for name in SOLUTIONS:
        folder = assignment.solution_dir(name)
        if not folder.is_dir() or not any(folder.iterdir()):
            problems.append(
                Problem(
                    _rel(assignment, folder),
                    "solution missing or empty",
                    f"add a complete {name} submission that follows the contract",
                )
            )
    examples = assignment.examples_dir
    if not examples.is_dir():
        problems.append(
            Problem("examples", "folder missing", "add examples/ (see docs/authoring.md)")
        )
    for item in spec.starter_code:
        if not (assignment.root / item).exists():
            problems.append(
                Problem(
                    SPEC_FILE,
                    f"starter_code path {item!r} does not exist",
                    "fix the path (relative to the assignment folder) or remove it",
                )
            )
    return problems


def _check_rubric_loads(rubric: Path) -> list[Problem]:
    """The rubric must validate (schema, known graders, weights, thresholds), not just exist."""
    from graders.registry import discover_graders
    from harness.rubric import load_rubric

    graders, _failures = discover_graders()
    try:
        load_rubric(rubric, known_graders=[g.name for g in graders])
    except TakehomeError as exc:
        return [Problem(str(rubric.name), f"rubric is invalid: {exc}", "fix the rubric file")]
    return []


def _check_rubric(assignment: Assignment, rubrics_dir: Path) -> list[Problem]:
    rubric = rubrics_dir / f"{assignment.spec.rubric}.yaml"
    if rubric.is_file():
        return _check_rubric_loads(rubric)
    known = sorted(p.stem for p in rubrics_dir.glob("*.yaml")) if rubrics_dir.is_dir() else []
    return [
        Problem(
            SPEC_FILE,
            f"rubric {assignment.spec.rubric!r} not found ({rubric} is missing)",
            f"set rubric to one of {known}" if known else f"create {rubric}",
        )
    ]


def _check_readme(assignment: Assignment) -> list[Problem]:
    if not assignment.readme.is_file():
        return []
    text = assignment.readme.read_text(encoding="utf-8", errors="replace")
    needed = [*README_MUST_MENTION, assignment.spec.submission.predictions_file]
    needed += assignment.prediction_columns()
    absent = [word for word in needed if word not in text]
    if not absent:
        return []
    return [
        Problem(
            README_FILE,
            f"the prompt does not mention {absent}",
            "state the contract: data/output folders, predictions file and its columns",
        )
    ]


def _read(path: Path) -> pd.DataFrame:
    """Every cell as a string, empty cells as ''; ids and labels compare exactly as written."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _check_data(assignment: Assignment) -> list[Problem]:
    files = {
        "train": assignment.train_csv,
        "sample": assignment.sample_test_features_csv,
        "features": assignment.hidden_features_csv,
        "labels": assignment.hidden_labels_csv,
    }
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for key, path in files.items():
        if not path.is_file():
            continue  # reported by _check_layout
        try:
            frames[key] = _read(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            problems.append(
                Problem(
                    _rel(assignment, path),
                    f"not a readable CSV ({type(exc).__name__})",
                    "regenerate it",
                )
            )
    spec = assignment.spec
    for key, frame in frames.items():
        problems += _check_columns(
            assignment, files[key], frame, needs_target=key in ("train", "labels")
        )
    if "features" in frames and "labels" in frames:
        problems += _check_alignment(assignment, frames["features"], frames["labels"])
    if "labels" in frames and spec.target in frames["labels"].columns:
        problems += _check_label_values(assignment, files["labels"], frames["labels"], hidden=True)
    if "train" in frames and spec.target in frames["train"].columns:
        problems += _check_label_values(assignment, files["train"], frames["train"], hidden=False)
    problems += _check_feature_columns(assignment, frames)
    return problems


def _check_columns(
    assignment: Assignment, path: Path, frame: pd.DataFrame, needs_target: bool
) -> list[Problem]:
    spec = assignment.spec
    rel = _rel(assignment, path)
    problems: list[Problem] = []
    if spec.id_column not in frame.columns:
        problems.append(
            Problem(
                rel,
                f"id column {spec.id_column!r} missing",
                "add it, or fix id_column in assignment.yaml",
            )
        )
    if needs_target and spec.target not in frame.columns:
        problems.append(
            Problem(
                rel,
                f"target column {spec.target!r} missing",
                "add it, or fix target in assignment.yaml",
            )
        )
    if not needs_target and spec.target in frame.columns:
        problems.append(
            Problem(
                rel,
                f"features file contains the target column {spec.target!r}",
                "drop the target from features files",
            )
        )
    if frame.empty:
        problems.append(Problem(rel, "no rows", "regenerate the data"))
    if path == assignment.hidden_labels_csv:
        expected = [spec.id_column, spec.target]
        if list(frame.columns) != expected and set(expected) <= set(frame.columns):
            extra = [c for c in frame.columns if c not in expected]
            problems.append(
                Problem(
                    rel,
                    f"must hold exactly {expected}; extra columns {extra}",
                    "keep only the id and target columns",
                )
            )
    if spec.id_column in frame.columns and path != assignment.train_csv:
        ids = frame[spec.id_column]
        duplicated = int(ids.duplicated().sum())
        if duplicated:
            problems.append(
                Problem(
                    rel,
                    f"{duplicated} duplicated values in id column {spec.id_column!r}",
                    "make ids unique",
                )
            )
        empty = int((ids.str.strip() == "").sum())
        if empty:
            problems.append(Problem(rel, f"{empty} empty ids", "give every row an id"))
    return problems


def _check_alignment(
    assignment: Assignment, features: pd.DataFrame, labels: pd.DataFrame
) -> list[Problem]:
    id_column = assignment.spec.id_column
    if id_column not in features.columns or id_column not in labels.columns:
        return []
    feature_ids, label_ids = set(features[id_column]), set(labels[id_column])
    unlabelled = len(feature_ids - label_ids)
    orphan = len(label_ids - feature_ids)
    if not unlabelled and not orphan:
        return []
    return [
        Problem(
            _rel(assignment, assignment.hidden_labels_csv),
            f"ids not aligned with test_features.csv: {unlabelled} feature ids have no "
            f"label, {orphan} labels have no features row",
            "regenerate both hidden files from the same rows",
        )
    ]


def _check_label_values(
    assignment: Assignment, path: Path, frame: pd.DataFrame, hidden: bool
) -> list[Problem]:
    spec = assignment.spec
    rel = _rel(assignment, path)
    values = frame[spec.target].str.strip()
    missing = int((values == "").sum())
    problems: list[Problem] = []
    if missing:
        problems.append(
            Problem(
                rel,
                f"{missing} rows without a {spec.target!r} value",
                "label every row (or drop unlabelled rows)",
            )
        )
    values = values[values != ""]
    if spec.classes is None:
        not_numeric = int(pd.to_numeric(values, errors="coerce").isna().sum())
        if not_numeric:
            problems.append(
                Problem(
                    rel,
                    f"{not_numeric} non-numeric {spec.target!r} values",
                    "regression targets must be numbers",
                )
            )
        return problems
    allowed = {str(c) for c in spec.classes}
    unknown = values[~values.isin(allowed)]
    if len(unknown):
        shown = "" if hidden else f": {sorted(unknown.unique())[:5]}"
        problems.append(
            Problem(
                rel,
                f"{unknown.nunique()} label values not in classes ({len(unknown)} rows){shown}",
                "fix the labels or the classes list in assignment.yaml",
            )
        )
    if not hidden:
        absent = sorted(allowed - set(values))
        if absent:
            problems.append(
                Problem(
                    rel,
                    f"classes {absent} never occur in the training data",
                    "check the classes list and the data",
                )
            )
    return problems


def _check_feature_columns(
    assignment: Assignment, frames: dict[str, pd.DataFrame]
) -> list[Problem]:
    target = assignment.spec.target
    problems: list[Problem] = []
    features = frames.get("features")
    if features is None:
        return problems
    hidden_columns = list(features.columns)
    if "train" in frames and target in frames["train"].columns:
        train_columns = [c for c in frames["train"].columns if c != target]
        if set(train_columns) != set(hidden_columns):
            problems.append(
                Problem(
                    _rel(assignment, assignment.train_csv),
                    "columns differ from test_features.csv + target: "
                    f"missing {sorted(set(hidden_columns) - set(train_columns))}, "
                    f"extra {sorted(set(train_columns) - set(hidden_columns))}",
                    "train.csv must have the hidden feature columns plus the target",
                )
            )
    if "sample" in frames and list(frames["sample"].columns) != hidden_columns:
        sample_columns = list(frames["sample"].columns)
        problems.append(
            Problem(
                _rel(assignment, assignment.sample_test_features_csv),
                "columns differ from hidden/test_features.csv: "
                f"missing {sorted(set(hidden_columns) - set(sample_columns))}, "
                f"extra {sorted(set(sample_columns) - set(hidden_columns))}"
                + (", order differs" if set(sample_columns) == set(hidden_columns) else ""),
                "write the sample with exactly the hidden feature columns, in order",
            )
        )
    return problems


def _check_calibration(assignment: Assignment, calibrate: Calibrate) -> list[Problem]:
    spec = assignment.spec
    try:
        scores = calibrate(assignment)
    except TakehomeError as exc:
        return [
            Problem(
                "solutions",
                f"calibration failed: {exc}",
                "run the solutions with `takehome grade` and fix what fails",
            )
        ]
    missing = [name for name in SOLUTIONS if name not in scores]
    if missing:
        return [
            Problem(
                "solutions",
                f"no calibration score for {missing}",
                "make each solution write a valid predictions file",
            )
        ]
    reference, baseline = scores["reference"], scores["baseline"]
    better = reference > baseline if spec.primary_greater_is_better else reference < baseline
    if better:
        return []
    return [
        Problem(
            "solutions",
            f"reference ({spec.primary_metric} {reference:.4g}) is not better "
            f"than baseline ({baseline:.4g})",
            "strengthen solutions/reference or weaken solutions/baseline",
        )
    ]


def format_problems(problems: list[Problem]) -> str:
    """One line per problem, for the terminal."""
    return "\n".join(str(p) for p in problems)


__all__ = [
    "Calibrate",
    "Problem",
    "default_assignments_root",
    "format_problems",
    "new_assignment",
    "validate_assignment",
    "validate_path",
]
