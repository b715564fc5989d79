"""The exploration grader on crafted submissions: the rubric's ladder (mechanical look, written
findings, feature-vs-target analysis, quality issues acted on, leakage/drift), with evidence."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
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
from graders.exploration_text import comment_finding, findings, is_finding
from harness.rubric import load_rubric, score_rubric

NB = "analysis.ipynb"
LOAD = "import pandas as pd\nimport seaborn as sns\ndf = pd.read_csv('train.csv')"
FINDINGS = (
    "Only five percent of the transactions are fraud, so the classes are imbalanced.\n\n"
    "- The amount column is heavily skewed with a long right tail.\n"
    "- Fraud rates are much higher for online merchants than for shops.\n"
    "- About 3% of the rows have a missing amount, mostly in 2021.\n"
    "- Duplicate rows appear for a handful of customers.\n"
)
LEAK_DROP = (
    "# chargeback_date leaks the target: it is set after the fraud is known\n"
    "df = df.drop(columns=['chargeback_date'])"
)
MECHANICAL = [
    ("code", LOAD),
    ("code", "df.shape\ndf.info()\ndf.describe()"),
    ("code", "df['is_fraud'].value_counts()"),
    ("code", "df['amount'].hist()"),
]


def _grade(root: Path, target: str | None = "is_fraud", **kwargs):
    assignment = SimpleNamespace(spec=SimpleNamespace(target=target))
    return ExplorationGrader().grade(make_context(root, assignment=assignment, **kwargs))


def _passed(result) -> set[str]:
    return {c.id for c in result.checks if c.passed}


def _level(result) -> int:
    """The exploration criterion's level under the bundled rubric (caps applied)."""
    rubric = load_rubric("ml-take-home")
    return score_rubric(rubric, {"exploration": result}).criterion("exploration").level


# --------------------------------------------------------------------------- prose


def test_findings_keep_observations_and_drop_plans_headings_and_captions() -> None:
    text = (
        "# Target distribution\n\n"
        "We will explore the distribution of every feature next.\n\n"
        "The figure below shows the amount per merchant.\n\n"
        "Let's look at the correlations.\n\n"
        "Checking the missing values:\n\n"
        "- Drop the rows with a missing amount.\n"
        "- Churn is three times higher on monthly contracts than on yearly ones.\n"
        "### Conclusion: age does not differ significantly between the two groups\n"
    )
    assert findings(text) == [
        "Churn is three times higher on monthly contracts than on yearly ones.",
        "Conclusion: age does not differ significantly between the two groups",
    ]
    assert not is_finding("The model reaches a higher F1 than the baseline.")
    assert comment_finding("# There are 1026 NaN entries in this column")
    assert not comment_finding("# Sample the frame if it is larger than the limit")


# --------------------------------------------------------------------------- the ladder


def test_mechanical_only_is_level_one_with_a_red_flag(tmp_path: Path) -> None:
    make_notebook(tmp_path, MECHANICAL, outputs={3: [image_output()]})
    result = _grade(tmp_path)
    assert _passed(result) == {
        "exploration.overview", "exploration.target_distribution", "exploration.plots",
    }  # fmt: skip
    assert [f.id for f in result.red_flags] == ["exploration.mechanical_only"]
    assert cell_locations(by_id(result.checks)["exploration.target_distribution"]) == [
        (NB, 2, 1)
    ]
    assert _level(result) == 1


def test_plots_with_written_findings_reach_level_two(tmp_path: Path) -> None:
    make_notebook(tmp_path, [*MECHANICAL, ("markdown", FINDINGS)])
    result = _grade(tmp_path)
    observations = by_id(result.checks)["exploration.observations"]
    assert observations.passed and result.red_flags == []
    assert observations.evidence[0].cell == 4
    assert "imbalanced" in observations.evidence[0].excerpt
    assert _level(result) == 2


def test_findings_far_from_the_exploration_or_after_modelling_do_not_count(
    tmp_path: Path,
) -> None:
    cells = [
        *MECHANICAL,
        ("code", "x = 1"), ("code", "y = 2"), ("code", "z = 3"), ("code", "w = 4"),
        ("markdown", FINDINGS),  # five cells after the last exploration cell
        ("code", "model.fit(X, y)\nsns.histplot(df['amount'])"),
        ("markdown", FINDINGS),  # follows modelling code
    ]  # fmt: skip
    make_notebook(tmp_path, cells)
    result = _grade(tmp_path)
    assert result.details["written_findings"] == 0
    assert not by_id(result.checks)["exploration.observations"].passed


def test_quality_issue_found_and_acted_on_with_feature_vs_target_reaches_level_three(
    tmp_path: Path,
) -> None:
    cells = [
        *MECHANICAL,
        ("markdown", FINDINGS),
        ("code", "df.isna().sum()"),
        ("code", "sns.boxplot(data=df, x='is_fraud', y='amount')"),
        ("code", "df['amount'] = df['amount'].fillna(df['amount'].median())"),
    ]
    make_notebook(tmp_path, cells)
    result = _grade(tmp_path)
    checks = by_id(result.checks)
    assert cell_locations(checks["exploration.feature_vs_target"]) == [(NB, 6, 1)]
    quality = checks["exploration.quality_acted_on"]
    notes = [(e.cell, e.note) for e in quality.evidence]
    assert (5, "missing: looked for") in notes and (7, "missing: acted on") in notes
    assert _level(result) == 3


def test_treatment_without_a_look_or_on_a_plot_is_not_acting_on_quality(tmp_path: Path) -> None:
    cells = [
        ("code", LOAD),
        ("code", "df['amount'] = df['amount'].fillna(0)"),  # never looked for
        ("code", "df['city'].value_counts()"),
        ("code", "import matplotlib.pyplot as plt\nplt.title('Cities')"),  # not a treatment
    ]
    make_notebook(tmp_path, cells)
    assert not by_id(_grade(tmp_path).checks)["exploration.quality_acted_on"].passed


def test_issue_found_in_writing_and_fixed_in_the_pipeline_counts(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "eda_report.md": "# EDA\n\nThere are 12 duplicate rows in the raw file.\n",
            "prepare.py": "import pandas as pd\ndf = pd.read_csv('train.csv')\n"
            "df = df.drop_duplicates()\n",
        },
    )
    quality = by_id(_grade(tmp_path).checks)["exploration.quality_acted_on"]
    assert quality.passed
    assert [(e.path, e.note) for e in quality.evidence] == [
        ("eda_report.md", "duplicates: looked for"),
        ("prepare.py", "duplicates: acted on"),
    ]


def test_narrated_exploration_with_a_leakage_drop_reaches_level_four(tmp_path: Path) -> None:
    story = "\n".join(f"- Fraud is {n}% more likely in region {n} than elsewhere." for n in range(16))
    cells = [
        *MECHANICAL,
        ("markdown", story),
        ("code", "df.duplicated().sum()"),
        ("code", "df = df.drop_duplicates()"),
        ("code", "df.groupby('merchant')['is_fraud'].mean()"),
        ("code", LEAK_DROP),
    ]  # fmt: skip
    make_notebook(tmp_path, cells)
    result = _grade(tmp_path)
    checks = by_id(result.checks)
    assert checks["exploration.narrated"].passed
    assert cell_locations(checks["exploration.leakage_drift"]) == [(NB, 8, 1)]
    assert _level(result) == 4


def test_train_test_drift_comparison_counts_and_no_leakage_claims_do_not(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "eda.py": "import pandas as pd\nfrom scipy.stats import ks_2samp\n"
            "train = pd.read_csv('train.csv')\ntest = pd.read_csv('test.csv')\n"
            "ks_2samp(train['amount'], test['amount'])\n",
        },
    )
    assert by_id(_grade(tmp_path).checks)["exploration.leakage_drift"].passed
    other = tmp_path / "other"
    write_files(other, {"README.md": "## Findings\n\nThere is no data leakage in the features.\n"})
    assert not by_id(_grade(other).checks)["exploration.leakage_drift"].passed


@pytest.mark.parametrize(("colour", "counts"), [("'dataset'", True), ("'is_fraud'", False)])
def test_train_and_test_stacked_and_coloured_by_their_origin_is_a_drift_check(
    tmp_path: Path, colour: str, counts: bool
) -> None:
    cells = [
        ("code", ("import pandas as pd\nimport seaborn as sns\n"
                 "train = pd.read_csv('train.csv')\ntest = pd.read_csv('test.csv')")),
        ("code", "both = pd.concat([train.assign(dataset='train'), test.assign(dataset='test')])"),
        ("code", f"for c in ['amount', 'age']:\n    sns.kdeplot(both, x=c, hue={colour})"),
    ]
    make_notebook(tmp_path, cells)
    check = by_id(_grade(tmp_path).checks)["exploration.leakage_drift"]
    assert check.passed is counts  # coloured by the target, it is a feature-vs-target plot
    if counts:
        assert cell_locations(check) == [(NB, 2, 2)]


# --------------------------------------------------------------------------- where EDA lives


def test_tests_validation_modules_and_prediction_readers_are_not_eda(tmp_path: Path) -> None:
    checks = "import pandas as pd\ndf = pd.read_csv('train.csv')\ndf.describe()\ndf.isna().sum()\n"
    write_files(
        tmp_path,
        {
            "tests/test_data.py": checks,
            "src/validate_data.py": checks,
            "report.py": "import pandas as pd\np = pd.read_csv('outputs/predictions.csv')\n"
            "p.describe()\np['score'].hist()\n",
        },
    )
    result = _grade(tmp_path)
    assert _passed(result) == set()
    assert [f.id for f in result.red_flags] == ["exploration.none"]
    assert result.details["excluded_paths"] == {
        "report.py": "reads prediction outputs, not the training data",
        "src/validate_data.py": "data-validation or monitoring module",
        "tests/test_data.py": "test file",
    }
    assert _level(result) == 0


def test_report_sections_and_rmarkdown_are_read(tmp_path: Path) -> None:
    section = "## Exploratory data analysis\n\n" + FINDINGS + "\n## How to run\n\nThe rate is high.\n"
    write_files(
        tmp_path,
        {
            "README.md": section,
            "analysis/bank_eda.Rmd": "```{r}\nsummary(bank)\nggplot(bank, aes(x = age, fill = y))"
            " + geom_histogram()\n```\n\nOlder clients subscribe at a much higher rate.\n",
            "train.py": "import pandas as pd\ndf = pd.read_csv('bank.csv')\ny = df['y']\n",
        },
    )
    result = _grade(tmp_path, target=None)
    checks = by_id(result.checks)
    assert result.details["written_findings"] == 6  # five in the section, one in the report
    assert checks["exploration.overview"].evidence[0].path == "analysis/bank_eda.Rmd"
    assert cell_locations(checks["exploration.feature_vs_target"]) == [
        ("analysis/bank_eda.Rmd", None, 3)
    ]


def test_unknown_target_is_inferred_from_the_code(tmp_path: Path) -> None:
    cells = [
        ("code", LOAD),
        ("code", "sns.countplot(x='churn', data=df)"),
        ("code", "sns.histplot(data=df, x='tenure', hue='churn')"),
        ("code", "X = df.drop(columns=['churn'])\ny = df['churn']"),
    ]
    make_notebook(tmp_path, cells)
    result = _grade(tmp_path, target=None)
    checks = by_id(result.checks)
    assert result.details["targets"] == ["churn"]
    assert cell_locations(checks["exploration.target_distribution"]) == [(NB, 1, 1)]
    assert cell_locations(checks["exploration.feature_vs_target"]) == [(NB, 2, 1)]


# --------------------------------------------------------------------------- figures


def test_figures_of_model_results_are_not_plots_of_the_data(tmp_path: Path) -> None:
    cells = [("code", LOAD), ("code", "ConfusionMatrixDisplay(cm).plot()")]
    make_notebook(tmp_path, cells, outputs={1: [image_output()]})
    write_files(tmp_path, {"figures/roc_curve.png": png_bytes()})
    assert not by_id(_grade(tmp_path).checks)["exploration.plots"].passed


def test_figures_from_files_and_from_our_run(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap"
    write_files(snapshot, {"plots/amount.png": png_bytes(), "plots/fake.png": b"nope" * 20})
    make_notebook(snapshot, [("code", LOAD)])
    artifacts = make_artifacts(tmp_path / "artifacts")
    write_files(artifacts.root, {"figures/amount_by_class.png": png_bytes()})
    artifacts = make_artifacts(
        artifacts.root, figures=[artifacts.root / "figures/amount_by_class.png"]
    )
    check = by_id(_grade(snapshot, artifacts=artifacts).checks)["exploration.plots"]
    assert check.passed
    assert [(e.path, e.image) for e in check.evidence] == [
        ("plots/amount.png", None),
        (None, "figures/amount_by_class.png"),
    ]


def test_figure_outputs_of_our_run_are_reproduced(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap"
    make_notebook(snapshot, [("code", "df.hist()")])
    executed = make_notebook(
        tmp_path / "artifacts", [("code", "df.hist()")], outputs={0: [image_output()]}
    )
    artifacts = make_artifacts(tmp_path / "artifacts", executed_notebooks={NB: executed})
    check = by_id(_grade(snapshot, artifacts=artifacts).checks)["exploration.plots"]
    figures = [e for e in check.evidence if e.note == "figure output"]
    assert [(e.path, e.cell, e.reproduced) for e in figures] == [(NB, 0, True)]


def test_grading_twice_gives_the_same_result(tmp_path: Path) -> None:
    make_notebook(tmp_path, [*MECHANICAL, ("markdown", FINDINGS)])
    assert _grade(tmp_path).model_dump() == _grade(tmp_path).model_dump()


def test_one_uninterpreted_plot_coloured_by_the_target_is_still_mechanical(
    tmp_path: Path,
) -> None:
    cells = [*MECHANICAL, ("code", "sns.pairplot(df, hue='is_fraud')")]
    make_notebook(tmp_path, cells)
    result = _grade(tmp_path)
    assert by_id(result.checks)["exploration.feature_vs_target"].passed
    assert [f.id for f in result.red_flags] == ["exploration.mechanical_only"]
    assert _level(result) == 1
    more = tmp_path / "more"
    make_notebook(more, [*cells, ("code", "df.groupby('merchant')['is_fraud'].mean()")])
    assert _grade(more).red_flags == [] and _level(_grade(more)) == 2


def test_one_quick_look_is_no_exploration(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("code", LOAD), ("code", "print(df.shape)")])
    result = _grade(tmp_path)
    assert _passed(result) == {"exploration.overview"}
    assert [f.id for f in result.red_flags] == ["exploration.none"]
    assert _level(result) == 0


# --------------------------------------------------------------------------- round 2


def test_overview_counts_only_inspections_whose_result_is_shown(tmp_path: Path) -> None:
    code = (
        "import pandas as pd\n"
        "df = pd.read_csv('train.csv')\n"
        "assert all(c in df.columns for c in ['age', 'sex'])\n"
        "if 'zip' in df.columns:\n"
        "    df = df.drop(columns=['zip'])\n"
        "df['age'] = df.apply(lambda r: 0 if pd.isnull(r['age']) else r['age'], axis=1)\n"
        "def fill(x):\n"
        "    return 0 if pd.isnull(x) else x\n"
        "names = [c for c in df.columns if c != 'sex']\n"
    )
    write_files(tmp_path, {"prepare.py": code})
    result = _grade(tmp_path)
    assert "exploration.overview" not in _passed(result)
    assert "exploration.none" in {flag.id for flag in result.red_flags}

    shown = tmp_path / "shown"
    write_files(shown, {"prepare.py": code + "print(df.shape)\nnulls = df.isnull().sum()\n"
                        "print(nulls)\ndf.describe().to_csv('describe.csv')\n"})
    check = by_id(_grade(shown).checks)["exploration.overview"]
    assert check.passed
    assert {e.line for e in check.evidence} >= {10, 11}  # the print and the shown variable


def test_notebook_cell_shows_only_its_last_expression(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("code", LOAD), ("code", "df.head()\nx = 1")])
    assert "exploration.overview" not in _passed(_grade(tmp_path))
    shown = tmp_path / "shown"
    make_notebook(shown, [("code", LOAD), ("code", "x = 1\ndf.head()")])
    assert "exploration.overview" in _passed(_grade(shown))


def test_serving_and_inference_code_is_not_eda(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "app/main.py": "import pandas as pd\ndf = pd.read_csv('houses.csv')\nprint(df.head())\n",
            "src/predict.py": "import pandas as pd\ndf = pd.read_csv('new.csv')\nprint(df.shape)\n",
            "service.py": "from fastapi import FastAPI\nimport pandas as pd\n"
            "df = pd.read_csv('zip.csv')\nprint(df.describe())\n",
        },
    )
    result = _grade(tmp_path)
    assert result.details["eda_paths"] == []
    assert set(result.details["excluded_paths"]) == {"app/main.py", "src/predict.py", "service.py"}
    assert "exploration.overview" not in _passed(result)


def test_a_logo_is_not_a_figure_but_a_saved_analysis_plot_is(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("code", LOAD)])
    write_files(tmp_path, {"img/company-logo.png": png_bytes(), "img/team.png": png_bytes()})
    assert "exploration.plots" not in _passed(_grade(tmp_path))
    saved = tmp_path / "saved"
    write_files(
        saved,
        {
            "eda.py": LOAD + "\nimport matplotlib.pyplot as plt\nplt.savefig('out/amount.png')\n",
            "out/amount.png": png_bytes(),
        },
    )
    result = _grade(saved)
    assert "exploration.plots" in _passed(result)
    named = tmp_path / "named"
    make_notebook(named, [("code", LOAD)])
    write_files(named, {"images/age_histogram.png": png_bytes()})
    assert "exploration.plots" in _passed(_grade(named))


def test_target_found_through_attributes_lists_and_keywords(tmp_path: Path) -> None:
    cells = [
        ("code", LOAD),
        ("code", "y = df.churned\nX = df.drop(columns=['churned', 'id'])"),
        ("code", "df.churned.value_counts()"),
    ]
    make_notebook(tmp_path, cells)
    result = _grade(tmp_path, target=None)
    assert "churned" in result.details["targets"]
    assert "exploration.target_distribution" in _passed(result)
    listed = tmp_path / "listed"
    write_files(listed, {"train.py": "target_col = ['default_ind']\nrun(output_column=['rings'])\n"})
    assert {"default_ind", "rings"} <= set(_grade(listed, target=None).details["targets"])
    grouped = tmp_path / "grouped"
    make_notebook(grouped, [("code", LOAD), ("code", "df.groupby('is_fraud').size().plot.bar()")])
    assert "exploration.target_distribution" in _passed(_grade(grouped))


def test_bold_sentences_and_labelled_bullets_are_findings_but_tool_adverts_are_not() -> None:
    assert findings("**gap widens between income and expense as the month progresses**")
    assert not findings("**Top Transaction types**")
    text = "**Observations**\n- Cash withdrawals lead every month\n- Then travel, groceries\n"
    assert findings(text) == ["Cash withdrawals lead every month", "Then travel, groceries"]
    assert not findings("- Cash withdrawals lead every month\n")  # no label, no cue word
    assert not findings(
        "Sweetviz provides everything needed to compare the features with a much higher speed."
    )


def test_document_facts_with_numbers_count_as_findings(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "README.md": "# My approach\n\n1. The height maximum is 1.13 while the 75th "
            "percentile is 0.17, an outlier that is removed.\n2. Install the requirements.\n",
            "investigate.py": LOAD + "\nprint(df.describe())\n",
        },
    )
    result = _grade(tmp_path)
    assert result.details["written_findings"] == 1


def test_quality_check_must_precede_modelling_and_share_the_data(tmp_path: Path) -> None:
    cells = [
        ("code", LOAD),
        ("code", "model.fit(X, y)"),
        ("code", "df['plan'].value_counts()"),
        ("code", "coefs['name'] = coefs['feature'].map(names)"),
    ]
    make_notebook(tmp_path, cells)
    assert "exploration.quality_acted_on" not in _passed(_grade(tmp_path))
    other = tmp_path / "other"
    make_notebook(other, [("code", LOAD), ("code", "df['plan'].value_counts()"),
                          ("code", "coefs['name'] = coefs['feature'].map(names)")])
    assert "exploration.quality_acted_on" not in _passed(_grade(other))
    same = tmp_path / "same"
    make_notebook(same, [("code", LOAD), ("code", "df.isnull().sum()"),
                         ("code", "df = df.fillna(0)"), ("code", "model.fit(X, y)")])
    assert "exploration.quality_acted_on" in _passed(_grade(same))


def test_profiling_report_is_a_plot_and_checks_in_lambdas_are_not_detections(
    tmp_path: Path,
) -> None:
    cells = [
        ("code", LOAD + "\nimport sweetviz as sv\nreport = sv.analyze(df)"),
        ("code", "modes = df.apply(lambda x: x.value_counts().index[0])"),
        ("code", "df['plan'] = df['plan'].map(lambda x: x)"),
    ]
    make_notebook(tmp_path, cells)
    result = _grade(tmp_path)
    assert "exploration.plots" in _passed(result)
    assert "exploration.quality_acted_on" not in _passed(result)
    assert not findings("Sweetviz is a convenient tool for gaining insights into distributions.")


def test_plot_labels_changelogs_and_inference_pipelines_are_not_exploration(
    tmp_path: Path,
) -> None:
    write_files(
        tmp_path,
        {
            "plots.py": "plt.plot(x, label='Value')\nout = run(y='Risk')\n",
            "pipelines/inference_pipeline.py": LOAD + "\nprint(df.shape)\n",
            "CHANGELOG.md": "- Added `unset PROFILE 2>/dev/null || true` to clear missing settings.\n",
        },
    )
    result = _grade(tmp_path, target=None)
    assert result.details["targets"] == []
    assert "pipelines/inference_pipeline.py" in result.details["excluded_paths"]
    assert result.details["written_findings"] == 0
