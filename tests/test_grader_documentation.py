"""The documentation grader: README sections, notebook narrative, docstrings, red flag."""

from __future__ import annotations

from pathlib import Path

from fixtures_graders import by_id, cell_locations, make_context, make_notebook, write_files

from graders.base import GraderContext, GraderResult
from graders.documentation import DocumentationGrader, headings
from graders.registry import is_harness_fault, run_grader

GOOD_README = """# Fraud detection take-home

## Problem
Flag fraudulent card transactions in a heavily imbalanced data set of payments, so that the
risk team reviews the right ones.

## Approach
Gradient boosting on amount and merchant features, chosen because it handles mixed types and
missing values without heavy preprocessing.

## Results
Average precision 0.81 on a stratified validation split, against 0.05 for the baseline that
predicts the base rate.

## How to run
Install the pinned requirements with pip, then run the notebook top to bottom; it writes the
predictions file.

## Limitations and next steps
No hyper-parameter search yet; since the data is small we kept the model simple and did not
tune thresholds.
"""

INTRO = (
    "# Fraud detection\n"
    "This notebook explores the transactions, builds a model and reports its precision."
)
CONCLUSION = (
    "## Conclusion\n"
    "Boosting beats the baseline; we chose average precision because the classes are imbalanced."
)
DOCUMENTED_MODULE = '''"""Features."""


def build(frame):
    """Add the features."""
    return frame


class Scaler:
    """Scales amounts."""

    def fit(self, values):
        """Learn the scale."""
        return self

    def _private(self):
        return None
'''


def grade(context: GraderContext) -> GraderResult:
    """Run the grader the way the pipeline does; fail on any contract breach."""
    result = run_grader(DocumentationGrader(), context)
    assert not is_harness_fault(result), result.reason
    return result


def test_well_documented_submission_passes_every_check(tmp_path: Path) -> None:
    write_files(tmp_path, {"README.md": GOOD_README, "src/features.py": DOCUMENTED_MODULE})
    make_notebook(
        tmp_path,
        [
            ("markdown", INTRO),
            ("code", "import pandas as pd"),
            ("markdown", "## Model\nWe use boosting rather than a linear model."),
            ("code", "model = 1"),
            ("markdown", CONCLUSION),
        ],
    )
    result = grade(make_context(tmp_path))
    assert [c.id for c in result.checks if c.passed] == [
        "documentation.readme_present",
        "documentation.readme_sections",
        "documentation.notebook_markdown_ratio",
        "documentation.notebook_headings",
        "documentation.notebook_intro",
        "documentation.notebook_conclusion",
        "documentation.explains_choices",
        "documentation.docstrings",
    ]
    assert result.score == 1.0
    assert result.red_flags == []
    checks = by_id(result.checks)
    sections = checks["documentation.readme_sections"]
    assert [(e.note, e.line) for e in sections.evidence] == [
        ("problem", 3),
        ("approach", 7),
        ("results", 11),
        ("how to run", 15),
        ("limitations / next steps", 19),
    ]
    assert cell_locations(checks["documentation.notebook_headings"]) == [
        ("analysis.ipynb", 0, 1),
        ("analysis.ipynb", 2, 1),
        ("analysis.ipynb", 4, 1),
    ]
    assert cell_locations(checks["documentation.notebook_intro"]) == [("analysis.ipynb", 0, 1)]
    assert cell_locations(checks["documentation.notebook_conclusion"]) == [("analysis.ipynb", 4, 1)]
    assert ("README.md", None, 8) in cell_locations(checks["documentation.explains_choices"])
    assert ("analysis.ipynb", 2, 2) in cell_locations(checks["documentation.explains_choices"])
    assert checks["documentation.docstrings"].sentence.startswith("3 of 3 public functions")


def test_no_readme_and_no_prose_is_poor(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("code", "import pandas as pd"), ("code", "df = pd.read_csv('x')")])
    result = grade(make_context(tmp_path))
    assert [c.id for c in result.checks if c.passed] == []
    assert [c.id for c in result.checks] == [
        "documentation.readme_present",
        "documentation.readme_sections",
        "documentation.notebook_markdown_ratio",
        "documentation.notebook_headings",
        "documentation.notebook_intro",
        "documentation.notebook_conclusion",
        "documentation.explains_choices",
    ]
    assert result.score == 0.0
    [flag] = result.red_flags
    assert (flag.id, flag.severity) == ("documentation.poor", "medium")
    assert flag.sentence == (
        "There is no README and the notebooks hold only 0 words of prose: nothing explains the "
        "problem, the approach or the results."
    )
    checks = by_id(result.checks)
    assert "No opening prose" in checks["documentation.notebook_intro"].sentence
    assert "analysis.ipynb" in checks["documentation.notebook_conclusion"].sentence


def test_missing_readme_sections_are_named(tmp_path: Path) -> None:
    readme = (
        "Overview\n========\n\nWe predict fraud from card payments for the risk team, who "
        "review flagged payments every morning.\n\n"
        "Usage\n-----\n\nRun python train.py to fit the model and write predictions.csv.\n"
        "Twenty more words make this README long enough to count as present for the grader.\n"
    )
    write_files(tmp_path, {"README.rst": readme})
    result = grade(make_context(tmp_path))
    sections = by_id(result.checks)["documentation.readme_sections"]
    assert not sections.passed
    assert sections.sentence == (
        "README.rst has 2 of the 5 sections an interviewer needs (problem, how to run); "
        "missing: approach, results, limitations / next steps."
    )
    assert cell_locations(sections) == [("README.rst", None, 1), ("README.rst", None, 6)]
    assert by_id(result.checks)["documentation.readme_present"].passed
    assert result.red_flags == []


def test_undocumented_public_defs_are_listed(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "model.py": "def train(x):\n    return x\n\n\nclass Model:\n    def predict(self):\n"
            "        return 1\n\n\ndef helper():\n    '''Documented.'''\n",
            "tests/test_model.py": "def test_train():\n    assert True\n",
        },
    )
    result = grade(make_context(tmp_path))
    docstrings = by_id(result.checks)["documentation.docstrings"]
    assert not docstrings.passed
    assert docstrings.evidence[0].metric == {"documented": 1, "public": 4}
    assert [(e.path, e.line, e.excerpt) for e in docstrings.evidence[1:]] == [
        ("model.py", 1, "function train"),
        ("model.py", 5, "class Model"),
        ("model.py", 6, "method Model.predict"),
    ]


def test_conclusion_heading_before_a_final_save_cell_counts(tmp_path: Path) -> None:
    make_notebook(
        tmp_path,
        [
            ("markdown", INTRO),
            ("code", "x = 1"),
            ("code", "y = 2"),
            ("markdown", CONCLUSION),
            ("code", "save(y)"),
        ],
    )
    result = grade(make_context(tmp_path))
    conclusion = by_id(result.checks)["documentation.notebook_conclusion"]
    assert conclusion.passed
    assert cell_locations(conclusion) == [("analysis.ipynb", 3, 1)]


def test_headings_skip_code_fences() -> None:
    text = "# Title\n```\n# not a heading\n```\n**Results**\nSetup\n-----\n"
    assert [(h.text, h.line) for h in headings(text)] == [
        ("Title", 1),
        ("Results", 5),
        ("Setup", 6),
    ]


HOLLOW_README = """# Fraud detection

## Problem

## Approach
TODO

## Results

## How to run

## Limitations
"""


def test_headings_without_prose_do_not_count(tmp_path: Path) -> None:
    write_files(tmp_path, {"README.md": HOLLOW_README})
    result = grade(make_context(tmp_path))
    sections = by_id(result.checks)["documentation.readme_sections"]
    assert not sections.passed
    assert sections.sentence == (
        "README.md has 0 of the 5 sections an interviewer needs; present but nearly empty "
        "(under 15 words of prose): problem, approach, results, how to run, "
        "limitations / next steps."
    )
    assert [(e.line, e.note) for e in sections.evidence] == [
        (3, "problem: under 15 words"),
        (5, "approach: under 15 words"),
        (8, "results: under 15 words"),
        (10, "how to run: under 15 words"),
        (12, "limitations / next steps: under 15 words"),
    ]


def test_subsection_prose_counts_and_a_later_full_heading_wins(tmp_path: Path) -> None:
    prose = (
        "This paragraph has well over fifteen words of real prose explaining the work to a "
        "reader who was not there."
    )
    readme = (
        f"# Results\n\n## Validation\n{prose}\n\n"  # H1 with prose only in its subsection
        "# Approach\nshort\n\n"  # too short ...
        f"# Method details\n{prose}\n\n"  # ... but a later approach heading has prose
        "# Usage\n```\npip install -r requirements.txt and then python train.py with "
        "several arguments here\n```\n"  # code is not prose
    )
    write_files(tmp_path, {"README.md": readme})
    sections = by_id(grade(make_context(tmp_path)).checks)["documentation.readme_sections"]
    assert sections.sentence == (
        "README.md has 2 of the 5 sections an interviewer needs (approach, results); present "
        "but nearly empty (under 15 words of prose): how to run; missing: problem, "
        "limitations / next steps."
    )
    assert [(e.line, e.note) for e in sections.evidence] == [
        (1, "results"),
        (9, "approach"),
        (12, "how to run: under 15 words"),
    ]


def test_heading_levels() -> None:
    text = "# A\nTitle\n=====\nSub\n---\nDeep\n~~~~\n**Bold**\n### C\n"
    assert [(h.text, h.level) for h in headings(text)] == [
        ("A", 1),
        ("Title", 1),
        ("Sub", 2),
        ("Deep", 3),
        ("Bold", 7),
        ("C", 3),
    ]
