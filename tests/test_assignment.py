"""The assignment spec (assignment.yaml), the Assignment folder API and run_command_for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from contracts.errors import SpecError
from harness.assignment import (
    GREATER_IS_BETTER,
    METRICS_FOR_TASK,
    Assignment,
    AssignmentSpec,
    RunConfigError,
    export_schema,
    greater_is_better,
    load_assignment,
    load_spec,
    repo_root,
    run_command_for,
)

BUNDLED = ["fraud-detection", "diabetes-progression"]

BINARY = {
    "slug": "toy",
    "title": "Toy",
    "task_type": "binary_classification",
    "target": "y",
    "id_column": "id",
    "positive_class": 1,
    "classes": [0, 1],
    "metrics": ["average_precision", "f1"],
    "primary_metric": "average_precision",
}


def write_spec(folder: Path, **changes: object) -> Path:
    data = {**BINARY, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "assignment.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# --- spec validation --------------------------------------------------------------------------


def test_minimal_binary_spec_gets_documented_defaults(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path / "toy"))
    assert spec.rubric == "ml-take-home"
    assert spec.limits.wall_time_s == 600 and spec.limits.memory_mb == 2048
    assert spec.submission.predictions_file == "predictions.csv"
    assert spec.submission.default_commands == ["python predict.py", "make predict"]
    assert spec.submission.execute_notebooks is True
    assert spec.primary_greater_is_better is True


def test_unknown_metric_names_file_and_field(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "toy", metrics=["average_precision", "auprc"])
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert str(path) in message
    assert "metrics.1" in message and "auprc" in message


def test_primary_metric_must_be_in_metrics(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="primary_metric 'roc_auc' must be one of metrics"):
        load_spec(write_spec(tmp_path / "toy", primary_metric="roc_auc"))


def test_regression_metric_on_classification_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"metrics \['rmse'\] do not fit task_type"):
        load_spec(write_spec(tmp_path / "toy", metrics=["average_precision", "rmse"]))


def test_score_metric_on_multiclass_is_rejected(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path / "toy",
        task_type="multiclass_classification",
        positive_class=None,
        classes=["a", "b", "c"],
        metrics=["roc_auc", "accuracy"],
        primary_metric="accuracy",
    )
    with pytest.raises(SpecError, match="do not fit task_type multiclass_classification"):
        load_spec(path)


def test_binary_needs_positive_class_among_classes(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="positive_class"):
        load_spec(write_spec(tmp_path / "toy", positive_class=2))


def test_regression_rejects_classes(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path / "toy",
        task_type="regression",
        positive_class=None,
        metrics=["rmse"],
        primary_metric="rmse",
    )
    with pytest.raises(SpecError, match="regression takes neither classes"):
        load_spec(path)


def test_unknown_field_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="primary_metrik: unknown field"):
        load_spec(write_spec(tmp_path / "toy", primary_metrik="f1"))


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "assignment.yaml"
    path.write_text("slug: toy\ntitle: [unclosed\n", encoding="utf-8")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(path)


def test_predictions_file_must_be_a_plain_csv_name(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "toy", submission={"predictions_file": "../out.csv"})
    with pytest.raises(SpecError, match="submission.predictions_file"):
        load_spec(path)


def test_default_commands_must_have_a_known_form(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "toy", submission={"default_commands": ["bash run.sh"]})
    with pytest.raises(SpecError, match="not 'python <script>.py' or 'make <target>'"):
        load_spec(path)


def test_every_metric_has_a_direction_and_a_task() -> None:
    known = set(AssignmentSpec.model_fields["metrics"].annotation.__args__[0].__args__)
    assert set(GREATER_IS_BETTER) == known
    assert set().union(*METRICS_FOR_TASK.values()) == known
    assert greater_is_better("average_precision") and greater_is_better("r2")
    assert not greater_is_better("rmse") and not greater_is_better("log_loss")


# --- the Assignment folder --------------------------------------------------------------------


@pytest.mark.parametrize("slug", BUNDLED)
def test_bundled_assignment_loads_by_slug(slug: str) -> None:
    assignment = load_assignment(slug)
    assert assignment.spec.slug == slug
    assert assignment.root == repo_root() / "assignments" / slug
    assert assignment.hidden_labels_csv.is_file()
    assert assignment.train_csv.parent == assignment.public_dir


def test_load_by_folder_and_by_spec_file_agree() -> None:
    folder = repo_root() / "assignments" / "diabetes-progression"
    assert load_assignment(folder) == load_assignment(folder / "assignment.yaml")


def test_unknown_slug_lists_known_assignments(tmp_path: Path) -> None:
    write_spec(tmp_path / "toy")
    with pytest.raises(SpecError, match=r"'nope' not found.*\['toy'\]"):
        load_assignment("nope", assignments_root=tmp_path)


def test_folder_without_spec_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no assignment.yaml"):
        load_assignment(tmp_path)


def test_prediction_columns_follow_the_task_type() -> None:
    binary = AssignmentSpec.model_validate(BINARY)
    multi = AssignmentSpec.model_validate(
        {
            **BINARY,
            "task_type": "multiclass_classification",
            "positive_class": None,
            "classes": ["a", "b", "c"],
            "metrics": ["accuracy"],
            "primary_metric": "accuracy",
        }
    )
    regression = AssignmentSpec.model_validate(
        {
            **BINARY,
            "task_type": "regression",
            "positive_class": None,
            "classes": None,
            "metrics": ["rmse", "r2"],
            "primary_metric": "rmse",
        }
    )
    root = Path("/nowhere")
    assert Assignment(root, binary).prediction_columns() == ["id", "score", "label"]
    assert Assignment(root, multi).prediction_columns() == ["id", "label"]
    assert Assignment(root, regression).prediction_columns() == ["id", "prediction"]
    assert regression.primary_greater_is_better is False


def test_content_hash_covers_data_and_prompt_but_not_solutions(tmp_path: Path) -> None:
    source = repo_root() / "assignments" / "diabetes-progression"
    copy = tmp_path / "diabetes-progression"
    shutil.copytree(source, copy)
    original = load_assignment(source).content_hash()
    assignment = load_assignment(copy)
    assert assignment.content_hash() == original  # independent of where the folder lives

    (copy / "solutions" / "reference" / "predict.py").write_text("# changed\n")
    assert assignment.content_hash() == original

    labels = assignment.hidden_labels_csv
    labels.write_bytes(labels.read_bytes() + b"\n")
    assert assignment.content_hash() != original


def test_exported_schema_is_up_to_date(tmp_path: Path) -> None:
    fresh = tmp_path / "schema.json"
    export_schema(fresh)
    committed = repo_root() / "docs" / "assignment.schema.json"
    assert json.loads(fresh.read_text()) == json.loads(committed.read_text()), (
        "docs/assignment.schema.json is stale: regenerate it with export_schema"
    )
    assert json.loads(fresh.read_text())["additionalProperties"] is False


# --- run_command_for ---------------------------------------------------------------------------


@pytest.fixture
def spec() -> AssignmentSpec:
    return AssignmentSpec.model_validate(BINARY)


def test_takehome_toml_command_wins(tmp_path: Path, spec: AssignmentSpec) -> None:
    (tmp_path / "predict.py").write_text("")
    (tmp_path / "takehome.toml").write_text('[run]\ncommand = "python -m model.predict --fast"\n')
    assert run_command_for(tmp_path, spec) == ["python", "-m", "model.predict", "--fast"]


def test_takehome_toml_quoted_arguments_are_split_like_a_shell(
    tmp_path: Path, spec: AssignmentSpec
) -> None:
    (tmp_path / "takehome.toml").write_text("[run]\ncommand = \"python 'my script.py'\"\n")
    assert run_command_for(tmp_path, spec) == ["python", "my script.py"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[run\ncommand = 1", "not valid TOML"),
        ("[build]\ncommand = 'x'\n", r"no \[run\] command"),
        ("[run]\ncommand = ['python', 'x.py']\n", "must be a non-empty string"),
        ("[run]\ncommand = '   '\n", "must be a non-empty string"),
        ("[run]\ncommand = '" + "x" * 1001 + "'\n", "at most 1000 chars"),
        ('[run]\ncommand = "python \'unclosed"\n', "cannot be split"),
    ],
)
def test_bad_takehome_toml_is_a_run_config_error(
    tmp_path: Path, spec: AssignmentSpec, content: str, message: str
) -> None:
    (tmp_path / "takehome.toml").write_text(content)
    with pytest.raises(RunConfigError, match=message):
        run_command_for(tmp_path, spec)


def test_defaults_python_predict_then_make_predict(tmp_path: Path, spec: AssignmentSpec) -> None:
    assert run_command_for(tmp_path, spec) is None
    (tmp_path / "Makefile").write_text("train:\n\tpython train.py\n")
    assert run_command_for(tmp_path, spec) is None  # no predict target
    (tmp_path / "Makefile").write_text("PY := python\npredict: train\n\t$(PY) predict.py\n")
    assert run_command_for(tmp_path, spec) == ["make", "predict"]
    (tmp_path / "predict.py").write_text("")
    assert run_command_for(tmp_path, spec) == ["python", "predict.py"]


def test_make_variable_assignment_is_not_a_target(tmp_path: Path, spec: AssignmentSpec) -> None:
    (tmp_path / "Makefile").write_text("predict := yes\n")
    assert run_command_for(tmp_path, spec) is None


def test_assignment_can_disable_defaults(tmp_path: Path) -> None:
    spec = AssignmentSpec.model_validate({**BINARY, "submission": {"default_commands": []}})
    (tmp_path / "predict.py").write_text("")
    assert run_command_for(tmp_path, spec) is None


def test_symlinked_predict_script_is_not_run(tmp_path: Path, spec: AssignmentSpec) -> None:
    (tmp_path / "elsewhere.py").write_text("")
    (tmp_path / "predict.py").symlink_to(tmp_path / "elsewhere.py")
    assert run_command_for(tmp_path, spec) is None
