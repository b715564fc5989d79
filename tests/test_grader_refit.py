"""Preprocessing fitted again on the test data (graders/refit.py, data_quality.refit_on_test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_graders import by_id, cell_locations, make_context, make_notebook, write_files

from graders.data_quality import DataQualityGrader
from harness.rubric import load_rubric

NB = "analysis.ipynb"
RUBRIC = Path(__file__).resolve().parent.parent / "rubrics" / "ml-take-home.yaml"
HEAD = (
    "import pandas as pd\nfrom sklearn.preprocessing import LabelEncoder, StandardScaler\n"
    "train = pd.read_csv('train.csv')\ntest = pd.read_csv('test.csv')"
)


def _flag(root: Path):
    result = DataQualityGrader().grade(make_context(root))
    return by_id(result.red_flags).get("data_quality.refit_on_test")


@pytest.mark.parametrize(
    "refit",
    [
        "X_test = scaler.fit_transform(test[cols])",
        "test[cols] = test[cols].apply(encoder.fit_transform)",
        "scaler.fit(test[cols])",
    ],
)
def test_a_transformer_fitted_again_on_the_test_data_is_flagged(tmp_path: Path, refit: str) -> None:
    cells = [
        ("code", HEAD),
        ("code", ("scaler = StandardScaler()\nencoder = LabelEncoder()\n"
                 "X_train = scaler.fit_transform(train[cols])")),
        ("code", refit),
    ]
    make_notebook(tmp_path, cells)
    flag = _flag(tmp_path)
    assert flag is not None and flag.severity == "medium"
    assert cell_locations(flag) == [(NB, 2, 1)]


def test_a_fitting_helper_called_on_the_test_data_two_calls_deep(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "prep.py": "from sklearn.preprocessing import LabelEncoder\n\n\n"
                   "def encode(df, columns):\n    for c in columns:\n"
                   "        df[c] = LabelEncoder().fit_transform(df[c])\n    return df\n\n\n"
                   "def preprocess(df, columns):\n    return encode(df, columns)\n",
        "predict.py": "import pandas as pd\nfrom prep import preprocess\n\n"
                      "requests_test = pd.read_csv('test.csv')\n"
                      "X = preprocess(requests_test, ['city'])\n",
    })  # fmt: skip
    flag = _flag(tmp_path)
    assert flag is not None
    assert [(e.path, e.line) for e in flag.evidence] == [("predict.py", 5)]


def test_a_loaded_encoder_refitted_on_the_test_data(tmp_path: Path) -> None:
    cells = [
        ("code", HEAD + "\nfrom joblib import load\nencoder = load('encoder.joblib')"),
        ("code", "test['city'] = encoder.fit_transform(test['city'])"),
    ]
    make_notebook(tmp_path, cells)
    assert _flag(tmp_path) is not None


@pytest.mark.parametrize(
    "cells",
    [
        # the training fit applied to the test rows: the right way
        [("code", HEAD), ("code", ("scaler = StandardScaler().fit(train[cols])\n"
                                  "X_test = scaler.transform(test[cols])"))],
        # an encoder given its categories encodes every set alike
        [("code", HEAD), ("code", ("from sklearn.preprocessing import OrdinalEncoder\n"
                                  "enc = OrdinalEncoder(categories=levels)\n"
                                  "train[f] = enc.fit_transform(train[f])\n"
                                  "test[f] = enc.fit_transform(test[f])"))],
        # fitted on train and test together: leakage, judged elsewhere
        [("code", HEAD), ("code", ("scaler = StandardScaler()\n"
                                  "scaler.fit(pd.concat([train_df, test_df]))"))],
    ],
)
def test_no_flag_when_the_test_data_is_only_transformed(tmp_path: Path, cells) -> None:
    make_notebook(tmp_path, cells)
    assert _flag(tmp_path) is None


def test_a_refit_inside_the_candidates_tests_does_not_count(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "tests/test_scaling.py": "from sklearn.preprocessing import StandardScaler\n\n\n"
                                 "def test_scaler():\n    X_test = [[1.0], [2.0]]\n"
                                 "    assert StandardScaler().fit_transform(X_test).mean() == 0\n",
    })  # fmt: skip
    assert _flag(tmp_path) is None


def test_the_rubric_caps_data_quality_at_2_and_code_quality_at_1() -> None:
    rubric = load_rubric(RUBRIC)
    caps = {
        c.id: [cap.max_level for cap in c.caps if cap.when == "data_quality.refit_on_test"]
        for c in rubric.criteria
    }
    assert caps["data_quality"] == [2] and caps["code_quality"] == [1]
