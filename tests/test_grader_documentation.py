"""The documentation grader: the five questions over all written material, prompt and template
text, heading classification by heading and body, unsupported results, the red flags."""

from __future__ import annotations

from pathlib import Path

from fixtures_graders import (
    by_id,
    cell_locations,
    make_context,
    make_notebook,
    text_output,
    write_files,
)

from graders.base import GraderContext, GraderResult
from graders.documentation import (
    DocumentationGrader,
    Section,
    classify,
    headings,
    read_section,
    reported_values,
    split_sections,
)
from graders.registry import is_harness_fault, run_grader
from harness.rubric import load_rubric, score_rubric

FULL_README = """# Churn prediction

## Approach
We trained a gradient boosting model on the usage features. We dropped the customer id and
encoded the plan type with one-hot encoding.

## Why these choices
We chose average precision because the classes are imbalanced. The split is stratified so that
both sets keep the churn rate. Boosting was preferred over a linear model since the
interactions between usage features matter.

## Results
| model | average precision | recall |
|---|---|---|
| baseline | 0.12 | 0.50 |
| boosting | 0.61 | 0.74 |

## How to run
```bash
pip install -r requirements.txt
python train.py
```

## Limitations
The data covers a single quarter, so seasonal effects are not captured. The threshold was not
tuned against a cost, which is a limitation for deployment.
"""

# The files FULL_README's run steps name (a write-up naming missing files is flagged).
RUN_FILES = {"requirements.txt": "pandas\n", "train.py": "print('ok')\n"}

CHECK_IDS = [
    "documentation.approach",
    "documentation.choices",
    "documentation.results",
    "documentation.how_to_run",
    "documentation.limitations",
    "documentation.next_steps",
    "documentation.own_words",
]


def grade(context: GraderContext) -> GraderResult:
    """Run the grader the way the pipeline does; fail on any contract breach."""
    result = run_grader(DocumentationGrader(), context)
    assert not is_harness_fault(result), result.reason
    return result


def level(result: GraderResult) -> int:
    """The documentation level the bundled rubric gives this result."""
    rubric = load_rubric("ml-take-home")
    scored = score_rubric(rubric, {"documentation": result}, task_type="binary_classification")
    found = scored.criterion("documentation").level
    assert found is not None
    return found


def test_readme_answering_the_five_questions_passes_everything(tmp_path: Path) -> None:
    write_files(tmp_path, {"README.md": FULL_README, **RUN_FILES})
    result = grade(make_context(tmp_path))
    assert [c.id for c in result.checks] == CHECK_IDS
    assert all(c.passed for c in result.checks), [c.sentence for c in result.checks]
    assert result.score == 1.0
    assert result.red_flags == []
    assert level(result) == 4
    checks = by_id(result.checks)
    assert cell_locations(checks["documentation.choices"]) == [
        ("README.md", None, 8),
        ("README.md", None, 8),
        ("README.md", None, 9),
    ]
    assert [e.line for e in checks["documentation.results"].evidence] == [15, 16]
    assert cell_locations(checks["documentation.how_to_run"]) == [
        ("README.md", None, 20),
        ("README.md", None, 21),
    ]
    assert checks["documentation.limitations"].evidence[0].excerpt == "Limitations"


def test_a_driver_notebook_without_prose_does_not_sink_a_good_readme(tmp_path: Path) -> None:
    write_files(tmp_path, {"README.md": FULL_README, **RUN_FILES})
    make_notebook(tmp_path, [("code", "import train"), ("code", "train.main()")] * 5)
    result = grade(make_context(tmp_path))
    assert result.score == 1.0
    assert level(result) == 4


NARRATED = [
    ("markdown", "# Fraud model\nWe explore the payments and train a classifier."),
    ("code", "import pandas as pd"),
    (
        "markdown",
        (
            "## Features\nWe dropped the account id and encoded the merchant category. "
            "We used class weights because only two percent of the payments are fraud."
        ),
    ),
    ("code", "model.fit(X, y)"),
    (
        "markdown",
        (
            "## Model choice\nA random forest was selected rather than a linear model, since the "
            "amount interacts with the hour. The threshold was chosen to keep recall high."
        ),
    ),
    ("code", "evaluate(model)"),
    (
        "markdown",
        (
            "## Conclusion\nThe forest reaches a PR AUC of 0.58 and a recall of 0.71 on the "
            "validation split. A limitation is that the data covers one month only. The model "
            "was not validated on a later month. With more time I would add merchant history "
            "features."
        ),
    ),
]


def test_a_narrated_notebook_needs_no_readme(tmp_path: Path) -> None:
    make_notebook(tmp_path, NARRATED)
    result = grade(make_context(tmp_path))
    checks = by_id(result.checks)
    for wanted in ("approach", "choices", "results", "limitations", "next_steps"):
        assert checks[f"documentation.{wanted}"].passed, checks[f"documentation.{wanted}"].sentence
    assert not checks["documentation.how_to_run"].passed
    assert result.red_flags == []
    assert level(result) == 3  # capped: nothing says how to run it
    assert cell_locations(checks["documentation.results"]) == [("analysis.ipynb", 6, 2)]


def test_running_the_pipeline_heading_is_how_to_run_not_approach() -> None:
    text = "## Executing the pipeline\n```\npython main.py --config config.yaml\n```\n"
    [section] = split_sections("README.md", None, "document", text)
    facts = read_section(section)
    assert facts.kind == "how_to_run"
    assert [c.text for c in facts.commands] == ["python main.py --config config.yaml"]
    prose = "## Pipeline\nThe pipeline cleans the rows, encodes the categories and fits a model.\n"
    assert read_section(split_sections("README.md", None, "document", prose)[0]).kind == "approach"


def test_a_run_heading_over_prose_without_commands_is_read_as_approach() -> None:
    body = (
        "The experimental setup compares three model families on five stratified folds, each "
        "tuned on its own inner split, with the same features, the same seed and the same "
        "metric everywhere, so that the comparison is fair."
    )
    section = Section("README.md", None, "document", "Setup", 1, ((2, body),), "Setup")
    assert classify(section, read_section(section)) == "approach"


PROMPT = """# Assignment
Your task is to build a model that predicts churn. You should justify your model selection
because we want to understand your reasoning. Explain why you chose your metric. What would you
do with more time?
"""


def test_pasted_prompt_is_not_credited(tmp_path: Path) -> None:
    write_files(tmp_path, {"README.md": PROMPT})
    result = grade(make_context(tmp_path))
    assert result.score == 0.0
    flags = by_id(result.red_flags)
    assert set(flags) == {"documentation.prompt_text", "documentation.poor"}
    assert cell_locations(flags["documentation.prompt_text"]) == [("README.md", None, 1)]
    assert level(result) == 0


def test_planning_and_instructions_are_not_reasons(tmp_path: Path) -> None:
    plan = (
        "# Plan\n"
        "- We will use SMOTE because the classes are imbalanced.\n"
        "- Justify model selection since it matters to the reviewers.\n"
        "- Use stratified folds so that each fold keeps the positive rate.\n"
        "- Why is recall the right metric because of the cost?\n"
    )
    write_files(tmp_path, {"README.md": plan})
    choices = by_id(grade(make_context(tmp_path)).checks)["documentation.choices"]
    assert not choices.passed
    assert choices.evidence == []


def test_placeholder_sections_raise_template_text(tmp_path: Path) -> None:
    readme = FULL_README + "\n## API\nComing soon.\n\n## Docker\nTBD\n"
    write_files(tmp_path, {"README.md": readme})
    result = grade(make_context(tmp_path))
    flag = by_id(result.red_flags)["documentation.template_text"]
    assert [(e.line, e.excerpt) for e in flag.evidence] == [(28, "API"), (31, "Docker")]
    assert level(result) == 2  # capped


def test_requirements_are_not_results_and_values_are_counted() -> None:
    assert reported_values("- F1 score >= 75% (hard requirement)") == 0
    assert reported_values("The model achieved an accuracy of 93.5% with an AUC of 0.96.") == 2
    assert reported_values("| boosting | 0.61 | 0.74 |", table_row=True) == 2


def test_reported_numbers_are_compared_with_saved_outputs(tmp_path: Path) -> None:
    write_files(tmp_path, {"README.md": FULL_README, **RUN_FILES})
    make_notebook(
        tmp_path,
        [("code", "print(scores)")],
        outputs={0: [text_output("average precision 0.6112, recall 0.7391")]},
    )
    supported = by_id(grade(make_context(tmp_path)).checks)["documentation.results_supported"]
    assert supported.passed
    assert supported.sentence.startswith("2 of the 4 values")


def test_numbers_no_output_shows_are_noted(tmp_path: Path) -> None:
    write_files(tmp_path, {"README.md": FULL_README, **RUN_FILES})
    make_notebook(
        tmp_path, [("code", "print(scores)")], outputs={0: [text_output("ap 0.33 recall 0.41")]}
    )
    result = grade(make_context(tmp_path))
    supported = by_id(result.checks)["documentation.results_supported"]
    assert not supported.passed
    assert [(e.line, e.note) for e in supported.evidence][:2] == [
        (15, "0.12 not found in any output or code"),
        (15, "0.50 not found in any output or code"),
    ]
    assert level(result) == 4  # low confidence: noted, never capping


def test_no_saved_output_means_no_comparison(tmp_path: Path) -> None:
    write_files(tmp_path, {"README.md": FULL_README, "train.py": "print('ok')\n"})
    ids = [c.id for c in grade(make_context(tmp_path)).checks]
    assert "documentation.results_supported" not in ids


def test_module_docstrings_count_as_written_material(tmp_path: Path) -> None:
    module = (
        '"""Training script.\n\nThe script loads the payments, splits them by date and trains a '
        "gradient boosting model.\nThe features are scaled and the categories are encoded.\n"
        'The model is saved with its threshold.\n"""\n'
    )
    write_files(tmp_path, {"src/train.py": module, "tests/test_train.py": '"""Tests."""\n'})
    approach = by_id(grade(make_context(tmp_path)).checks)["documentation.approach"]
    assert approach.passed
    assert {e.path for e in approach.evidence} == {"src/train.py"}


def test_no_readme_and_no_prose_is_poor(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("code", "import pandas as pd"), ("code", "df = pd.read_csv('x')")])
    result = grade(make_context(tmp_path))
    assert result.score == 0.0
    [flag] = result.red_flags
    assert (flag.id, flag.severity) == ("documentation.poor", "medium")
    assert flag.sentence.startswith("There is no README and the whole submission holds only 0")
    assert level(result) == 0


def test_run_commands_alone_are_level_one(tmp_path: Path) -> None:
    write_files(tmp_path, {"README.md": "# Model\n\n```\npip install -r requirements.txt\n```\n"})
    result = grade(make_context(tmp_path))
    assert [c.id for c in result.checks if c.passed] == ["documentation.how_to_run"]
    assert level(result) == 1


def test_what_without_why_is_level_two(tmp_path: Path) -> None:
    before, rest = FULL_README.split("## Why these choices")
    readme = before + "## Results" + rest.split("## Results")[1]
    write_files(tmp_path, {"README.md": readme})
    result = grade(make_context(tmp_path))
    assert not by_id(result.checks)["documentation.choices"].passed
    assert level(result) == 2


def test_licence_and_changelog_are_not_the_write_up(tmp_path: Path) -> None:
    write_files(tmp_path, {"CHANGELOG.md": FULL_README, "LICENSE.md": FULL_README})
    assert grade(make_context(tmp_path)).score == 0.0


def test_headings_skip_code_fences() -> None:
    text = "# Title\n```\n# not a heading\n```\n**Results**\nSetup\n-----\n"
    assert [(h.text, h.line) for h in headings(text)] == [
        ("Title", 1),
        ("Results", 5),
        ("Setup", 6),
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


def test_a_task_list_addressed_to_the_candidate_is_prompt_text(tmp_path: Path) -> None:
    task = (
        "## Task\n"
        "Build a classifier that predicts which loans default. Use any model you like. "
        "Evaluate it on a held-out split. Document your assumptions. How would you deploy it?\n"
    )
    [section] = split_sections("README.md", None, "document", task)
    assert read_section(section).prompt
    own_steps = "## Steps\nTrain a boosted model. Tune the threshold on validation. Compare it.\n"
    [section] = split_sections("README.md", None, "document", own_steps)
    assert not read_section(section).prompt  # the candidate's own imperative step list


def test_bracketed_placeholders_are_template_leftovers(tmp_path: Path) -> None:
    readme = FULL_README + "\n## Author\n[Your name here]. See [the docs](docs/index.md).\n"
    write_files(tmp_path, {"README.md": readme})
    flag = by_id(grade(make_context(tmp_path)).red_flags)["documentation.template_text"]
    assert [e.excerpt for e in flag.evidence] == ["[Your name here]. See [the docs](docs/index.md)."]


def test_statements_under_a_choices_heading_are_reasons(tmp_path: Path) -> None:
    readme = (
        "## Why gradient boosting\n"
        "Boosted trees handle missing amounts natively. They capture interactions between the "
        "hour and the merchant. Training takes seconds on the full data set.\n"
    )
    write_files(tmp_path, {"README.md": readme})
    choices = by_id(grade(make_context(tmp_path)).checks)["documentation.choices"]
    assert choices.passed
    assert [e.line for e in choices.evidence] == [2, 2, 2]


def test_one_headline_metric_is_a_result_but_a_requirement_is_not(tmp_path: Path) -> None:
    reported, required = tmp_path / "reported", tmp_path / "required"
    write_files(reported, {"README.md": "# Model\nThe final model reaches a ROC AUC of 0.87.\n"})
    assert by_id(grade(make_context(reported)).checks)["documentation.results"].passed
    write_files(required, {"README.md": "# Model\nThe model must reach ROC AUC >= 0.87.\n"})
    assert not by_id(grade(make_context(required)).checks)["documentation.results"].passed


def test_subject_less_past_tense_bullets_describe_what_was_done(tmp_path: Path) -> None:
    readme = (
        "# Churn\n"
        "- **Problem framing**: Defined the target as no purchase in the last ninety days.\n"
        "- Created aggregated features per customer from the raw orders.\n"
        "- Built a logistic regression pipeline with scaling and one-hot encoding.\n"
        "- Weighted F1 of the model was reported too.\n"
    )
    write_files(tmp_path, {"README.md": readme})
    approach = by_id(grade(make_context(tmp_path)).checks)["documentation.approach"]
    assert approach.passed, approach.sentence
    assert [e.line for e in approach.evidence] == [2, 3, 4, 5]
    steps = "# Churn\n- Build a model on the orders.\n- Train it on the features.\n"
    write_files(tmp_path / "imperative", {"README.md": steps})
    imperative = by_id(grade(make_context(tmp_path / "imperative")).checks)
    assert not imperative["documentation.approach"].passed  # present imperative: not a report


def test_a_couple_of_own_sentences_are_level_one_but_a_pasted_prompt_is_zero(
    tmp_path: Path,
) -> None:
    own = "# Titanic\nThis is a small project on the Titanic passengers. It predicts survival.\n"
    write_files(tmp_path / "own", {"README.md": own})
    result = grade(make_context(tmp_path / "own"))
    assert by_id(result.checks)["documentation.own_words"].passed
    assert level(result) == 1
    write_files(tmp_path / "title", {"README.md": "# Titanic\nMy take-home solution.\n"})
    assert level(grade(make_context(tmp_path / "title"))) == 0
    write_files(tmp_path / "prompt", {"README.md": PROMPT})
    pasted = grade(make_context(tmp_path / "prompt"))
    assert not by_id(pasted.checks)["documentation.own_words"].passed
    assert level(pasted) == 0


def test_sub_headings_of_a_run_heading_are_run_instructions(tmp_path: Path) -> None:
    readme = (
        "# Model\n## How to run\n### With Docker\n"
        "Build the image, then run the container from the repository root with the data "
        "folder mounted.\n"
        "### Model training\nRun the training script; it writes the model file to models/.\n"
    )
    sections = split_sections("README.md", None, "document", readme)
    kinds = [read_section(s).kind for s in sections]
    assert kinds == ["approach", None, "how_to_run", "how_to_run"]
    write_files(tmp_path, {"README.md": readme})
    assert by_id(grade(make_context(tmp_path)).checks)["documentation.how_to_run"].passed


def test_notebook_sub_headings_inherit_across_cells() -> None:
    first = split_sections("a.ipynb", 1, "notebook", "## Limitations")
    [section] = split_sections(
        "a.ipynb", 2, "notebook", "### Data\nOne month only.", "Limitations", first[-1].outline()
    )
    assert read_section(section).kind == "limitations"


def test_r_make_and_notebook_run_lines_are_commands(tmp_path: Path) -> None:
    for line in ('source("main.R")', "Rscript analysis.R", "make train"):
        [section] = split_sections("README.md", None, "document", f"# Use\n{line}\n")
        assert [c.text for c in read_section(section).commands] == [line]
    notebook_line = "# Churn\nOpen and run all cells of analysis.ipynb to train the model.\n"
    write_files(tmp_path / "nb", {"README.md": notebook_line})
    assert by_id(grade(make_context(tmp_path / "nb")).checks)["documentation.how_to_run"].passed
    makefile = "help:\n\t@grep -E '^[a-z]+:.*##' Makefile\ntrain: ## fit the model\n\tpython t.py\n"
    write_files(tmp_path / "mk", {"Makefile": makefile, "README.md": "# Model\n"})
    run = by_id(grade(make_context(tmp_path / "mk")).checks)["documentation.how_to_run"]
    assert run.passed
    assert cell_locations(run) == [("Makefile", None, 1)]


def test_next_steps_sentence_agrees_with_its_verdict_and_caps_at_two(tmp_path: Path) -> None:
    before, _ = FULL_README.split("## Limitations")
    write_files(tmp_path / "none", {"README.md": before})
    result = grade(make_context(tmp_path / "none"))
    check = by_id(result.checks)["documentation.next_steps"]
    assert not check.passed
    assert "neither limitations nor next steps" in check.sentence
    assert level(result) == 2  # explains what, why and results, but no limits at all
    write_files(tmp_path / "lim", {"README.md": FULL_README})
    passed = by_id(grade(make_context(tmp_path / "lim")).checks)["documentation.next_steps"]
    assert passed.passed
    assert "1 limitations section" in passed.sentence


def test_no_cross_validation_bullets_are_limitations(tmp_path: Path) -> None:
    readme = FULL_README.split("## Limitations")[0] + (
        "## Notes\n- No cross-validation: a single split was used.\n"
        "- No hyperparameter tuning was done on the forest.\n"
        "- No missing values were found in the data.\n"
    )
    write_files(tmp_path, {"README.md": readme})
    limitations = by_id(grade(make_context(tmp_path)).checks)["documentation.limitations"]
    assert limitations.passed, limitations.sentence
    assert [e.line for e in limitations.evidence] == [25, 26]  # not the missing-values finding


def test_general_knowledge_answers_are_not_reasons_or_work(tmp_path: Path) -> None:
    readme = (
        "# Part 1: Questions\n## What is LASSO?\n"
        "LASSO is a linear regression with an L1 penalty, which helps select features. It is "
        "used because it shrinks weak coefficients to zero. Ridge is preferred when features "
        "are correlated since it keeps them all.\n"
        "## Gradient descent\nStochastic gradient descent is used to fit models on large data "
        "sets because each step uses a sample. The learning rate is chosen to keep it stable.\n"
    )
    write_files(tmp_path, {"README.md": readme})
    checks = by_id(grade(make_context(tmp_path)).checks)
    assert not checks["documentation.choices"].passed, checks["documentation.choices"].sentence
    assert not checks["documentation.approach"].passed
    own = readme + "## Why LASSO here\nI chose LASSO because our features are many and noisy.\n"
    write_files(tmp_path / "own", {"README.md": own})
    reasons = by_id(grade(make_context(tmp_path / "own")).checks)["documentation.choices"]
    assert [e.line for e in reasons.evidence] == [7]


def test_a_considerations_section_touches_on_next_steps(tmp_path: Path) -> None:
    before, _ = FULL_README.split("## Limitations")
    readme = before + (
        "## Considerations for deployment\n"
        "The model needs monitoring for drift and a retraining schedule once it is served.\n"
    )
    write_files(tmp_path, {"README.md": readme, **RUN_FILES})
    result = grade(make_context(tmp_path))
    assert by_id(result.checks)["documentation.next_steps"].passed
    assert level(result) == 3


def test_a_write_up_naming_files_that_are_not_there_is_flagged(tmp_path: Path) -> None:
    write_files(tmp_path / "a", {"README.md": FULL_README})  # names train.py, requirements.txt
    result = grade(make_context(tmp_path / "a"))
    flag = next(f for f in result.red_flags if f.id == "documentation.missing_files")
    assert "2 of 2" in flag.sentence
    assert [(e.path, e.line, e.excerpt) for e in flag.evidence] == [
        ("README.md", 20, "requirements.txt"),
        ("README.md", 21, "train.py"),
    ]
    assert level(result) == 2
    # present anywhere in the submission (any folder), or named in a URL: not flagged
    readme = FULL_README + "\nSee https://example.org/docs/setup.md for the cluster.\n"
    write_files(tmp_path / "b", {"README.md": readme, "requirements.txt": "x\n",
                                 "src/train.py": "print(1)\n"})  # fmt: skip
    assert not any(f.id == "documentation.missing_files"
                   for f in grade(make_context(tmp_path / "b")).red_flags)  # fmt: skip


def test_a_plain_weakness_of_the_results_is_a_limitation(tmp_path: Path) -> None:
    readme = FULL_README.split("## Limitations")[0] + (
        "## Discussion\nThe F1 scores are at best average on the minority class.\n"
        "The model performs poorly on customers with short histories.\n"
    )
    write_files(tmp_path, {"README.md": readme, **RUN_FILES})
    checks = by_id(grade(make_context(tmp_path)).checks)
    assert checks["documentation.limitations"].passed
    assert [e.line for e in checks["documentation.limitations"].evidence] == [25, 26]


def test_a_write_up_silent_on_the_model_and_its_results_says_not_what_was_done(
    tmp_path: Path,
) -> None:
    cleaning = (
        "# Churn\n\n## Data preparation\nWe dropped the customer id column from the data. The "
        "missing ages were imputed with the median of the column. The plan type was encoded "
        "with one-hot encoding. Outliers in the usage features were clipped at the 99th "
        "percentile.\n"
    )
    code = {"train.py": "model.fit(X_train, y_train)\n"}
    write_files(tmp_path / "a", {"README.md": cleaning, **code})
    result = grade(make_context(tmp_path / "a"))
    check = by_id(result.checks)["documentation.approach"]
    assert not check.passed
    assert "no sentence says what was modelled" in check.sentence
    assert level(result) == 1
    # one sentence saying what was modelled is enough; so is a reported result
    modelled = cleaning + "We trained a random forest classifier on the cleaned features.\n"
    write_files(tmp_path / "b", {"README.md": modelled, **code})
    assert by_id(grade(make_context(tmp_path / "b")).checks)["documentation.approach"].passed
    # without any training code (an analysis take-home) the cleaning write-up is an approach
    write_files(tmp_path / "c", {"README.md": cleaning})
    assert by_id(grade(make_context(tmp_path / "c")).checks)["documentation.approach"].passed


def test_results_found_nowhere_in_the_saved_outputs_are_flagged(tmp_path: Path) -> None:
    outputs = {0: [text_output("ap 0.33 recall 0.41")]}
    readme = FULL_README.replace("| boosting | 0.61 | 0.74 |",
                                 "| boosting | 0.61 | 0.74 |\n| forest | 0.58 | 0.69 |")  # fmt: skip
    write_files(tmp_path / "a", {"README.md": readme, **RUN_FILES})
    make_notebook(tmp_path / "a", [("code", "print(scores)")], outputs=outputs)
    result = grade(make_context(tmp_path / "a"))
    flag = next(f for f in result.red_flags if f.id == "documentation.results_unbacked")
    assert [(e.line, e.excerpt) for e in flag.evidence][:1] == [(15, "| baseline | 0.12 | 0.50 |")]
    assert level(result) == 2
    # one reported value that a saved output shows is enough to lift the flag (not the check)
    write_files(tmp_path / "b", {"README.md": readme, **RUN_FILES})
    make_notebook(tmp_path / "b", [("code", "print(scores)")],
                  outputs={0: [text_output("ap 0.61 recall 0.41")]})  # fmt: skip
    result = grade(make_context(tmp_path / "b"))
    assert not by_id(result.checks)["documentation.results_supported"].passed
    assert not any(f.id == "documentation.results_unbacked" for f in result.red_flags)


def test_observations_about_the_data_do_not_describe_what_was_done() -> None:
    from graders.documentation_text import describes_action

    for observation in (
        "Unfortunately the classes are extremely unbalanced in the data.",
        "The amount column is highly correlated with the balance column.",
        "Surprised to see that the largest transaction in the data is small.",
        "I expected the missing values to be rarer in this column.",
        "We noticed that the target is skewed towards the first label.",
    ):
        assert not describes_action(observation), observation
    for action in (
        "The missing ages were imputed with the median of the column.",
        "We dropped the customer id column from the data.",
        "Trained a gradient boosting model on the usage features.",
        "The classes were balanced with class weights in the model.",
        "The customers were clustered using k-means on their usage features.",
    ):
        assert describes_action(action), action


NARRATION = [
    ("markdown", "## Data cleaning\nWe dropped the rows without a label from the data."),
    ("code", "df = df.dropna()"),
    ("markdown", "The missing ages were imputed with the median of the column."),
    ("code", "df['age'] = df['age'].fillna(df['age'].median())"),
    ("markdown", "The plan type was encoded with one-hot encoding before the split."),
    ("markdown", "We trained a random forest classifier on the cleaned features."),
    ("code", "model.fit(X_train, y_train)"),
]


def test_notebook_narration_without_a_write_up_or_results_is_not_what_was_done(
    tmp_path: Path,
) -> None:
    # a README that only says how to run it, notebook cells narrating the steps, no result
    run_only = "# Project\n\n## How to run\n```bash\npip install -r requirements.txt\n```\n"
    write_files(tmp_path / "a", {"README.md": run_only, "requirements.txt": "pandas\n"})
    make_notebook(tmp_path / "a", NARRATION)
    result = grade(make_context(tmp_path / "a"))
    check = by_id(result.checks)["documentation.approach"]
    assert not check.passed
    assert "no document" in check.sentence
    assert level(result) == 1
    # the same notebook reporting what came of it documents the work
    reported = [*NARRATION, ("markdown", "The model reaches a recall of 0.71 on validation.")]
    write_files(tmp_path / "b", {"README.md": run_only, "requirements.txt": "pandas\n"})
    make_notebook(tmp_path / "b", reported)
    assert by_id(grade(make_context(tmp_path / "b")).checks)["documentation.approach"].passed
    # so does a README that describes the work itself
    described = run_only + (
        "\n## Approach\nWe dropped the rows without a label. The missing ages were imputed with "
        "the median. We trained a random forest classifier on the cleaned features.\n"
    )
    write_files(tmp_path / "c", {"README.md": described, "requirements.txt": "pandas\n"})
    make_notebook(tmp_path / "c", NARRATION)
    assert by_id(grade(make_context(tmp_path / "c")).checks)["documentation.approach"].passed


def test_a_run_heading_whose_prose_is_about_running_stays_how_to_run() -> None:
    body = (
        "After executing the commands above, the service is available on the local port and "
        "its documentation page lists every endpoint it serves, with an example request and "
        "the response each endpoint returns for it."
    )
    section = Section("README.md", None, "document", "Start", 1, ((2, body),), "Start")
    assert classify(section, read_section(section)) != "approach"


def test_a_readme_write_up_without_numbers_reports_no_results(tmp_path: Path) -> None:
    write_up = (
        "# Churn\n\n## Approach\nWe dropped the customer id column from the data. The missing "
        "ages were imputed with the median. We trained a random forest classifier on the "
        "cleaned features. We compared it with a logistic regression baseline.\n"
    )
    scored = [("markdown", "The forest reaches a recall of 0.71 on the validation split.")]
    write_files(tmp_path / "a", {"README.md": write_up})
    make_notebook(tmp_path / "a", scored)
    checks = by_id(grade(make_context(tmp_path / "a")).checks)
    results = checks["documentation.results"]
    assert not results.passed and "only in notebook cells" in results.sentence
    assert cell_locations(results) == [("analysis.ipynb", 0, 1)]
    assert checks["documentation.approach"].passed  # the notebook's value is still a result
    # the README giving the number reports it; so does a notebook that is the write-up
    write_files(tmp_path / "b", {"README.md": write_up + "\nThe forest reaches an F1 of 0.64.\n"})
    make_notebook(tmp_path / "b", scored)
    assert by_id(grade(make_context(tmp_path / "b")).checks)["documentation.results"].passed
    write_files(tmp_path / "c", {"README.md": "# Churn\nSee the notebook for the analysis.\n"})
    make_notebook(tmp_path / "c", scored)
    assert by_id(grade(make_context(tmp_path / "c")).checks)["documentation.results"].passed
