"""Authoring: the `new` scaffold, `validate` checks, the calibration hook, data generators."""

from __future__ import annotations

import hashlib
import runpy
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from contracts.errors import SpecError, TakehomeError
from harness.assignment import load_assignment, repo_root
from harness.authoring import Problem, new_assignment, validate_assignment, validate_path
from harness.cli import main

BUNDLED = ["fraud-detection", "diabetes-progression"]
DATA_FILES = [
    "public/train.csv",
    "public/sample_test_features.csv",
    "hidden/test_features.csv",
    "hidden/test_labels.csv",
]
SECRET = "SECRET-HIDDEN-VALUE"


@pytest.fixture
def scaffold(tmp_path: Path) -> Path:
    """A fresh `takehome new` assignment (binary, toy data) to break in each test."""
    return new_assignment("toy-task", tmp_path)


def problems_of(folder: Path) -> list[Problem]:
    return validate_assignment(load_assignment(folder))


def only_problem(folder: Path) -> Problem:
    problems = problems_of(folder)
    assert len(problems) == 1, problems
    return problems[0]


def edit_csv(path: Path, change) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


# --- bundled assignments and scaffold -----------------------------------------------------------


@pytest.mark.parametrize("slug", BUNDLED)
def test_bundled_assignment_has_no_problems(slug: str) -> None:
    assert validate_path(slug) == []


def test_new_scaffold_validates_out_of_the_box(scaffold: Path) -> None:
    assert scaffold.name == "toy-task"
    assert problems_of(scaffold) == []
    assert (scaffold / "solutions" / "reference" / "predict.py").is_file()
    assert "{{" not in (scaffold / "assignment.yaml").read_text()


def test_new_refuses_to_overwrite(scaffold: Path) -> None:
    marker = scaffold / "README.md"
    marker.write_text("my prompt")
    with pytest.raises(SpecError, match="already exists"):
        new_assignment("toy-task", scaffold.parent)
    assert marker.read_text() == "my prompt"


def test_new_rejects_a_bad_slug(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not a valid slug"):
        new_assignment("Bad Slug", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_scaffold_generator_reproduces_its_data(scaffold: Path, tmp_path: Path) -> None:
    generate = runpy.run_path(str(scaffold / "generate_data.py"), run_name="t")["generate"]
    generate(tmp_path / "again")
    for rel in DATA_FILES:
        assert (tmp_path / "again" / rel).read_bytes() == (scaffold / rel).read_bytes(), rel


# --- each problem is detected -------------------------------------------------------------------


def test_misaligned_hidden_ids_are_reported_with_counts(scaffold: Path) -> None:
    edit_csv(scaffold / "hidden/test_labels.csv", lambda f: f.iloc[:-3])
    problem = only_problem(scaffold)
    assert problem.file == "hidden/test_labels.csv"
    assert "3 feature ids have no label, 0 labels have no features row" in problem.message


def test_duplicate_hidden_feature_ids_are_reported(scaffold: Path) -> None:
    def duplicate(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[1, "row_id"] = frame.loc[0, "row_id"]
        return frame

    edit_csv(scaffold / "hidden/test_features.csv", duplicate)
    messages = [str(p) for p in problems_of(scaffold)]
    assert any(
        "test_features.csv: 1 duplicated values in id column 'row_id'" in m for m in messages
    )


def test_unknown_hidden_label_is_reported_without_its_value(scaffold: Path) -> None:
    def poison(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[0, "outcome"] = SECRET
        return frame

    edit_csv(scaffold / "hidden/test_labels.csv", poison)
    problem = only_problem(scaffold)
    assert "1 label values not in classes (1 rows)" in problem.message
    assert SECRET not in str(problem)


def test_hidden_ids_never_appear_in_messages(scaffold: Path) -> None:
    def secret_id(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[0, "row_id"] = SECRET
        return frame

    edit_csv(scaffold / "hidden/test_labels.csv", secret_id)
    problems = problems_of(scaffold)
    assert problems and all(SECRET not in str(p) for p in problems)


def test_train_column_mismatch_is_reported(scaffold: Path) -> None:
    edit_csv(scaffold / "public/train.csv", lambda f: f.drop(columns=["x2"]))
    problem = only_problem(scaffold)
    assert problem.file == "public/train.csv"
    assert "missing ['x2']" in problem.message


def test_sample_column_order_must_match_hidden_features(scaffold: Path) -> None:
    edit_csv(scaffold / "public/sample_test_features.csv", lambda f: f[f.columns[::-1]])
    problem = only_problem(scaffold)
    assert problem.file == "public/sample_test_features.csv"
    assert "order differs" in problem.message


def test_target_in_features_is_reported(scaffold: Path) -> None:
    labels = pd.read_csv(scaffold / "hidden/test_labels.csv")
    features = pd.read_csv(scaffold / "hidden/test_features.csv")
    features.merge(labels, on="row_id").to_csv(scaffold / "hidden/test_features.csv", index=False)
    messages = [str(p) for p in problems_of(scaffold)]
    assert any("features file contains the target column 'outcome'" in m for m in messages)


def test_extra_column_in_labels_is_reported(scaffold: Path) -> None:
    edit_csv(scaffold / "hidden/test_labels.csv", lambda f: f.assign(note="x"))
    assert "extra columns ['note']" in only_problem(scaffold).message


def test_missing_rubric_is_reported(scaffold: Path) -> None:
    spec = scaffold / "assignment.yaml"
    spec.write_text(spec.read_text().replace("rubric: ml-take-home", "rubric: no-such-rubric"))
    problem = only_problem(scaffold)
    assert problem.file == "assignment.yaml"
    assert "rubric 'no-such-rubric' not found" in problem.message
    assert "ml-take-home" in problem.fix


def test_rubrics_dir_can_be_overridden(scaffold: Path, tmp_path: Path) -> None:
    problems = validate_assignment(load_assignment(scaffold), rubrics_dir=tmp_path / "empty")
    assert [p.file for p in problems] == ["assignment.yaml"]


def test_missing_files_and_solutions_are_reported(scaffold: Path) -> None:
    (scaffold / "hidden/test_labels.csv").unlink()
    shutil.rmtree(scaffold / "solutions/baseline")
    shutil.rmtree(scaffold / "examples")
    files = {p.file for p in problems_of(scaffold)}
    assert files == {"hidden/test_labels.csv", "solutions/baseline", "examples"}


def test_slug_must_match_folder(scaffold: Path) -> None:
    moved = scaffold.rename(scaffold.parent / "other-name")
    assert "differs from the folder name" in only_problem(moved).message


def test_prompt_must_state_the_contract(scaffold: Path) -> None:
    (scaffold / "README.md").write_text("# Predict things\n")
    problem = only_problem(scaffold)
    assert "TAKEHOME_OUTPUT_DIR" in problem.message and "predictions.csv" in problem.message


def test_regression_target_must_be_numeric(tmp_path: Path) -> None:
    folder = tmp_path / "diabetes-progression"
    shutil.copytree(repo_root() / "assignments" / "diabetes-progression", folder)

    def poison(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[0, "progression"] = "high"
        return frame

    edit_csv(folder / "hidden/test_labels.csv", poison)
    problem = only_problem(folder)
    assert "1 non-numeric 'progression' values" in problem.message
    assert "high" not in str(problem)


def test_invalid_spec_is_a_problem_not_a_crash(scaffold: Path) -> None:
    spec = scaffold / "assignment.yaml"
    spec.write_text(
        spec.read_text().replace("primary_metric: average_precision", "primary_metric: rmse")
    )
    problems = validate_path(scaffold)
    assert len(problems) == 1
    assert problems[0].file.endswith("assignment.yaml")
    assert "must be one of metrics" in problems[0].message


# --- calibration hook ---------------------------------------------------------------------------


def test_calibration_hook_passes_when_reference_beats_baseline(scaffold: Path) -> None:
    seen = []

    def calibrate(assignment):
        seen.append(assignment.spec.slug)
        return {"reference": 0.8, "baseline": 0.3}

    assert validate_assignment(load_assignment(scaffold), calibrate=calibrate) == []
    assert seen == ["toy-task"]


def test_calibration_hook_flags_reference_not_better(scaffold: Path) -> None:
    problems = validate_assignment(
        load_assignment(scaffold), calibrate=lambda a: {"reference": 0.3, "baseline": 0.3}
    )
    assert [p.file for p in problems] == ["solutions"]
    assert "is not better than baseline" in problems[0].message


def test_calibration_direction_follows_the_metric() -> None:
    diabetes = load_assignment("diabetes-progression")  # rmse: lower is better
    good = validate_assignment(diabetes, calibrate=lambda a: {"reference": 53.5, "baseline": 78.4})
    bad = validate_assignment(diabetes, calibrate=lambda a: {"reference": 78.4, "baseline": 53.5})
    assert good == [] and len(bad) == 1


def test_calibration_failure_is_a_problem(scaffold: Path) -> None:
    def failing(assignment):
        raise TakehomeError("sandbox image missing")

    problems = validate_assignment(load_assignment(scaffold), calibrate=failing)
    assert "calibration failed: sandbox image missing" in problems[0].message


def test_calibration_is_skipped_when_static_checks_fail(scaffold: Path) -> None:
    (scaffold / "hidden/test_labels.csv").unlink()
    calls = []
    validate_assignment(load_assignment(scaffold), calibrate=lambda a: calls.append(a) or {})
    assert calls == []


# --- generators are byte-for-byte reproducible --------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("slug", BUNDLED)
def test_generator_reproduces_bundled_data_byte_for_byte(slug: str, tmp_path: Path) -> None:
    folder = repo_root() / "assignments" / slug
    generate = runpy.run_path(str(folder / "generate_data.py"), run_name="t")["generate"]
    generate(tmp_path)
    for rel in DATA_FILES:
        assert sha256(tmp_path / rel) == sha256(folder / rel), f"{slug}/{rel} differs"


def test_fraud_data_has_the_promised_shape() -> None:
    assignment = load_assignment("fraud-detection")
    train = pd.read_csv(assignment.train_csv)
    labels = pd.read_csv(assignment.hidden_labels_csv)
    assert 20_000 <= len(train) <= 20_100 and len(labels) == 5_000
    assert 0.015 <= train["is_fraud"].mean() <= 0.03
    assert train.duplicated().sum() > 0
    assert (train.isna().mean() > 0.01).sum() >= 4
    assert train["amount"].max() > 20 * train["amount"].quantile(0.99)


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_new_then_validate(tmp_path: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(main, ["new", "cli-task", "--dir", str(tmp_path)])
    assert created.exit_code == 0, created.output
    checked = runner.invoke(main, ["validate", "--no-calibrate", str(tmp_path / "cli-task")])
    assert checked.exit_code == 0 and "valid" in checked.output


def test_cli_validate_lists_problems_and_exits_1(scaffold: Path) -> None:
    (scaffold / "hidden/test_labels.csv").unlink()
    result = CliRunner().invoke(main, ["validate", "--no-calibrate", str(scaffold)])
    assert result.exit_code == 1
    assert "hidden/test_labels.csv: file missing (fix: run generate_data.py)" in result.output


def test_an_invalid_rubric_is_a_problem_not_just_a_missing_one(scaffold: Path, tmp_path: Path) -> None:
    from harness.assignment import load_assignment
    from harness.authoring import validate_assignment

    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    spec = load_assignment(scaffold).spec
    (rubrics / f"{spec.rubric}.yaml").write_text("criteria: not-a-list\n")
    problems = validate_assignment(load_assignment(scaffold), rubrics_dir=rubrics)
    assert any("rubric is invalid" in p.message for p in problems)
