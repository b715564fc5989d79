"""The data-quality grader: handling checks and flow-sensitive leakage red flags."""

from __future__ import annotations

from pathlib import Path

from fixtures_graders import by_id, cell_locations, make_assignment, make_context, make_notebook

from graders.data_quality import DataQualityGrader

NB = "analysis.ipynb"
IMPORTS = (
    "import pandas as pd\n"
    "from sklearn.compose import ColumnTransformer\n"
    "from sklearn.impute import SimpleImputer\n"
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.pipeline import Pipeline\n"
    "from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder"
)
GOOD = [
    ("code", IMPORTS),
    (
        "code",
        (
            "df = pd.read_csv('train.csv')\n"
            "TARGET = 'is_fraud'\n"
            "X = df.drop(columns=[TARGET, 'transaction_id'])\n"
            "y = df[TARGET]\n"
            "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)"
        ),
    ),
    (
        "code",
        (
            "pre = ColumnTransformer([('num', SimpleImputer(), ['amount']),\n"
            "                         ('cat', OneHotEncoder(), ['merchant'])])\n"
            "pipe = Pipeline([('pre', pre), ('model', model)])\n"
            "pipe.fit(X_train, y_train)\n"
            "scaler = StandardScaler()\n"
            "X_train_s = scaler.fit_transform(X_train)\n"
            "X_test_s = scaler.transform(X_test)"
        ),
    ),
]


def _grade(root: Path, assignment=None):
    return DataQualityGrader().grade(make_context(root, assignment=assignment))


def test_good_preparation_passes_without_red_flags(tmp_path: Path) -> None:
    make_notebook(tmp_path / "snap", GOOD)
    result = _grade(tmp_path / "snap")
    checks = by_id(result.checks)
    assert [c.id for c in result.checks if c.passed] == [
        "data_quality.missing_values",
        "data_quality.categorical_encoding",
        "data_quality.pipeline",
    ]
    assert cell_locations(checks["data_quality.missing_values"]) == [(NB, 2, 1)]
    assert cell_locations(checks["data_quality.categorical_encoding"]) == [(NB, 2, 2)]
    assert cell_locations(checks["data_quality.pipeline"]) == [(NB, 2, 1), (NB, 2, 3)]
    assert result.red_flags == []
    assert result.details == {"train_has_missing_values": True, "categorical_columns": ["merchant"]}


def test_scaler_fitted_before_the_split_is_leakage(tmp_path: Path) -> None:
    cells = [
        ("code", IMPORTS),
        (
            "code",
            "df = pd.read_csv('train.csv')\nX = df.drop(columns=['is_fraud', 'transaction_id'])",
        ),
        ("code", "scaler = StandardScaler()\nX_scaled = scaler.fit_transform(X)"),
        ("code", "X_train, X_test, y_train, y_test = train_test_split(X_scaled, df.is_fraud)"),
    ]
    make_notebook(tmp_path / "snap", cells)
    flags = by_id(_grade(tmp_path / "snap").red_flags)
    assert list(flags) == ["data_quality.preprocessing_leakage"]
    flag = flags["data_quality.preprocessing_leakage"]
    # feature statistics only, no labels: a note, not target leakage
    assert flag.severity == "low"
    assert cell_locations(flag) == [(NB, 2, 2), (NB, 3, 1)]  # the fit, then the split
    assert [e.note for e in flag.evidence] == ["fitted here", "the data is split afterwards here"]


def test_fit_then_transform_in_place_before_split_is_leakage(tmp_path: Path) -> None:
    cells = [
        (
            "code",
            (
                "df = pd.read_csv('train.csv')\n"
                "imp = SimpleImputer()\n"
                "imp.fit(df[['amount']])\n"
                "df[['amount']] = imp.transform(df[['amount']])\n"
                "X = df.drop(columns=['is_fraud', 'transaction_id'])\n"
                "parts = train_test_split(X, df['is_fraud'])"
            ),
        )
    ]
    make_notebook(tmp_path / "snap", cells)
    flag = by_id(_grade(tmp_path / "snap").red_flags)["data_quality.preprocessing_leakage"]
    assert flag.severity == "low"  # an imputer fitted before the split: feature-only
    assert cell_locations(flag) == [(NB, 0, 3), (NB, 0, 6)]


def test_target_left_in_the_features(tmp_path: Path) -> None:
    cells = [
        ("code", "df = pd.read_csv('train.csv')\ndf = df.drop(columns=['transaction_id'])"),
        ("code", "X = df\ny = df['is_fraud']\nmodel.fit(X, y)"),
    ]
    make_notebook(tmp_path / "snap", cells)
    flag = by_id(_grade(tmp_path / "snap").red_flags)["data_quality.target_or_id_in_features"]
    assert flag.severity == "high"
    assert "the target 'is_fraud'" in flag.sentence and "id column" not in flag.sentence
    assert cell_locations(flag) == [(NB, 1, 3)]


def test_id_left_in_the_features_is_medium(tmp_path: Path) -> None:
    cells = [
        ("code", "df = pd.read_csv('train.csv')\nX = df.drop('is_fraud', axis=1)"),
        ("code", "X_train, X_test, y_train, y_test = train_test_split(X, df.is_fraud)"),
    ]
    make_notebook(tmp_path / "snap", cells)
    flag = by_id(_grade(tmp_path / "snap").red_flags)["data_quality.target_or_id_in_features"]
    assert flag.severity == "medium"
    assert cell_locations(flag) == [(NB, 1, 1)]


def test_explicit_feature_lists_and_index_col_are_precise(tmp_path: Path) -> None:
    cells = [
        (
            "code",
            (
                "df = pd.read_csv('train.csv', index_col='transaction_id')\n"
                "FEATURES = ['amount', 'merchant']\n"
                "model.fit(df[FEATURES], df['is_fraud'])\n"
                "other.fit(df.drop(columns=['is_fraud']), df['is_fraud'])\n"
                "unknown.fit(df.iloc[:, :-1], df['is_fraud'])"
            ),
        )
    ]
    make_notebook(tmp_path / "snap", cells)
    assert _grade(tmp_path / "snap").red_flags == []


def test_selecting_models_on_the_test_split(tmp_path: Path) -> None:
    cells = [
        (
            "code",
            (
                "scores = {}\n"
                "for name, model in models.items():\n"
                "    model.fit(X_train, y_train)\n"
                "    scores[name] = f1_score(y_test, model.predict(X_test))\n"
                "best = max(scores, key=scores.get)"
            ),
        ),
        ("code", "search.fit(X_test, y_test)"),
    ]
    make_notebook(tmp_path / "snap", cells)
    flag = by_id(_grade(tmp_path / "snap").red_flags)["data_quality.test_set_model_selection"]
    assert flag.severity == "medium"
    assert cell_locations(flag) == [(NB, 0, 2), (NB, 1, 1)]


def test_scoring_on_test_without_choosing_is_not_flagged(tmp_path: Path) -> None:
    cells = [
        (
            "code",
            (
                "for name, model in models.items():\n"
                "    model.fit(X_train, y_train)\n"
                "    print(name, f1_score(y_test, model.predict(X_test)))"
            ),
        ),
    ]
    make_notebook(tmp_path / "snap", cells)
    assert _grade(tmp_path / "snap").red_flags == []


def test_missing_values_need_reasoning_for_fillna(tmp_path: Path) -> None:
    make_notebook(tmp_path / "a", [("code", "df = df.fillna(0)")])
    check = by_id(_grade(tmp_path / "a").checks)["data_quality.missing_values"]
    assert not check.passed and cell_locations(check) == [(NB, 0, 1)]
    make_notebook(
        tmp_path / "b",
        [
            ("markdown", "Missing amounts mean no purchase, so zero is right."),
            ("code", "df.fillna(0)"),
        ],
    )
    check = by_id(_grade(tmp_path / "b").checks)["data_quality.missing_values"]
    assert check.passed and cell_locations(check) == [(NB, 1, 1), (NB, 0, 1)]


def test_native_nan_model_with_a_comment(tmp_path: Path) -> None:
    code = "# HistGradientBoosting handles missing values natively\nm = HistGradientBoostingClassifier()"
    make_notebook(tmp_path / "snap", [("code", code)])
    check = by_id(_grade(tmp_path / "snap").checks)["data_quality.missing_values"]
    assert check.passed and cell_locations(check) == [(NB, 0, 2), (NB, 0, 1)]


def test_checks_the_data_does_not_call_for_are_left_out(tmp_path: Path) -> None:
    assignment = make_assignment(tmp_path / "a", missing_values=False)
    numeric_only = make_assignment(
        tmp_path / "b", missing_values=False, extra_columns={"merchant": ["1"] * 100}
    )
    make_notebook(tmp_path / "snap", [("code", "x = 1")])
    ids = [c.id for c in _grade(tmp_path / "snap", assignment).checks]
    assert ids == ["data_quality.categorical_encoding", "data_quality.pipeline"]
    ids = [c.id for c in _grade(tmp_path / "snap", numeric_only).checks]
    assert ids == ["data_quality.pipeline"]


def test_frames_narrowed_to_columns_are_no_longer_judged(tmp_path: Path) -> None:
    cells = [
        (
            "code",
            (
                "df = pd.read_csv('train.csv')\n"
                "df = df[df.amount > 0]\n"  # a row filter keeps every column: still judged
                "model.fit(df.drop(columns=['is_fraud']), df['is_fraud'])\n"
                "df = df[['amount', 'is_fraud']]\n"  # a column subset: no longer judged
                "other.fit(df.drop(columns=['is_fraud']), df['is_fraud'])"
            ),
        )
    ]
    make_notebook(tmp_path / "snap", cells)
    flag = by_id(_grade(tmp_path / "snap").red_flags)["data_quality.target_or_id_in_features"]
    assert flag.severity == "medium" and cell_locations(flag) == [(NB, 0, 3)]


def test_variable_rebound_to_clean_data_is_not_leakage(tmp_path: Path) -> None:
    cells = [
        (
            "code",
            (
                "def scale(df):\n"
                "    df = StandardScaler().fit_transform(df)\n"
                "    return df\n"
                "df = pd.read_csv('train.csv')\n"
                "X_train, X_test, y_train, y_test = train_test_split(df, df.is_fraud)\n"
                "X_train = scale(X_train)"
            ),
        )
    ]
    make_notebook(tmp_path / "snap", cells)
    flags = by_id(_grade(tmp_path / "snap").red_flags)
    assert "data_quality.preprocessing_leakage" not in flags


def test_encoder_with_fixed_categories_learns_nothing_from_the_rows(tmp_path: Path) -> None:
    cells = [
        (
            "code",
            (
                "df = pd.read_csv('train.csv')\n"
                "enc = OneHotEncoder(categories=[['shop', 'cafe', 'fuel']])\n"
                "M = enc.fit_transform(df[['merchant']])\n"
                "parts = train_test_split(M, df['is_fraud'])"
            ),
        )
    ]
    make_notebook(tmp_path / "snap", cells)
    assert "data_quality.preprocessing_leakage" not in by_id(_grade(tmp_path / "snap").red_flags)


def test_target_encoder_before_the_split_is_high(tmp_path: Path) -> None:
    cells = [
        (
            "code",
            (
                "df = pd.read_csv('train.csv')\n"
                "enc = TargetEncoder()\n"
                "M = enc.fit_transform(df[['merchant']], df['is_fraud'])\n"
                "parts = train_test_split(M, df['is_fraud'])"
            ),
        )
    ]
    make_notebook(tmp_path / "snap", cells)
    flag = by_id(_grade(tmp_path / "snap").red_flags)["data_quality.preprocessing_leakage"]
    assert flag.severity == "high"
    assert cell_locations(flag) == [(NB, 0, 3), (NB, 0, 4)]


def test_fitting_on_the_test_rows_is_medium(tmp_path: Path) -> None:
    cells = [
        ("code", "X_train, X_test, y_train, y_test = train_test_split(X, y)"),
        (
            "code",
            "scaler = StandardScaler()\nscaler.fit_transform(X_train)\nZ = scaler.fit_transform(X_test)",
        ),
    ]
    make_notebook(tmp_path / "snap", cells)
    flag = by_id(_grade(tmp_path / "snap").red_flags)["data_quality.preprocessing_leakage"]
    assert flag.severity == "medium"
    assert cell_locations(flag) == [(NB, 1, 3)]


def test_target_name_the_code_never_uses_is_not_judged(tmp_path: Path) -> None:
    # the assignment says is_fraud, but this submission's data has another label: X = df is
    # not evidence that is_fraud is among the features
    cells = [
        ("code", "df = pd.read_csv('loans.csv')\nX = df\ny = labels\nmodel.fit(X, y)"),
    ]
    make_notebook(tmp_path / "snap", cells)
    assert _grade(tmp_path / "snap").red_flags == []


def test_leakage_in_tests_or_a_toy_main_block_is_ignored(tmp_path: Path) -> None:
    code = (
        "import pandas as pd\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "from sklearn.model_selection import train_test_split\n"
        "if __name__ == '__main__':\n"
        "    df = pd.DataFrame({'a': [1, 2, 3, 4], 'is_fraud': [0, 1, 0, 1]})\n"
        "    Z = StandardScaler().fit_transform(df[['a']])\n"
        "    parts = train_test_split(Z, df['is_fraud'])\n"
    )
    (tmp_path / "snap" / "tests").mkdir(parents=True)
    (tmp_path / "snap" / "demo.py").write_text(code)
    (tmp_path / "snap" / "tests" / "test_prep.py").write_text(
        code.replace("if __name__", "if 1 or __name__")
    )
    assert _grade(tmp_path / "snap").red_flags == []


def _unknown_data():
    from types import SimpleNamespace

    spec = SimpleNamespace(target=None, task_type=None, id_column=None, positive_class=None)
    return SimpleNamespace(spec=spec, train_csv=None)


def test_missing_values_on_unseen_data_judge_only_the_code(tmp_path: Path) -> None:
    make_notebook(tmp_path / "none", [("code", "m.fit(X, y)")])
    result = _grade(tmp_path / "none", _unknown_data())
    assert "data_quality.missing_values" not in by_id(result.checks)
    assert "not judged" in result.details["not_judged"][0]
    make_notebook(tmp_path / "some", [("code", "df = df.fillna(0)")])
    check = by_id(_grade(tmp_path / "some", _unknown_data()).checks)["data_quality.missing_values"]
    assert check.passed and "train.csv has" not in check.sentence


def test_fold_indices_named_test_are_not_the_test_set(tmp_path: Path) -> None:
    objective = (
        "def objective(trial):\n"
        "    scores = []\n"
        "    for train_index, test_index in k_fold.split(X):\n"
        "        X_test, y_test = X[test_index], y[test_index]\n"
        "        model.fit(X[train_index], y[train_index])\n"
        "        scores.append(f1_score(y_test, model.predict(X_test)))\n"
        "    return max(scores)"
    )
    make_notebook(tmp_path / "snap", [("code", objective)])
    assert _grade(tmp_path / "snap").red_flags == []
    loop = (
        "for name, model in models.items():\n"
        "    for tr, te in gkf.split(X, y, groups):\n"
        "        model.fit(X[tr], y[tr])\n"
        "        fold = f1_score(y[te], model.predict(X[te]))\n"
        "best = max(results, key=results.get)"
    )
    make_notebook(tmp_path / "groups", [("code", loop)])
    assert _grade(tmp_path / "groups").red_flags == []


def test_two_models_scored_on_the_test_split_then_one_chosen(tmp_path: Path) -> None:
    cells = [
        ("code", ("lr.fit(X_train, y_train)\nlr_pred = lr.predict(X_test)\n"
                 "print(f1_score(y_test, lr_pred))")),
        ("code", "rf.fit(X_train, y_train)\nprint(rf.score(X_test, y_test))"),
        ("code", "best_model = rf"),
    ]  # fmt: skip
    make_notebook(tmp_path / "snap", cells)
    flag = by_id(_grade(tmp_path / "snap").red_flags)["data_quality.test_set_model_selection"]
    assert cell_locations(flag) == [(NB, 0, 3), (NB, 1, 2)]
    make_notebook(tmp_path / "report", cells[:2])  # compared, but nothing chosen
    assert _grade(tmp_path / "report").red_flags == []


def test_a_label_thresholded_from_a_feature_column_is_target_leakage(tmp_path: Path) -> None:
    code = (
        "df = pd.read_csv('customers.csv')\n"
        "df['days_since_last_txn'] = (ref - df['last_txn']).dt.days\n"
        "df['churn'] = (df['last_txn'] < df['last_txn'].max() - cutoff).astype(int)\n"
        "y = df['churn']\n"
        "X = df.drop(columns=['churn', 'last_txn'])\n"
        "parts = train_test_split(X, y)"
    )
    make_notebook(tmp_path / "snap", [("code", code)])
    flag = by_id(_grade(tmp_path / "snap", _unknown_data()).red_flags)[
        "data_quality.target_or_id_in_features"
    ]
    assert flag.severity == "high" and "days_since_last_txn" in flag.sentence
    assert cell_locations(flag) == [(NB, 0, 6)]
    clean = code.replace("df['days_since_last_txn'] = (ref - df['last_txn']).dt.days\n", "")
    make_notebook(tmp_path / "clean", [("code", clean)])
    assert _grade(tmp_path / "clean", _unknown_data()).red_flags == []
