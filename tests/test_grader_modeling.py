"""The modeling grader: families, baseline, CV, search, comparison, seeds, unexplained jumps."""

from __future__ import annotations

from pathlib import Path

from fixtures_graders import by_id, cell_locations, make_context, make_notebook, text_output

from graders.modeling import ModelingGrader

NB = "analysis.ipynb"
IMPORTS = (
    "import numpy as np\n"
    "from sklearn.dummy import DummyClassifier\n"
    "from sklearn.ensemble import RandomForestClassifier\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.model_selection import GridSearchCV, cross_val_score"
)
RICH = [
    ("code", IMPORTS + "\nnp.random.seed(0)"),
    (
        "code",
        (
            "models = {'baseline': DummyClassifier(),\n"
            "          'logreg': LogisticRegression(max_iter=1000),\n"
            "          'forest': RandomForestClassifier(random_state=0)}\n"
            "results = {}\n"
            "for name, model in models.items():\n"
            "    results[name] = cross_val_score(model, X, y, cv=5).mean()"
        ),
    ),
    ("markdown", "The forest beats logistic regression; tune it next."),
    (
        "code",
        "search = GridSearchCV(RandomForestClassifier(), {'max_depth': [3, 5]}, cv=5)",
    ),
]


def _grade(root: Path):
    return ModelingGrader().grade(make_context(root))


def test_rich_modeling_passes_every_check(tmp_path: Path) -> None:
    make_notebook(tmp_path, RICH)
    result = _grade(tmp_path)
    checks = by_id(result.checks)
    assert [c.id for c in result.checks if not c.passed] == []
    assert cell_locations(checks["modeling.model_families"]) == [(NB, 1, 2), (NB, 1, 3)]
    assert cell_locations(checks["modeling.baseline"]) == [(NB, 1, 1)]
    assert cell_locations(checks["modeling.cross_validation"]) == [(NB, 1, 6), (NB, 3, 1)]
    assert cell_locations(checks["modeling.hyperparameter_search"]) == [(NB, 3, 1)]
    assert cell_locations(checks["modeling.comparison"]) == [(NB, 1, 6), (NB, 2, 1)]
    assert cell_locations(checks["modeling.random_seeds"]) == [(NB, 0, 6), (NB, 1, 3)]
    assert result.red_flags == []
    assert result.details["families"] == ["ensemble", "linear"]
    assert result.details["estimators"] == ["LogisticRegression", "RandomForestClassifier"]


def test_single_model_without_practice_fails_everything(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("code", "model = RandomForestClassifier(random_state=None)")])
    result = _grade(tmp_path)
    assert [c.id for c in result.checks if c.passed] == []
    families = by_id(result.checks)["modeling.model_families"]
    assert families.sentence.startswith("Tried 1 model family (ensemble)")
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
    cells = [("code", "lr = LogisticRegression()\nrf = RandomForestClassifier()\nprint(table)")]
    table = "model                 f1\nlogistic regression 0.61\nrandom forest       0.72"
    make_notebook(tmp_path, cells, outputs={0: [text_output(table)]})
    check = by_id(_grade(tmp_path).checks)["modeling.comparison"]
    assert check.passed
    assert [(e.path, e.cell, e.reproduced) for e in check.evidence] == [(NB, 0, False)]


def test_scripts_are_graded_too(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "from xgboost import XGBClassifier\n"
        "from sklearn.neighbors import KNeighborsClassifier\n"
        "SEED = 7\n"
        "a = XGBClassifier(seed=SEED)\n"
        "b = KNeighborsClassifier()\n"
    )
    result = _grade(tmp_path)
    checks = by_id(result.checks)
    assert checks["modeling.model_families"].passed
    assert cell_locations(checks["modeling.model_families"]) == [
        ("train.py", None, 4),
        ("train.py", None, 5),
    ]
    assert cell_locations(checks["modeling.random_seeds"]) == [
        ("train.py", None, 3),
        ("train.py", None, 4),
    ]
    assert result.red_flags == []  # no notebook: no jump to judge
