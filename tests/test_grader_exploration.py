"""The exploration grader on crafted notebooks: which checks pass, with which evidence."""

from __future__ import annotations

from pathlib import Path

from fixtures_graders import (
    by_id,
    cell_locations,
    image_output,
    make_artifacts,
    make_context,
    make_notebook,
    png_bytes,
    write_files,
)

from graders.exploration import ExplorationGrader

NB = "analysis.ipynb"
COMMENT = (
    "Only five percent of the transactions are fraud, the amount column is heavily skewed "
    "with a long right tail, and a handful of rows have a missing amount."
)
RICH = [
    ("code", "import pandas as pd\nimport seaborn as sns\ndf = pd.read_csv('train.csv')"),
    ("code", "df.shape\ndf.info()"),
    ("code", "df['is_fraud'].value_counts(normalize=True)"),
    ("markdown", COMMENT),
    ("code", "df.isna().sum()\ndf.duplicated().sum()"),
    ("code", "sns.histplot(df['amount'])\nq1, q3 = df.amount.quantile([0.25, 0.75])"),
]


def _grade(root: Path, **kwargs):
    return ExplorationGrader().grade(make_context(root, **kwargs))


def test_rich_exploration_passes_every_check_with_locations(tmp_path: Path) -> None:
    make_notebook(tmp_path, RICH, outputs={5: [image_output()]})
    result = _grade(tmp_path)
    checks = by_id(result.checks)
    assert {c.id for c in result.checks if c.passed} == set(checks)
    assert result.score == 1.0 and result.red_flags == []
    assert cell_locations(checks["exploration.overview"]) == [(NB, 1, 1), (NB, 1, 2)]
    assert cell_locations(checks["exploration.target_distribution"]) == [(NB, 2, 1)]
    assert cell_locations(checks["exploration.missing_values"]) == [(NB, 4, 1)]
    assert cell_locations(checks["exploration.duplicates"]) == [(NB, 4, 2)]
    assert cell_locations(checks["exploration.feature_distributions"]) == [(NB, 5, 1)]
    assert cell_locations(checks["exploration.outliers"]) == [(NB, 5, 2)]
    assert cell_locations(checks["exploration.commentary"]) == [(NB, 3, 1)]
    (figure,) = checks["exploration.figures"].evidence
    assert (figure.path, figure.cell, figure.reproduced) == (NB, 5, False)
    assert "not reproduced" in checks["exploration.figures"].sentence


def test_no_exploration_is_a_red_flag(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("code", "import pandas as pd\ndf = pd.read_csv('train.csv')")])
    result = _grade(tmp_path)
    assert [c.id for c in result.checks if c.passed] == []
    assert result.score == 0.0
    assert [(f.id, f.severity) for f in result.red_flags] == [("exploration.none", "high")]


def test_target_distribution_needs_the_target(tmp_path: Path) -> None:
    make_notebook(
        tmp_path,
        [
            ("code", "df['merchant'].value_counts()"),
            ("code", "TARGET = 'is_fraud'\nsns.countplot(x=TARGET, data=df)"),
        ],
    )
    check = by_id(_grade(tmp_path).checks)["exploration.target_distribution"]
    assert check.passed
    assert cell_locations(check) == [(NB, 1, 2)]


def test_value_counts_of_other_columns_is_not_the_target(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("code", "df['merchant'].value_counts()\nX = df.drop('is_fraud')")])
    check = by_id(_grade(tmp_path).checks)["exploration.target_distribution"]
    assert not check.passed and check.evidence == []


def test_commentary_must_follow_exploration_and_have_words(tmp_path: Path) -> None:
    cells = [
        ("markdown", COMMENT),  # before the exploration: not commentary on it
        ("code", "df.describe()"),
        ("markdown", "Looks fine."),  # too short
        ("code", "x = 1"),
        ("code", "y = 2"),
        ("code", "z = 3"),
        ("markdown", COMMENT),  # more than three cells after the exploration
    ]
    make_notebook(tmp_path, cells)
    assert not by_id(_grade(tmp_path).checks)["exploration.commentary"].passed


def test_figures_from_files_and_from_our_run(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap"
    write_files(snapshot, {"plots/amount.png": png_bytes(), "plots/fake.png": b"nope" * 20})
    make_notebook(snapshot, [("code", "plt.savefig('plots/amount.png')")])
    artifacts = make_artifacts(tmp_path / "artifacts")
    write_files(artifacts.root, {"figures/roc.png": png_bytes()})
    artifacts = make_artifacts(artifacts.root, figures=[artifacts.root / "figures/roc.png"])
    check = by_id(_grade(snapshot, artifacts=artifacts).checks)["exploration.figures"]
    assert check.passed
    assert [(e.path, e.image) for e in check.evidence] == [
        ("plots/amount.png", None),
        (None, "figures/roc.png"),
    ]


def test_figure_outputs_of_our_run_are_reproduced(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap"
    make_notebook(snapshot, [("code", "df.hist()")])
    executed = make_notebook(
        tmp_path / "artifacts", [("code", "df.hist()")], outputs={0: [image_output()]}
    )
    artifacts = make_artifacts(tmp_path / "artifacts", executed_notebooks={NB: executed})
    check = by_id(_grade(snapshot, artifacts=artifacts).checks)["exploration.figures"]
    assert [(e.path, e.cell, e.reproduced) for e in check.evidence] == [(NB, 0, True)]
