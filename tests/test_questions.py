"""Question selection by task type, and the weak regression submission the review found.

The weak regression case mirrors the demo's weak diabetes-progression result: no cross-validation
(so the modelling validation question triggers), a model that beats the baseline by a third of
the way to the reference, notebook-only code and no declared dependencies.
"""

from __future__ import annotations

import pytest
from fixtures.report_samples import rubric, strong_graders, weak_graders

from graders.base import Check, GraderResult, RedFlag
from harness.questions import resolve_task_type, select_questions
from harness.rubric import infer_task_type, score_rubric


def checks(grader: str, **passed: bool) -> GraderResult:
    """A grader result from ``check_id=passed`` pairs (weight 1 each)."""
    return GraderResult.from_checks(
        grader, "1", [Check(id=cid, passed=ok, sentence=cid) for cid, ok in passed.items()]
    )


def weak_regression() -> dict[str, GraderResult]:
    """Grader results shaped like the weak diabetes-progression submission."""
    code = checks(
        "code_quality", pylint_score=True, function_length=True, nesting=True, reusable_code=False
    )
    code.red_flags.append(RedFlag(id="notebook_only", severity="medium", sentence="notebook only"))
    exploration = checks("exploration", overview=False, target_distribution=False)
    exploration.red_flags.append(RedFlag(id="none", severity="high", sentence="no exploration"))
    heldout = GraderResult.from_checks(
        "heldout_metrics",
        "1",
        [
            Check(id="predictions_written", passed=True, sentence="written"),
            Check(id="predictions_valid", passed=True, sentence="valid"),
            Check(id="beats_baseline", passed=True, sentence="rmse 70.1 vs baseline 78.4"),
            Check(id="near_reference", passed=False, sentence="far from the reference"),
        ],
        details={"primary_metric": "rmse", "primary_value": 70.1},
    ).model_copy(update={"score": 0.331465})
    return {
        "heldout_metrics": heldout,
        "exploration": exploration,
        "imbalance": GraderResult.not_applicable_result(
            "imbalance", "1", "Not a classification task (task_type 'regression')."
        ),
        "data_quality": checks("data_quality", pipeline=False),
        "modeling": GraderResult.from_checks(
            "modeling",
            "1",
            [
                Check(id=cid, passed=False, weight=weight, sentence=cid)
                for cid, weight in (
                    ("model_families", 2),
                    ("baseline", 1),
                    ("cross_validation", 1),
                    ("hyperparameter_search", 1),
                    ("comparison", 2),
                    ("random_seeds", 1),
                )
            ],
        ),
        "documentation": checks("documentation", readme_present=False, readme_sections=False),
        "tests": checks("tests", present=False),
        "code_quality": code,
        "reproducibility": GraderResult.from_checks(
            "reproducibility",
            "1",
            [
                Check(id="runs_clean", passed=True, weight=3, sentence="ran"),
                Check(id="execution_order", passed=False, sentence="out of order"),
                Check(id="dependencies_declared", passed=False, sentence="none declared"),
            ],
        ),
        "version_control": GraderResult.not_applicable_result(
            "version_control", "1", "No git history submitted."
        ),
    }


def test_task_type_is_inferred_from_the_grader_results():
    assert infer_task_type(weak_regression()) == "regression"
    assert infer_task_type(weak_graders()) == "binary_classification"  # average precision
    only_metric = {
        "heldout_metrics": GraderResult(
            grader="heldout_metrics", version="1", score=0.5, details={"primary_metric": "mae"}
        )
    }
    assert infer_task_type(only_metric) == "regression"
    three_classes = {
        "imbalance": GraderResult(
            grader="imbalance",
            version="1",
            score=0.5,
            details={"class_shares": {"a": 0.8, "b": 0.15, "c": 0.05}},
        )
    }
    assert infer_task_type(three_classes) == "multiclass_classification"
    declared = {
        "modeling": GraderResult(
            grader="modeling", version="1", score=1.0, details={"task_type": "regression"}
        )
    }
    assert infer_task_type(declared) == "regression"
    assert infer_task_type({}) is None


def test_explicit_task_type_wins_over_the_recorded_and_inferred_ones():
    graders = weak_regression()
    scored = score_rubric(rubric(), graders)
    assert scored.task_type == "regression"
    assert resolve_task_type(scored, graders) == "regression"
    assert resolve_task_type(scored, graders, "binary_classification") == "binary_classification"
    assert resolve_task_type(None, {}) is None


def test_weak_regression_gets_no_question_about_positives():
    loaded = rubric()
    graders = weak_regression()
    questions = select_questions(loaded, score_rubric(loaded, graders), graders)
    assert 3 <= len(questions) <= 6
    ids = [q.id for q in questions]
    assert "modeling-validation" not in ids
    assert "modeling-validation-regression" in ids
    for question in questions:
        assert "positive" not in question.text.lower(), question.text
        assert "imbalanc" not in question.text.lower(), question.text


def test_the_same_evidence_on_a_classification_task_asks_about_positives():
    loaded = rubric()
    graders = weak_regression()
    questions = select_questions(
        loaded, score_rubric(loaded, graders), graders, task_type="binary_classification"
    )
    ids = [q.id for q in questions]
    assert "modeling-validation" in ids and "modeling-validation-regression" not in ids


def test_task_limited_templates_are_skipped_when_the_task_type_is_unknown():
    loaded = rubric()
    graders = weak_regression()
    graders["heldout_metrics"].details.clear()
    graders["imbalance"] = GraderResult.not_applicable_result("imbalance", "1", "no target")
    scored = score_rubric(loaded, graders)
    assert scored.task_type is None
    ids = [q.id for q in select_questions(loaded, scored, graders)]
    assert not {"modeling-validation", "modeling-validation-regression"} & set(ids)


def test_weak_regression_levels_match_their_descriptors():
    scored = score_rubric(rubric(), weak_regression())
    heldout = scored.criterion("heldout")
    assert heldout.level == 1 and heldout.descriptor.startswith("Beats the baseline")
    code = scored.criterion("code_quality")
    assert (code.uncapped_level, code.level) == (3, 2)
    assert {c.trigger for c in code.caps} == {
        "code_quality.notebook_only",
        "code_quality.reusable_code",
    }
    assert "Logic in functions" not in code.descriptor
    repro = scored.criterion("reproducibility")
    assert (repro.uncapped_level, repro.level) == (3, 2)
    assert repro.caps[0].trigger == "reproducibility.dependencies_declared"
    assert "pinned" not in repro.descriptor
    data = scored.criterion("data_quality")
    assert "imbalance" not in data.descriptor and "Leaks" not in data.descriptor
    exploration = scored.criterion("exploration")
    assert exploration.level == 0


@pytest.mark.parametrize("kind", ["strong", "weak"])
def test_classification_fixtures_keep_their_task_specific_questions(kind):
    loaded = rubric()
    graders = strong_graders() if kind == "strong" else weak_graders()
    scored = score_rubric(loaded, graders)
    assert scored.task_type == "binary_classification"
    ids = [q.id for q in select_questions(loaded, scored, graders)]
    if kind == "weak":
        assert ids[0] == "imbalance-accuracy"
    assert "modeling-validation-regression" not in ids
