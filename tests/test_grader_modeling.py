"""The modeling grader: trained models, held-out scores, baseline, selection kept off the test
set, real tuning, recorded comparison, error analysis, iteration, unexplained jumps."""

from __future__ import annotations

from pathlib import Path

from fixtures_graders import by_id, cell_locations, make_context, make_notebook, text_output

from graders.modeling import ModelingGrader

NB = "analysis.ipynb"
IMPORTS = (
    "import numpy as np\n"
    "import shap\n"
    "from sklearn.dummy import DummyClassifier\n"
    "from sklearn.ensemble import RandomForestClassifier\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split"
)
RICH = [
    (
        "code",
        IMPORTS + "\nnp.random.seed(0)\nX_train, X_test, y_train, y_test = train_test_split(X, y)",
    ),
    (
        "code",
        (
            "models = {'baseline': DummyClassifier(),\n"
            "          'logreg': LogisticRegression(max_iter=1000),\n"
            "          'forest': RandomForestClassifier(random_state=0)}\n"
            "results = {}\n"
            "for name, model in models.items():\n"
            "    results[name] = cross_val_score(model, X_train, y_train, cv=5).mean()\n"
            "best = max(results, key=results.get)"
        ),
    ),
    (
        "markdown",
        (
            "| model | auc |\n|---|---|\n| logistic | 0.71 |\n| forest | 0.80 |\n\n"
            "I chose the random forest because it beats logistic regression in CV."
        ),
    ),
    (
        "code",
        (
            "search = GridSearchCV(RandomForestClassifier(), {'max_depth': [3, 5]}, cv=5)\n"
            "search.fit(X_train, y_train)\n"
            "final = search.best_estimator_\n"
            "explainer = shap.TreeExplainer(final)\n"
            "for cost_fn in [1, 10]:\n"
            "    threshold = pick_threshold(final, X_train, y_train, cost_fn)"
        ),
    ),
]


def _grade(root: Path):
    return ModelingGrader().grade(make_context(root))


def test_baseline_cv_table_tuning_and_analysis_pass_every_check(tmp_path: Path) -> None:
    make_notebook(tmp_path, RICH)
    result = _grade(tmp_path)
    checks = by_id(result.checks)
    assert [c.id for c in result.checks if not c.passed] == []
    assert cell_locations(checks["modeling.baseline"]) == [(NB, 1, 1)]
    assert cell_locations(checks["modeling.hyperparameter_search"]) == [(NB, 3, 1)]
    assert (NB, 1, 6) in cell_locations(checks["modeling.validation_scheme"])
    assert result.details["families"] == ["bagging", "linear"]
    assert result.red_flags == []


def test_selection_on_the_test_set_fails_the_validation_scheme(tmp_path: Path) -> None:
    cells = [
        ("code", IMPORTS),
        (
            "code",
            (
                "X_train, X_test, y_train, y_test = train_test_split(X, y)\n"
                "scores = {}\n"
                "for name, m in {'lr': LogisticRegression(), 'rf': RandomForestClassifier()}.items():\n"
                "    m.fit(X_train, y_train)\n"
                "    scores[name] = roc_auc_score(y_test, m.predict_proba(X_test)[:, 1])\n"
                "best_name = max(scores, key=scores.get)"
            ),
        ),
    ]
    make_notebook(tmp_path, cells)
    checks = by_id(_grade(tmp_path).checks)
    scheme = checks["modeling.validation_scheme"]
    assert not scheme.passed
    assert "test set" in scheme.sentence
    assert cell_locations(scheme) == [(NB, 1, 6)]
    assert checks["modeling.model_families"].passed  # two approaches, compared ad hoc


def test_selection_on_cv_scores_passes_even_when_test_is_reported(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "results = []\n"
        "for model in [LogisticRegression(), RandomForestClassifier()]:\n"
        "    cv = cross_val_score(model, X_train, y_train).mean()\n"
        "    model.fit(X_train, y_train)\n"
        "    results.append({'cv_auc': cv, 'test_auc': roc_auc_score(y_test, model.predict(X_test))})\n"
        "best = max(results, key=lambda r: r['cv_auc'])\n"
    )
    assert by_id(_grade(tmp_path).checks)["modeling.validation_scheme"].passed


def test_single_value_grid_is_not_tuning(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "from sklearn.model_selection import GridSearchCV\n"
        "grid = {'n_estimators': [100], 'max_depth': [10 if fast else 20]}\n"
        "search = GridSearchCV(RandomForestClassifier(), grid, cv=3)\n"
        "search.fit(X_train, y_train)\n"
        "model = search.best_estimator_\n"
    )
    check = by_id(_grade(tmp_path).checks)["modeling.hyperparameter_search"]
    assert not check.passed
    assert "single value" in check.sentence
    assert cell_locations(check) == [("train.py", None, 3)]


def test_search_whose_result_is_only_printed_is_not_tuning(tmp_path: Path) -> None:
    cells = [
        (
            "code",
            (
                "rs = RandomizedSearchCV(RandomForestClassifier(), {'max_depth': [3, 5, 8]})\n"
                "rs.fit(X_train, y_train)"
            ),
        ),
        ("code", "rs.best_params_"),
        (
            "code",
            "print(rs.best_params_)\nrf = RandomForestClassifier(max_depth=4).fit(X_train, y_train)",
        ),
    ]
    make_notebook(tmp_path, cells)
    check = by_id(_grade(tmp_path).checks)["modeling.hyperparameter_search"]
    assert not check.passed
    assert "never used" in check.sentence


def test_baseline_that_is_only_a_name_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "BASELINE = 'logreg'\n"
        "baseline = None\n"
        "model = RandomForestClassifier().fit(X_train, y_train)\n"
        "print(f1_score(y_val, model.predict(X_val)))\n"
    )
    assert not by_id(_grade(tmp_path).checks)["modeling.baseline"].passed


def test_baseline_score_computed_from_the_data_counts(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "model = RandomForestClassifier().fit(X_train, y_train)\n"
        "baseline_acc = (y_val == y_train.mode()[0]).mean()\n"
        "print(baseline_acc, accuracy_score(y_val, model.predict(X_val)))\n"
    )
    check = by_id(_grade(tmp_path).checks)["modeling.baseline"]
    assert check.passed
    assert cell_locations(check) == [("train.py", None, 2)]


def test_models_never_trained_do_not_count(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "def build_xgb():\n"
        "    return XGBClassifier()\n"
        "\n"
        "def train(X, y):\n"
        "    candidates = [('lr', LogisticRegression()), ('rf', RandomForestClassifier())]\n"
        "    for name, model in candidates:\n"
        "        model.fit(X, y)\n"
        "        return name, model\n"
        "\n"
        "train(X_train, y_train)\n"
        "svc = SVC()\n"
    )
    result = _grade(tmp_path)
    checks = by_id(result.checks)
    assert result.details["estimators"] == ["LogisticRegression"]
    assert result.details["built_but_never_trained"] == [
        "RandomForestClassifier",
        "SVC",
        "XGBClassifier",
    ]
    assert not checks["modeling.model_families"].passed


def test_hard_coded_results_are_not_a_recorded_comparison(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "lr = LogisticRegression().fit(X_train, y_train)\n"
        "rf = RandomForestClassifier().fit(X_train, y_train)\n"
        "results = {}\n"
        "results['lr'] = 0.81\n"
        "results['rf'] = 0.87\n"
    )
    assert not by_id(_grade(tmp_path).checks)["modeling.comparison"].passed


def test_regression_script_with_residuals_is_graded(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "from sklearn.dummy import DummyRegressor\n"
        "for model in [DummyRegressor(), Ridge(), GradientBoostingRegressor()]:\n"
        "    scores = cross_val_score(model, X_train, y_train, scoring='r2')\n"
        "    model.fit(X_train, y_train)\n"
        "    y_pred = model.predict(X_val)\n"
        "    residuals = y_val - y_pred\n"
    )
    result = _grade(tmp_path)
    checks = by_id(result.checks)
    assert checks["modeling.baseline"].passed
    assert checks["modeling.error_analysis"].passed
    assert checks["modeling.validation_scheme"].passed
    assert result.details["estimators"] == ["GradientBoostingRegressor", "Ridge"]


def test_single_model_without_practice_fails_everything(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("code", "model = RandomForestClassifier(random_state=None)")])
    result = _grade(tmp_path)
    assert [c.id for c in result.checks if c.passed] == []
    assert result.score == 0.0


def test_unexplained_switch_of_model_family_is_flagged(tmp_path: Path) -> None:
    cells = [
        ("code", "lr = LogisticRegression().fit(X, y)"),
        ("code", "print(lr.score(X_val, y_val))"),
        ("code", "rf = RandomForestClassifier().fit(X, y)"),
        ("markdown", "Boosting usually does better on tabular data like this, so I try it."),
        ("code", "gb = GradientBoostingClassifier().fit(X, y)"),
        ("code", "# SVMs can separate the classes with a margin, let us check that\nsvc = SVC()"),
    ]
    make_notebook(tmp_path, cells)
    result = _grade(tmp_path)
    (flag,) = result.red_flags
    assert (flag.id, flag.severity) == ("modeling.unexplained_jump", "medium")
    assert cell_locations(flag) == [(NB, 2, 1)]


def test_printed_comparison_counts_with_its_reproduced_flag(tmp_path: Path) -> None:
    cells = [
        (
            "code",
            (
                "lr = LogisticRegression().fit(X, y)\nrf = RandomForestClassifier().fit(X, y)\n"
                "print(table)"
            ),
        )
    ]
    table = "model                 f1\nlogistic regression 0.61\nrandom forest       0.72"
    make_notebook(tmp_path, cells, outputs={0: [text_output(table)]})
    check = by_id(_grade(tmp_path).checks)["modeling.comparison"]
    assert check.passed
    assert [(e.path, e.cell, e.reproduced) for e in check.evidence] == [(NB, 0, False)]


def test_script_that_does_not_parse_is_repaired_line_by_line(tmp_path: Path) -> None:
    (tmp_path / "export.py").write_text(
        "from xgboost import XGBClassifier\n"
        "pip freeze > requirements.txt\n"
        "a = XGBClassifier(seed=7).fit(X_train, y_train)\n"
        "b = KNeighborsClassifier().fit(X_train, y_train)\n"
    )
    result = _grade(tmp_path)
    assert result.details["families"] == ["boosting", "neighbors"]
    assert result.details["repaired_files"] == ["export.py"]


def test_a_sweep_of_one_model_is_tuning_not_a_comparison(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "lr = LogisticRegression().fit(X_train, y_train)\n"
        "scores = []\n"
        "for k in range(1, 20):\n"
        "    knn = KNeighborsClassifier(n_neighbors=k).fit(X_train, y_train)\n"
        "    scores.append(knn.score(X_val, y_val))\n"
    )
    checks = by_id(_grade(tmp_path).checks)
    assert not checks["modeling.comparison"].passed
    assert checks["modeling.hyperparameter_search"].passed
    assert cell_locations(checks["modeling.hyperparameter_search"]) == [("train.py", None, 3)]


def test_scores_from_an_evaluation_helper_carry_their_split(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(
        "model = RandomForestClassifier().fit(X_train, y_train)\n"
        "report = evaluate(y_test, model.predict(X_test))\n"
    )
    checks = by_id(_grade(tmp_path).checks)
    assert checks["modeling.validated"].passed
    assert cell_locations(checks["modeling.validated"]) == [("main.py", None, 2)]


def test_bagging_and_boosting_are_two_families(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "from sklearn.ensemble import RandomForestClassifier\n"
        "from xgboost import XGBClassifier\n"
        "for model in [RandomForestClassifier(), XGBClassifier()]:\n"
        "    model.fit(X_train, y_train)\n"
        "    print(f1_score(y_val, model.predict(X_val)))\n"
    )
    result = _grade(tmp_path)
    assert result.details["families"] == ["bagging", "boosting"]
    assert by_id(result.checks)["modeling.model_families"].passed


def test_native_training_calls_are_fitted_and_validated(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "import xgboost as xgb\n"
        "dtrain = xgb.DMatrix(X_train, label=y_train)\n"
        "booster = xgb.train(params, dtrain, num_boost_round=50)\n"
        "preds = booster.predict(xgb.DMatrix(X_test))\n"
        "print(roc_auc_score(y_test, preds))\n"
    )
    (tmp_path / "net.py").write_text(
        "for epoch in range(10):\n"
        "    optimizer.zero_grad()\n"
        "    loss = criterion(net(X_batch), y_batch)\n"
        "    loss.backward()\n"
        "    optimizer.step()\n"
    )
    result = _grade(tmp_path)
    checks = by_id(result.checks)
    assert checks["modeling.model_fitted"].passed
    assert ("train.py", None, 3) in cell_locations(checks["modeling.model_fitted"])
    assert checks["modeling.validated"].passed
    assert result.details["families"] == ["boosting", "neural"]


def test_baselines_in_tests_or_future_work_prose_do_not_count(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_service.py").write_text("baseline = len(read_log_lines())\n")
    (tmp_path / "train.py").write_text(
        "model = LogisticRegression().fit(X_train, y_train)\n"
        "print(f1_score(y_test, model.predict(X_test)))\n"
    )
    (tmp_path / "README.md").write_text(
        "Next steps: with more time, using simple linear models as baselines would be worth it.\n"
    )
    assert not by_id(_grade(tmp_path).checks)["modeling.baseline"].passed
    done = tmp_path / "done"
    done.mkdir()
    (done / "train.py").write_text((tmp_path / "train.py").read_text())
    (done / "README.md").write_text("Logistic regression is our baseline model.\n")
    assert by_id(_grade(done).checks)["modeling.baseline"].passed


def test_one_model_without_validation_raises_the_level_zero_flag(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "model = RandomForestClassifier().fit(X, y)\njoblib.dump(model, 'model.pkl')\n"
    )
    result = _grade(tmp_path)
    assert [f.id for f in result.red_flags] == ["modeling.unvalidated_single_model"]
    validated = tmp_path / "validated"
    validated.mkdir()
    (validated / "train.py").write_text(
        "model = RandomForestClassifier().fit(X_train, y_train)\n"
        "print(f1_score(y_test, model.predict(X_test)))\n"
    )
    assert _grade(validated).red_flags == []


def test_verdicts_and_result_claims_justify_the_choice(tmp_path: Path) -> None:
    code = ("code", "m = LogisticRegression().fit(X_train, y_train)")
    prose = {
        "verdict": "## Final Verdict\n\nIt is better to use Logistic Regression here.",
        "claim": "XGBoost has the highest average recall score, which is our objective.",
        "future": "In future work a better model than the logistic one could be chosen.",
    }
    passed = {}
    for name, text in prose.items():
        make_notebook(tmp_path / name, [code, ("markdown", text)])
        passed[name] = by_id(_grade(tmp_path / name).checks)["modeling.choice_justified"].passed
    assert passed == {"verdict": True, "claim": True, "future": False}


def test_per_model_reports_in_outputs_are_a_recorded_comparison(tmp_path: Path) -> None:
    report = "              precision    recall  f1-score\n           1       0.71      0.64      0.67"
    cells = [
        ("code", ("lr = LogisticRegression().fit(X_train, y_train)\n"
                 "print(classification_report(y_test, lr.predict(X_test)))")),
        ("code", ("rf = RandomForestClassifier().fit(X_train, y_train)\n"
                 "print(classification_report(y_test, rf.predict(X_test)))")),
    ]  # fmt: skip
    make_notebook(tmp_path, cells, outputs={0: [text_output(report)], 1: [text_output(report)]})
    check = by_id(_grade(tmp_path).checks)["modeling.comparison"]
    assert check.passed
    assert [loc[:2] for loc in cell_locations(check)] == [(NB, 0), (NB, 1)]


def test_in_sample_final_evaluation_is_not_validation(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "model = LogisticRegression()\nmodel.fit(X_test, y_test)\n"
        "print(accuracy_score(y_test, model.predict(X_test)))\n"
    )
    check = by_id(_grade(tmp_path).checks)["modeling.validated"]
    assert not check.passed
    assert "in-sample" in check.sentence
    assert cell_locations(check) == [("train.py", None, 3)]


def test_models_scored_apart_on_test_then_chosen_in_prose_is_test_selection(
    tmp_path: Path,
) -> None:
    cells = [
        ("code", ("from sklearn.model_selection import KFold\nfolds = KFold(5)\n"
                 "print(cross_val_score(LogisticRegression(), X_train, y_train, cv=folds))")),
        ("code", ("lr = LogisticRegression().fit(X_train, y_train)\n"
                 "print(recall_score(y_test, lr.predict(X_test)))")),
        ("code", ("gb = GradientBoostingClassifier().fit(X_train, y_train)\n"
                 "print(recall_score(y_test, gb.predict(X_test)))")),
        ("markdown", "We chose gradient boosting because its recall is higher."),
        # a name reused later for a CV-tuned model does not make the earlier scores CV scores
        ("code", ("search = GridSearchCV(gb, {'max_depth': [2, 3]}).fit(X_train, y_train)\n"
                  "lr = search.best_estimator_")),
    ]  # fmt: skip
    make_notebook(tmp_path, cells)
    scheme = by_id(_grade(tmp_path).checks)["modeling.validation_scheme"]
    assert not scheme.passed
    assert "separate cells" in scheme.sentence
    assert [loc[:2] for loc in cell_locations(scheme)] == [(NB, 1), (NB, 2)]


def test_a_helper_metric_on_test_attributes_counts_as_validation(tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text(
        "import xgboost as xgb\n"
        "class Pipeline:\n"
        "    def train(self):\n"
        "        self.model = xgb.train(params, xgb.DMatrix(self.train_x, label=self.train_y))\n"
        "    def evaluate(self):\n"
        "        predictions = self.model.predict(xgb.DMatrix(self.test_x))\n"
        "        self.rmse = Helpers.rmse(self.test_y, predictions)\n"
        "Pipeline().train()\nPipeline().evaluate()\n"
    )
    checks = by_id(_grade(tmp_path).checks)
    assert checks["modeling.model_fitted"].passed
    assert checks["modeling.validated"].passed
    assert cell_locations(checks["modeling.validated"]) == [("pipeline.py", None, 7)]


def test_a_plotted_learning_curve_is_cross_validation(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "model = RandomForestClassifier(max_depth=10)\n"
        "classifier_factory(model)\n"
        "model.plot_learning_curve(X, y)\n"
    )
    result = _grade(tmp_path)
    assert by_id(result.checks)["modeling.validated"].passed
    assert result.red_flags == []


def test_models_picked_one_per_run_by_a_setting_are_not_compared(tmp_path: Path) -> None:
    script = (
        "def build(model_type):\n"
        "    if model_type == 'linear':\n"
        "        model = LogisticRegression()\n"
        "    elif model_type == 'forest':\n"
        "        model = RandomForestClassifier()\n"
        "    model.fit(X_train, y_train)\n"
        "    print(f1_score(y_test, model.predict(X_test)))\n"
        "build(CONFIG['model'])\n"
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "trainer.py").write_text(script)
    result = _grade(tmp_path / "a")
    check = by_id(result.checks)["modeling.model_families"]
    assert not check.passed
    assert "a setting picks one per run" in check.sentence
    assert len(result.details["families"]) == 1
    # the same options built in turn by a loop are a comparison
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "trainer.py").write_text(
        script.replace("build(CONFIG['model'])", "for name in ['linear', 'forest']:\n    build(name)")
    )
    assert by_id(_grade(tmp_path / "b").checks)["modeling.model_families"].passed


def test_models_compared_on_their_training_data_are_not_compared(tmp_path: Path) -> None:
    cells = [
        ("code", ("rf = RandomForestClassifier().fit(X_train, y_train)\n"
                 "print(rf.score(X_train, y_train))")),
        ("code", ("lr = LogisticRegression().fit(X_train, y_train)\n"
                 "print(accuracy_score(y_train, lr.predict(X_train)))")),
        ("code", "print(cross_val_score(rf, X_train, y_train, cv=5))"),
    ]  # fmt: skip
    make_notebook(tmp_path, cells)
    check = by_id(_grade(tmp_path).checks)["modeling.model_families"]
    assert not check.passed
    assert "fitted on" in check.sentence
    assert [loc[:2] for loc in cell_locations(check)] == [(NB, 0), (NB, 1)]
    # once the second model is also cross-validated, the comparison is on held-out scores
    cells.append(("code", "print(cross_val_score(lr, X_train, y_train, cv=5))"))
    (tmp_path / "b").mkdir()
    make_notebook(tmp_path / "b", cells)
    assert by_id(_grade(tmp_path / "b").checks)["modeling.model_families"].passed


def test_an_automl_run_is_several_families_scored_on_a_frame(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "from h2o.automl import H2OAutoML\n"
        "aml = H2OAutoML(max_models=10, seed=1)\n"
        "aml.train(x=features, y='target', training_frame=train_frame)\n"
        "print(aml.leader.model_performance(test_frame))\n"
    )
    checks = by_id(_grade(tmp_path).checks)
    assert checks["modeling.model_fitted"].passed
    assert checks["modeling.validated"].passed
    assert checks["modeling.model_families"].passed
    assert "AutoML" in checks["modeling.model_families"].sentence


def test_short_va_names_are_a_validation_split(tmp_path: Path) -> None:
    (tmp_path / "cv.py").write_text(
        "import lightgbm as lgb\n"
        "for tr_idx, va_idx in folds.split(X, y):\n"
        "    X_tr, X_va = X.iloc[tr_idx], X.iloc[va_idx]\n"
        "    booster = lgb.train(params, lgb.Dataset(X_tr, label=y.iloc[tr_idx]))\n"
        "    y_va = y.iloc[va_idx]\n"
        "    print(roc_auc_score(y_va, booster.predict(X_va)))\n"
    )
    checks = by_id(_grade(tmp_path).checks)
    assert checks["modeling.validated"].passed
    assert cell_locations(checks["modeling.validated"]) == [("cv.py", None, 6)]


def test_a_metrics_dict_of_one_model_or_a_model_summary_is_no_comparison(
    tmp_path: Path,
) -> None:
    cells = [
        ("code", ("rf = RandomForestClassifier().fit(X_train, y_train)\n"
                 "lr = LogisticRegression().fit(X_train, y_train)\n"
                 "print(f1_score(y_val, rf.predict(X_val)), f1_score(y_val, lr.predict(X_val)))")),
        ("markdown", ("Random forest and logistic regression were trained.\n\n"
                     "Both use the same features.\n\nThe weights below are the forest's.\n\n"
                     "| feature | weight |\n|---|---|\n| age | 0.31 |\n| income | 0.12 |")),
    ]  # fmt: skip
    make_notebook(tmp_path, cells)
    assert not by_id(_grade(tmp_path).checks)["modeling.comparison"].passed
    cells[1] = ("markdown", ("| model | f1 |\n|---|---|\n| random forest | 0.71 |\n"
                            "| logistic regression | 0.64 |"))  # fmt: skip
    (tmp_path / "b").mkdir()
    make_notebook(tmp_path / "b", cells)
    assert by_id(_grade(tmp_path / "b").checks)["modeling.comparison"].passed
