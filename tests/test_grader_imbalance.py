"""The imbalance grader: the reviewers' ladder, checks on the real data path and red flags."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from fixtures_graders import (
    by_id,
    cell_locations,
    make_artifacts,
    make_assignment,
    make_context,
    make_notebook,
    write_files,
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
        "imbalance.pr_auc",
        "imbalance.threshold",
    ]
    assert cell_locations(checks["imbalance.stratified_split"]) == [(NB, 1, 1)]
    assert cell_locations(checks["imbalance.rebalancing"]) == [(NB, 2, 1)]
    assert cell_locations(checks["imbalance.metrics"]) == [(NB, 3, 2)]
    assert cell_locations(checks["imbalance.threshold"]) == [(NB, 3, 3)]
    assert result.red_flags == []
    assert result.details["minority_share"] == 0.05
    assert result.details["level"] == 4 and result.score == 1.0


def test_resampling_before_split_and_accuracy_only_are_red_flags(tmp_path: Path) -> None:
    make_notebook(tmp_path / "snap", BAD)
    result = _grade(tmp_path / "snap")
    assert [c.id for c in result.checks if c.passed] == []
    flags = by_id(result.red_flags)
    assert sorted(flags) == ["imbalance.accuracy_only", "imbalance.resample_before_split"]
    # test rows in the resampling: medium (the rubric caps the level at 2)
    assert flags["imbalance.resample_before_split"].severity == "medium"
    assert cell_locations(flags["imbalance.resample_before_split"]) == [(NB, 1, 1), (NB, 2, 1)]
    assert cell_locations(flags["imbalance.accuracy_only"]) == [(NB, 3, 1)]
    assert result.details["level"] == 1  # aware (resampling), but no sound handling


def test_smote_then_cross_validation_is_flagged(tmp_path: Path) -> None:
    cells = [
        ("code", "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)"),
        ("code", "X_res, y_res = SMOTE().fit_resample(X_train, y_train)"),
        ("code", "scores = cross_val_score(model, X_res, y_res, scoring='f1')"),
    ]
    make_notebook(tmp_path / "snap", cells)
    result = _grade(tmp_path / "snap")
    flag = by_id(result.red_flags)["imbalance.cv_on_resampled"]
    assert flag.severity == "medium"
    assert cell_locations(flag) == [(NB, 1, 1), (NB, 2, 1)]
    assert "imbalance.resample_before_split" not in by_id(result.red_flags)
    # resampled after the split, it still rebalances the training data (the rubric caps the
    # flagged flaw at level 2: RUBRIC level 3 asks for resampling done correctly)
    assert cell_locations(by_id(result.checks)["imbalance.rebalancing"]) == [(NB, 1, 1)]


def test_a_model_scored_only_with_log_loss_is_evaluated(tmp_path: Path) -> None:
    cells = [
        ("code", "X_train, X_val, y_train, y_val = train_test_split(X, y)"),
        ("code", "m = XGBClassifier().fit(X_train, y_train, sample_weight=10 ** y_train)"),
        ("code", "print(log_loss(y_val, m.predict_proba(X_val)))"),
    ]
    make_notebook(tmp_path / "scored", cells)
    result = _grade(tmp_path / "scored")
    assert result.details["level"] == 2  # one sound measure, evaluated
    make_notebook(tmp_path / "unscored", cells[:2])
    assert _grade(tmp_path / "unscored").details["level"] == 1  # handling never evaluated


def test_handling_in_a_file_written_for_python_3_12_is_read(tmp_path: Path) -> None:
    helper = (
        "from imblearn.over_sampling import SMOTE\n"
        "from sklearn.metrics import average_precision_score, recall_score\n"
        "from sklearn.model_selection import train_test_split\n"
        "def balance(X_train, y_train):\n"
        "    return SMOTE().fit_resample(X_train, y_train)\n"
        "def report(model, X_test, y_test, name):\n"
        "    proba = model.predict_proba(X_test)[:, 1]\n"
        "    print(f'{name.replace(' ', '_')}: {recall_score(y_test, proba > 0.5)}')\n"
        "    return average_precision_score(y_test, proba)\n"
        "def run(X, y, model):\n"
        "    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)\n"
        "    X_bal, y_bal = balance(X_train, y_train)\n"
        "    model.fit(X_bal, y_bal)\n"
        "    return report(model, X_test, y_test, 'gradient boosting')\n"
    )
    write_files(tmp_path, {"src/modeling.py": helper})
    checks = by_id(_grade(tmp_path).checks)
    assert checks["imbalance.rebalancing"].passed
    assert [e.line for e in checks["imbalance.metrics"].evidence] == [8, 9]


def test_unused_roc_thresholds_are_not_a_chosen_threshold(tmp_path: Path) -> None:
    unused = [
        ("code", "proba = model.predict_proba(X_val)[:, 1]"),
        ("code", "fpr, tpr, thresholds = roc_curve(y_val, proba)\nplt.plot(fpr, tpr)"),
    ]
    make_notebook(tmp_path / "a", unused)
    assert not by_id(_grade(tmp_path / "a").checks)["imbalance.threshold"].passed
    used = unused + [
        ("code", "best = thresholds[np.argmax(tpr - fpr)]\npred = (proba >= best).astype(int)"),
    ]
    make_notebook(tmp_path / "b", used)
    check = by_id(_grade(tmp_path / "b").checks)["imbalance.threshold"]
    assert check.passed and cell_locations(check) == [(NB, 2, 2)]


def test_risk_bands_and_parameters_left_at_one_half_are_not_thresholds(tmp_path: Path) -> None:
    cells = [
        (
            "code",
            (
                "def evaluate(model, X, y, threshold=0.5):\n"
                "    proba = model.predict_proba(X)[:, 1]\n"
                "    return f1_score(y, (proba >= threshold).astype(int))\n"
                "p = model.predict_proba(X)[:, 1]\n"
                "high_risk = (p > 0.7).sum()"
            ),
        )
    ]
    make_notebook(tmp_path / "snap", cells)
    assert not by_id(_grade(tmp_path / "snap").checks)["imbalance.threshold"].passed


def test_stratifying_only_a_later_split_is_not_the_top_level(tmp_path: Path) -> None:
    cells = [
        ("code", "X_tmp, X_test, y_tmp, y_test = train_test_split(X, y)"),
        ("code", "X_train, X_val, y_train, y_val = train_test_split(X_tmp, y_tmp, stratify=y_tmp)"),
        ("code", "m = LogisticRegression(class_weight='balanced').fit(X_train, y_train)"),
        ("code", "print(average_precision_score(y_val, m.predict_proba(X_val)[:, 1]))"),
    ]
    make_notebook(tmp_path / "snap", cells)
    result = _grade(tmp_path / "snap")
    check = by_id(result.checks)["imbalance.stratified_split"]
    assert check.passed and "does not start from the first split" in check.sentence
    assert result.details["stratified_from_first_split"] is False
    assert result.details["level"] == 3
    cells[0] = ("code", "X_tmp, X_test, y_tmp, y_test = train_test_split(X, y, stratify=y)")
    make_notebook(tmp_path / "full", cells)
    assert _grade(tmp_path / "full").details["level"] == 4


def test_roc_auc_alone_is_aware_but_not_minority_aware(tmp_path: Path) -> None:
    cells = [
        ("code", "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)"),
        ("code", "print(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))"),
    ]
    make_notebook(tmp_path / "snap", cells)
    result = _grade(tmp_path / "snap")
    checks = by_id(result.checks)
    assert not checks["imbalance.metrics"].passed and not checks["imbalance.pr_auc"].passed
    assert "ROC-AUC alone" in checks["imbalance.metrics"].sentence
    assert result.details["level"] == 1


def test_class_weights_count_when_passed_to_a_model_or_a_search_grid(tmp_path: Path) -> None:
    cells = [
        ("code", "grid = {'model__class_weight': ['balanced', None], 'model__C': [0.1, 1]}"),
        ("code", "search = GridSearchCV(pipe, grid, scoring='f1').fit(X_train, y_train)"),
        ("code", "print(classification_report(y_test, search.predict(X_test)))"),
    ]
    make_notebook(tmp_path / "snap", cells)
    result = _grade(tmp_path / "snap")
    check = by_id(result.checks)["imbalance.rebalancing"]
    assert check.passed and cell_locations(check) == [(NB, 0, 1)]
    assert result.details["level"] == 3  # weights, per-class report, selection on F1


def test_code_run_only_on_a_toy_frame_or_in_tests_earns_nothing(tmp_path: Path) -> None:
    demo = (
        "import pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "if __name__ == '__main__':\n"
        "    df = pd.DataFrame({'a': [1, 2, 3, 4], 'y': [0, 1, 0, 1]})\n"
        "    parts = train_test_split(df[['a']], df['y'], stratify=df['y'])\n"
        "    m = LogisticRegression(class_weight='balanced')\n"
        "    print(f1_score(df['y'], m.predict(df[['a']])))\n"
    )
    write_files(tmp_path / "snap", {"demo.py": demo, "tests/test_model.py": demo})
    result = _grade(tmp_path / "snap")
    assert [c.id for c in result.checks if c.passed] == []
    assert result.details["level"] == 0


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


def test_regression_is_judged_on_the_target_skew_not_left_out(tmp_path: Path) -> None:
    regression = make_assignment(tmp_path / "reg", task_type="regression")
    plain = [
        ("code", "y.hist()\nm = Ridge().fit(X_train, y_train)"),
        ("code", "print(mean_absolute_error(y_test, m.predict(X_test)))"),
    ]
    make_notebook(tmp_path / "a", plain)
    result = _grade(tmp_path / "a", assignment=regression)
    assert not result.not_applicable
    assert result.details == {"mode": "regression", "level": 2, "skew_noted": False,
                              "task_type": "regression"}  # fmt: skip
    noted = [("markdown", "The target is right-skewed."), *plain]
    make_notebook(tmp_path / "b", noted)
    assert _grade(tmp_path / "b", assignment=regression).details["level"] == 1
    transform = "m2 = Ridge().fit(X_train, np.log1p(y_train))\npred = np.expm1(m2.predict(X_test))"
    handled = [*noted, ("code", transform)]
    make_notebook(tmp_path / "c", handled)
    result = _grade(tmp_path / "c", assignment=regression)
    assert result.details["level"] == 4
    assert cell_locations(by_id(result.checks)["imbalance.skew_handling"]) == [(NB, 3, 1)]


def test_near_balanced_classes_need_no_rebalancing(tmp_path: Path) -> None:
    cells = [
        ("code", "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)"),
        ("code", "print(classification_report(y_test, model.predict(X_test)))"),
    ]
    make_notebook(tmp_path / "snap", cells)
    balanced = make_assignment(tmp_path / "bal", positives=40)
    result = _grade(tmp_path / "snap", assignment=balanced)
    assert result.details["balance"] == "near_balanced" and result.details["level"] == 2
    imbalanced = _grade(tmp_path / "snap")
    assert imbalanced.details["balance"] == "imbalanced" and imbalanced.details["level"] == 1


def test_near_balanced_classes_need_a_stratification_someone_asked_for(tmp_path: Path) -> None:
    cells = [
        ("code", "from sklearn.ensemble import RandomForestClassifier"),
        ("code", "pred = cross_val_predict(RandomForestClassifier(), X, y, cv=5)"),
        ("code", "print(f1_score(y, pred))"),
    ]
    make_notebook(tmp_path / "snap", cells)
    balanced = make_assignment(tmp_path / "bal", positives=40)
    result = _grade(tmp_path / "snap", assignment=balanced)
    # the folds are stratified only by scikit-learn's default: awareness, not handling
    assert by_id(result.checks)["imbalance.stratified_split"].passed
    assert result.details["level"] == 1 and "default" in result.reason
    asked = [*cells, ("code", "folds = StratifiedKFold(5)\ncross_val_score(m, X, y, cv=folds)")]
    make_notebook(tmp_path / "asked", asked)
    assert _grade(tmp_path / "asked", assignment=balanced).details["level"] == 2


def _screen(stated: float | None = None) -> SimpleNamespace:
    """A screen-mode assignment: nothing known about the task."""
    spec = SimpleNamespace(target=None, task_type=None, positive_class=None, classes=None)
    return SimpleNamespace(spec=spec, train_csv=None, stated_minority_share=stated)


def test_screen_mode_judges_the_classification_code_present(tmp_path: Path) -> None:
    make_notebook(tmp_path / "snap", GOOD)
    result = _grade(tmp_path / "snap", assignment=_screen())
    assert not result.not_applicable
    assert result.details["balance"] == "unknown" and result.details["level"] == 4
    assert "task_type" not in result.details and "class_shares" not in result.details
    stated = _grade(tmp_path / "snap", assignment=_screen(stated=0.6))
    assert stated.details["minority_share"] == 0.4 and stated.details["share_source"] == "stated"


def test_screen_mode_without_any_model_is_level_zero(tmp_path: Path) -> None:
    make_notebook(tmp_path / "snap", [("code", "df = pd.read_csv('data.csv')\ndf.describe()")])
    result = _grade(tmp_path / "snap", assignment=_screen())
    assert not result.not_applicable and result.score == 0.0
    assert result.details["mode"] == "no_classes"


def test_unreadable_train_csv_leaves_the_balance_unknown(tmp_path: Path) -> None:
    make_notebook(tmp_path / "snap", GOOD)
    assignment = make_assignment(tmp_path / "a")
    assignment.train_csv.write_text("is_fraud\n1,2,3\n")
    result = _grade(tmp_path / "snap", assignment=assignment)
    assert not result.not_applicable and result.details["balance"] == "unknown"


def test_an_inferred_regression_that_also_classifies_is_judged_as_classification(
    tmp_path: Path,
) -> None:
    make_notebook(tmp_path / "snap", GOOD)
    inferred = _screen()
    inferred.spec.task_type = "regression"
    inferred.screening = True
    assert _grade(tmp_path / "snap", assignment=inferred).details["mode"] == "classification"
    inferred.screening = False  # a bundled assignment's task type is authoritative
    assert _grade(tmp_path / "snap", assignment=inferred).details["mode"] == "regression"


def test_hand_rolled_class_sampling_before_the_split_is_flagged(tmp_path: Path) -> None:
    helper = (
        "def downsample(frame):\n"
        "    pos = frame[frame['is_fraud'] == 1]\n"
        "    neg = frame[frame['is_fraud'] == 0].sample(frac=0.1, random_state=0)\n"
        "    return pd.concat([pos, neg])"
    )
    cells = [
        ("code", helper),
        ("code", "small = downsample(df)"),
        ("code", "X_train, X_test, y_train, y_test = train_test_split(small, small.is_fraud)"),
        ("code", "inline = pd.concat([df[df.y == 1], df[df.y == 0].sample(n=500)])"),
        ("code", "parts = train_test_split(inline, inline.y)"),
    ]
    make_notebook(tmp_path / "snap", cells)
    flag = by_id(_grade(tmp_path / "snap").red_flags)["imbalance.resample_before_split"]
    assert cell_locations(flag) == [(NB, 1, 1), (NB, 2, 1), (NB, 3, 1), (NB, 4, 1)]
    shuffled = [("code", "df = df.sample(frac=1)\nparts = train_test_split(df, df.y)")]
    make_notebook(tmp_path / "shuffle", shuffled)
    assert _grade(tmp_path / "shuffle").red_flags == []


def test_metrics_passed_by_reference_or_through_a_scoring_variable_count(tmp_path: Path) -> None:
    cells = [
        ("code", "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)"),
        ("code", ("m = LogisticRegression(class_weight='balanced').fit(X_train, y_train)\n"
                 "print(accuracy_score(y_test, m.predict(X_test)))")),
        ("code", ("scorers = {'f1': make_scorer(f1_score), 'ap': 'average_precision'}\n"
                 "res = cross_validate(m, X, y, scoring=scorers)")),
    ]  # fmt: skip
    make_notebook(tmp_path / "snap", cells)
    result = _grade(tmp_path / "snap")
    checks = by_id(result.checks)
    assert checks["imbalance.metrics"].passed and checks["imbalance.pr_auc"].passed
    assert "imbalance.accuracy_only" not in by_id(result.red_flags)
    listed = [("code", "m.fit(X, y)\nprint(accuracy_score(y, m.predict(X)))"),
              ("code", "cross_validate(m, X, y, scoring=['accuracy', 'neg_log_loss'])")]  # fmt: skip
    make_notebook(tmp_path / "other", listed)
    assert "imbalance.accuracy_only" not in by_id(_grade(tmp_path / "other").red_flags)


def test_micro_averaged_f1_is_not_minority_aware(tmp_path: Path) -> None:
    cells = [("code", ("print(f1_score(y_test, m.predict(X_test), average='micro'))\n"
                      "print(accuracy_score(y_test, m.predict(X_test)))")),
             ("code", "cross_val_score(m, X, y, scoring='f1_micro')")]  # fmt: skip
    make_notebook(tmp_path / "snap", cells)
    result = _grade(tmp_path / "snap")
    assert not by_id(result.checks)["imbalance.metrics"].passed
    assert "imbalance.accuracy_only" in by_id(result.red_flags)
    macro = [("code", "print(f1_score(y_test, m.predict(X_test), average='macro'))")]
    make_notebook(tmp_path / "macro", macro)
    assert by_id(_grade(tmp_path / "macro").checks)["imbalance.metrics"].passed


def test_cross_validating_a_classifier_with_an_int_cv_is_stratified(tmp_path: Path) -> None:
    cells = [("code", ("clf = RandomForestClassifier()\n"
                      "print(cross_val_score(clf, X, y, cv=5, scoring='recall'))"))]  # fmt: skip
    make_notebook(tmp_path / "snap", cells)
    result = _grade(tmp_path / "snap")
    assert cell_locations(by_id(result.checks)["imbalance.stratified_split"]) == [(NB, 0, 2)]
    assert result.details["stratified_from_first_split"] is False
    kfold = [("code", ("clf = RandomForestClassifier()\nkf = KFold(5)\n"
                      "print(cross_val_score(clf, X, y, cv=kf, scoring='recall'))"))]  # fmt: skip
    make_notebook(tmp_path / "kfold", kfold)
    assert not by_id(_grade(tmp_path / "kfold").checks)["imbalance.stratified_split"].passed


def test_a_stratified_splitter_that_only_drives_target_encoding_does_not_count(
    tmp_path: Path,
) -> None:
    encoding = (
        "skf = StratifiedKFold(5)\n"
        "for tr, va in skf.split(df, df.y):\n"
        "    means = df.iloc[tr].groupby('city').y.mean()\n"
        "    df.loc[df.index[va], 'city_te'] = df.iloc[va].city.map(means)"
    )
    validation = (
        "kf = KFold(5)\n"
        "for tr, va in kf.split(X):\n"
        "    m = LGBMClassifier().fit(X[tr], y[tr])\n"
        "    print(f1_score(y[va], m.predict(X[va])))"
    )
    make_notebook(tmp_path / "snap", [("code", encoding), ("code", validation)])
    assert not by_id(_grade(tmp_path / "snap").checks)["imbalance.stratified_split"].passed
    stratified = validation.replace("KFold(5)", "StratifiedKFold(5)").replace("kf.split(X)",
                                                                              "kf.split(X, y)")
    make_notebook(tmp_path / "strat", [("code", encoding), ("code", stratified)])
    check = by_id(_grade(tmp_path / "strat").checks)["imbalance.stratified_split"]
    assert cell_locations(check) == [(NB, 1, 1)]


def test_an_inferred_regression_with_binned_stratification_stays_regression(
    tmp_path: Path,
) -> None:
    cells = [
        ("code", ("X_train, X_test, y_train, y_test = train_test_split(X, y, "
                 "stratify=pd.qcut(y, 10))")),
        ("code", ("m = GradientBoostingRegressor().fit(X_train, np.log1p(y_train))\n"
                 "pred = np.expm1(m.predict(X_test))\n"
                 "print(mean_absolute_percentage_error(y_test, pred))")),
    ]  # fmt: skip
    make_notebook(tmp_path / "snap", cells)
    inferred = _screen()
    inferred.spec.task_type = "regression"
    inferred.screening = True
    result = _grade(tmp_path / "snap", assignment=inferred)
    assert result.details["mode"] == "regression" and result.details["level"] == 1  # unexamined
    handled = cell_locations(by_id(result.checks)["imbalance.skew_handling"])
    assert (NB, 1, 3) in handled and (NB, 0, 1) in handled
    make_notebook(tmp_path / "seen", [("code", "y.hist()"), *cells])
    assert _grade(tmp_path / "seen", assignment=inferred).details["level"] == 4


def test_the_authors_own_classifier_class_does_not_make_a_regression_a_classification(
    tmp_path: Path,
) -> None:
    cells = [
        ("code", "class PriceClassifier:\n    pass"),
        ("code", ("model = PriceClassifier()\n"
                  "booster = xgb.train({'objective': 'reg:squarederror'}, dtrain)\n"
                  "print(mean_squared_error(y_test, booster.predict(dtest)))")),
    ]
    make_notebook(tmp_path / "snap", cells)
    result = _grade(tmp_path / "snap", assignment=_screen())
    assert result.details["mode"] == "regression" and result.details["level"] == 1


def test_booster_params_dict_weighting_and_regression_cv_scoring(tmp_path: Path) -> None:
    cells = [
        ("code", ("params = {'objective': 'binary', 'is_unbalance': True}\n"
                 "booster = lgb.train(params, dtrain)")),
        ("code", "print(cross_val_score(pipe, X, y, cv=5, scoring='neg_mean_squared_error'))"),
    ]  # fmt: skip
    make_notebook(tmp_path / "snap", cells)
    checks = by_id(_grade(tmp_path / "snap").checks)
    assert cell_locations(checks["imbalance.rebalancing"]) == [(NB, 0, 1)]
    assert not checks["imbalance.stratified_split"].passed  # a regression CV is not stratified


def test_requoting_python_3_12_f_strings_leaves_valid_code_alone() -> None:
    from graders.source_repair import requote_fstrings

    valid = "a = f\"{d['k']} {{x}} {v!r:>{w}}\" + 'it''s'  # f'{b'}\nc = '''f'{x'}'''\n"
    assert requote_fstrings(valid) == valid
    assert requote_fstrings("f'{x.replace(' ', '_')}'") == "f'{x.replace(\" \", \"_\")}'"


def test_default_stratified_folds_are_not_the_stratification_of_level_3(tmp_path: Path) -> None:
    cells = [
        ("code", "X_train, X_test, y_train, y_test = train_test_split(X, y)"),
        ("code", "X_res, y_res = RandomOverSampler().fit_resample(X_train, y_train)"),
        ("code", ("pred = cross_val_predict(RandomForestClassifier(), X_res, y_res, cv=5)\n"
                 "print(classification_report(y_test, model.predict(X_test)))")),
    ]  # fmt: skip
    make_notebook(tmp_path / "default", cells)
    assert _grade(tmp_path / "default").details["level"] == 2
    cells[0] = ("code", "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)")
    make_notebook(tmp_path / "asked", cells)
    assert _grade(tmp_path / "asked").details["level"] == 3


SEARCHED = [
    ("code", ("from sklearn.ensemble import RandomForestClassifier\n"
              "from sklearn.model_selection import GridSearchCV, train_test_split\n"
              "from sklearn.metrics import classification_report\n"
              "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)")),
    ("code", "grid = GridSearchCV(RandomForestClassifier(class_weight='balanced'), params{scoring})"),
    ("code", "grid.fit(X_train, y_train)\nprint(classification_report(y_test, grid.predict(X_test)))"),
]


def _searched(root: Path, scoring: str) -> Path:
    cells = [(kind, text.replace("{scoring}", scoring)) for kind, text in SEARCHED]
    make_notebook(root, cells)
    return root


@pytest.mark.parametrize("scoring", ["", ", scoring='accuracy'", ", cv=5, refit='accuracy'"])
def test_a_search_that_picks_by_accuracy_is_a_flaw(tmp_path: Path, scoring: str) -> None:
    result = _grade(_searched(tmp_path / "snap", scoring))
    flag = by_id(result.red_flags)["imbalance.accuracy_selection"]
    assert flag.severity == "medium"
    assert cell_locations(flag) == [(NB, 1, 1)]
    assert result.details["level"] == 3  # the ladder is unchanged; the rubric caps it at 2


@pytest.mark.parametrize("scoring", [", scoring='f1'", ", scoring='roc_auc'",
                                     ", scoring=make_scorer(fbeta_score, beta=2)",
                                     ", scoring=['accuracy', 'recall'], refit='recall'"])
def test_a_search_scored_on_another_metric_is_not_flagged(tmp_path: Path, scoring: str) -> None:
    result = _grade(_searched(tmp_path / "snap", scoring))
    assert "imbalance.accuracy_selection" not in by_id(result.red_flags)


def test_accuracy_selection_is_not_raised_for_a_near_balanced_target_or_a_regressor(
    tmp_path: Path,
) -> None:
    _searched(tmp_path / "snap", "")
    balanced = make_assignment(tmp_path / "bal", positives=40)
    assert "imbalance.accuracy_selection" not in by_id(
        _grade(tmp_path / "snap", assignment=balanced).red_flags)
    imbalanced = make_assignment(tmp_path / "imb", positives=5)
    assert "imbalance.accuracy_selection" in by_id(
        _grade(tmp_path / "snap", assignment=imbalanced).red_flags)
    cells = [("code", ("from sklearn.ensemble import RandomForestRegressor\n"
                       "from sklearn.model_selection import GridSearchCV\n"
                       "grid = GridSearchCV(RandomForestRegressor(), params)\n"
                       "grid.fit(X, y)\nprint(f1_score(y, grid.predict(X) > 3))"))]
    make_notebook(tmp_path / "reg", cells)
    assert "imbalance.accuracy_selection" not in by_id(_grade(tmp_path / "reg").red_flags)


def test_the_rubric_caps_accuracy_selection_at_level_2() -> None:
    from harness.rubric import load_rubric

    rubric = load_rubric(Path(__file__).resolve().parent.parent / "rubrics" / "ml-take-home.yaml")
    criterion = next(c for c in rubric.criteria if c.id == "imbalance")
    caps = [c for c in criterion.caps if c.when == "imbalance.accuracy_selection"]
    assert [c.max_level for c in caps] == [2]
