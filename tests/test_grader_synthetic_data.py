"""Generated data replacing the loaded data earns nothing (imbalance and modeling graders)."""

from __future__ import annotations

from pathlib import Path

from fixtures_graders import by_id, make_context, make_notebook

from graders.imbalance import ImbalanceGrader
from graders.modeling import ModelingGrader
from graders.source import load_source
from graders.synthetic_data import evaluated_only_on_generated, replacements

LOAD = [
    (
        "code",
        (
            "import pandas as pd\n"
            "from imblearn.over_sampling import SMOTE\n"
            "from sklearn.datasets import make_classification\n"
            "from sklearn.ensemble import RandomForestClassifier\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.metrics import f1_score, recall_score\n"
            "from sklearn.model_selection import cross_val_score, train_test_split\n"
            "df = pd.read_csv('data.csv')\n"
            "X, y = df.drop(columns='label'), df['label']"
        ),
    ),
    ("code", "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)"),
]
REPLACE = ("code", "X_train, y_train = make_classification(n_samples=300, weights=[0.9])")
WORK = [
    ("code", "X_train, y_train = SMOTE().fit_resample(X_train, y_train)"),
    (
        "code",
        (
            "for model in [LogisticRegression(class_weight='balanced'), RandomForestClassifier()]:\n"
            "    print(cross_val_score(model, X_train, y_train, scoring='f1').mean())\n"
            "    model.fit(X_train, y_train)\n"
            "    print(f1_score(y_train, model.predict(X_train)))"
        ),
    ),
]
NB = "analysis.ipynb"


def _source(root: Path):
    return load_source(root)


def test_generated_set_replacing_the_loaded_data_is_found_with_evidence(tmp_path: Path) -> None:
    make_notebook(tmp_path, LOAD + [REPLACE] + WORK)
    found = replacements(_source(tmp_path))
    assert [(r.generated.path, r.generated.cell, r.generated.name) for r in found] == [
        (NB, 2, "make_classification")
    ]
    assert found[0].consumer.name == "fit_resample"
    assert evaluated_only_on_generated(_source(tmp_path)) == found


def test_imbalance_work_on_the_generated_set_earns_nothing(tmp_path: Path) -> None:
    make_notebook(tmp_path, LOAD + [REPLACE] + WORK)
    result = ImbalanceGrader().grade(make_context(tmp_path))
    flags = {f.id: f for f in result.red_flags}
    assert "imbalance.synthetic_data" in flags
    assert flags["imbalance.synthetic_data"].evidence[0].cell == 2
    checks = by_id(result.checks)
    # the resampling, the class weights and F1 come after the replacement: none counts
    assert not checks["imbalance.rebalancing"].passed
    assert not checks["imbalance.metrics"].passed
    assert result.details["level"] <= 1  # only the real split's stratification is left


def test_modeling_on_the_generated_set_is_flagged(tmp_path: Path) -> None:
    make_notebook(tmp_path, LOAD + [REPLACE] + WORK)
    result = ModelingGrader().grade(make_context(tmp_path))
    assert "modeling.synthetic_data" in {f.id for f in result.red_flags}


def test_the_same_work_on_the_loaded_data_is_credited(tmp_path: Path) -> None:
    make_notebook(tmp_path, LOAD + WORK)
    assert replacements(_source(tmp_path)) == ()
    result = ImbalanceGrader().grade(make_context(tmp_path))
    assert "imbalance.synthetic_data" not in {f.id for f in result.red_flags}
    assert by_id(result.checks)["imbalance.rebalancing"].passed
    modeling = ModelingGrader().grade(make_context(tmp_path))
    assert "modeling.synthetic_data" not in {f.id for f in modeling.red_flags}


def test_a_demo_on_fresh_names_or_a_return_to_the_real_data_is_no_replacement(
    tmp_path: Path,
) -> None:
    demo = ("code", ("X_toy, y_toy = make_classification(n_samples=50)\n"
                    "SMOTE().fit_resample(X_toy, y_toy)"))  # fmt: skip
    make_notebook(tmp_path / "demo", LOAD + [demo] + WORK)
    assert replacements(_source(tmp_path / "demo")) == ()
    back = ("code", ("X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y)\n"
                    "LogisticRegression().fit(X_train, y_train)"))  # fmt: skip
    make_notebook(tmp_path / "back", LOAD + [REPLACE] + WORK + [back])
    assert replacements(_source(tmp_path / "back")) == ()


def test_real_evaluation_elsewhere_keeps_the_flag_off(tmp_path: Path) -> None:
    real = ("code", ("m = LogisticRegression().fit(X_train, y_train)\n"
                    "print(recall_score(y_test, m.predict(X_test)))"))  # fmt: skip
    make_notebook(tmp_path, LOAD + [real, REPLACE] + WORK)
    source = _source(tmp_path)
    assert len(replacements(source)) == 1
    assert evaluated_only_on_generated(source) == ()
    result = ImbalanceGrader().grade(make_context(tmp_path))
    assert "imbalance.synthetic_data" not in {f.id for f in result.red_flags}
    # the real recall counts; the SMOTE after the replacement still does not
    checks = by_id(result.checks)
    assert [e.cell for e in checks["imbalance.metrics"].evidence] == [2]
    assert not checks["imbalance.rebalancing"].passed
