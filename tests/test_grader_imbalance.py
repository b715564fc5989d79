"""The imbalance grader: applicability, checks and red flags on crafted notebooks."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_graders import (
    by_id,
    cell_locations,
    make_artifacts,
    make_assignment,
    make_context,
    make_notebook,
)

from graders.imbalance import ImbalanceGrader

NB = "analysis.ipynb"
GOOD = [
    (
        "code",
        (
            "from imblearn.over_sampling import SMOTE\n"
            "from imblearn.pipeline import Pipeline\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.metrics import average_precision_score, precision_recall_curve\n"
            "from sklearn.model_selection import train_test_split"
        ),
    ),
    ("code", "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)"),
    ("code", "pipe = Pipeline([('smote', SMOTE()), ('model', LogisticRegression())])"),
    (
        "code",
        (
            "proba = pipe.predict_proba(X_test)[:, 1]\n"
            "print(average_precision_score(y_test, proba))\n"
            "labels = (proba >= 0.2).astype(int)"
        ),
    ),
]
BAD = [
    (
        "code",
        (
            "from imblearn.over_sampling import SMOTE\n"
            "from sklearn.metrics import accuracy_score\n"
            "from sklearn.model_selection import train_test_split"
        ),
    ),
    ("code", "X_res, y_res = SMOTE().fit_resample(X, y)"),
    ("code", "X_train, X_test, y_train, y_test = train_test_split(X_res, y_res)"),
    ("code", "print(accuracy_score(y_test, model.predict(X_test)))"),
]


def _grade(root: Path, assignment=None, artifacts=None):
    return ImbalanceGrader().grade(make_context(root, assignment=assignment, artifacts=artifacts))


def test_good_practice_passes_every_check(tmp_path: Path) -> None:
    make_notebook(tmp_path / "snap", GOOD)
    result = _grade(tmp_path / "snap")
    checks = by_id(result.checks)
    assert [c.id for c in result.checks if c.passed] == [
        "imbalance.stratified_split",
        "imbalance.rebalancing",
        "imbalance.metrics",
        "imbalance.threshold",
    ]
    assert cell_locations(checks["imbalance.stratified_split"]) == [(NB, 1, 1)]
    assert cell_locations(checks["imbalance.rebalancing"]) == [(NB, 2, 1)]
    assert cell_locations(checks["imbalance.metrics"]) == [(NB, 3, 2)]
    assert cell_locations(checks["imbalance.threshold"]) == [(NB, 3, 3)]
    assert result.red_flags == []
    assert result.details["minority_share"] == 0.05


def test_resampling_before_split_and_accuracy_only_are_red_flags(tmp_path: Path) -> None:
    make_notebook(tmp_path / "snap", BAD)
    result = _grade(tmp_path / "snap")
    assert [c.id for c in result.checks if c.passed] == []
    flags = by_id(result.red_flags)
    assert sorted(flags) == ["imbalance.accuracy_only", "imbalance.resample_before_split"]
    assert flags["imbalance.resample_before_split"].severity == "high"
    assert cell_locations(flags["imbalance.resample_before_split"]) == [(NB, 1, 1)]
    assert cell_locations(flags["imbalance.accuracy_only"]) == [(NB, 3, 1)]


def test_resampling_after_the_split_counts_as_rebalancing(tmp_path: Path) -> None:
    cells = [
        ("code", "X_train, X_test, y_train, y_test = train_test_split(X, y)"),
        ("code", "X_res, y_res = SMOTE().fit_resample(X_train, y_train)\nm.fit(X_res, y_res)"),
    ]
    make_notebook(tmp_path / "snap", cells)
    result = _grade(tmp_path / "snap")
    assert cell_locations(by_id(result.checks)["imbalance.rebalancing"]) == [(NB, 1, 1)]
    assert result.red_flags == []


def test_class_weight_none_and_default_threshold_do_not_count(tmp_path: Path) -> None:
    cells = [
        ("code", "m = LogisticRegression(class_weight=None)\nsplit(X, y, stratify=None)"),
        ("code", "pred = (m.predict_proba(X)[:, 1] > 0.5).astype(int)"),
    ]
    make_notebook(tmp_path / "snap", cells)
    passed = [c.id for c in _grade(tmp_path / "snap").checks if c.passed]
    assert passed == []


@pytest.mark.parametrize(
    ("predictions", "flagged"),
    [("transaction_id,label\n1,0\n2,0\n", True), ("transaction_id,label\n1,0\n2,1.0\n", False)],
)
def test_never_predicting_the_positive_class(
    tmp_path: Path, predictions: str, flagged: bool
) -> None:
    make_notebook(tmp_path / "snap", GOOD)
    artifacts = make_artifacts(tmp_path / "artifacts", predictions=predictions)
    flags = by_id(_grade(tmp_path / "snap", artifacts=artifacts).red_flags)
    assert ("imbalance.never_predicts_positive" in flags) is flagged
    if flagged:
        (evidence,) = flags["imbalance.never_predicts_positive"].evidence
        assert evidence.path == "artifact:predictions.csv"
        assert evidence.metric == {"rows": 2, "positive_predictions": 0}


def test_not_applicable_for_regression_and_balanced_classes(tmp_path: Path) -> None:
    make_notebook(tmp_path / "snap", GOOD)
    regression = make_assignment(tmp_path / "reg", task_type="regression")
    result = _grade(tmp_path / "snap", assignment=regression)
    assert result.not_applicable and result.score is None
    assert result.reason == "Not a classification task (task_type 'regression')."
    balanced = make_assignment(tmp_path / "bal", positives=40)
    result = _grade(tmp_path / "snap", assignment=balanced)
    assert result.not_applicable
    assert result.reason.startswith("Classes are balanced enough: the minority class is 40.0%")


def test_not_applicable_when_train_csv_is_unreadable(tmp_path: Path) -> None:
    make_notebook(tmp_path / "snap", GOOD)
    assignment = make_assignment(tmp_path / "a")
    assignment.train_csv.write_text("is_fraud\n1,2,3\n")
    result = _grade(tmp_path / "snap", assignment=assignment)
    assert result.not_applicable
    assert result.reason.startswith("Cannot compute the class balance")
