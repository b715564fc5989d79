"""Rubric loading (errors with line numbers), scoring, renormalisation, faults and questions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fixtures.report_samples import GRADERS, make_result, rubric, strong_graders, weak_graders

from graders.base import Check, GraderResult, RedFlag
from harness.errors import SpecError
from harness.questions import FlagRef, select_questions
from harness.rubric import (
    Rubric,
    level_for,
    load_rubric,
    rubric_hash,
    score_rubric,
)

MINIMAL = """\
name: mini
title: Mini rubric
thresholds: [0.2, 0.4, 0.6, 0.8]
criteria:
  - id: explore
    title: Exploration
    weight: 2
    graders: [exploration]
    levels: {0: none, 1: weak, 2: partial, 3: solid, 4: excellent}
    questions:
      - id: explore-generic
        text: What did you look at first?
  - id: tests
    title: Tests
    weight: 1
    graders: [tests]
    levels: {0: none, 1: weak, 2: partial, 3: solid, 4: excellent}
    questions:
      - id: tests-first
        text: Which part would you test first?
        triggers: ["level<=1"]
  - id: both
    title: Both
    weight: 1
    graders:
      - grader: code_quality
        weight: 3
      - grader: documentation
    levels: {0: none, 1: weak, 2: partial, 3: solid, 4: excellent}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rubric.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def result(name: str, score: float | None, reason: str | None = None) -> GraderResult:
    if score is None:
        return GraderResult(
            grader=name, version="1", not_applicable=True, reason=reason or "not applicable"
        )
    return GraderResult(grader=name, version="1", score=score, reason=reason)


def mini(tmp_path: Path) -> Rubric:
    return load_rubric(write(tmp_path, MINIMAL), known_graders=GRADERS)


# --- loading -------------------------------------------------------------------------------------


def test_default_rubric_covers_every_grader():
    loaded = rubric()
    used = {ref.grader for c in loaded.criteria for ref in c.graders}
    assert used == set(GRADERS)
    assert len(loaded.criteria) == 8
    assert all(sorted(c.levels) == [0, 1, 2, 3, 4] for c in loaded.criteria)


def test_default_rubric_loads_by_name_with_registered_graders():
    assert load_rubric("ml-take-home").name == "ml-take-home"


def error_line(excinfo: pytest.ExceptionInfo, path: Path) -> int:
    message = str(excinfo.value)
    assert f"{path}:" in message, message
    return int(message.split(f"{path}:", 1)[1].split(":", 1)[0])


def test_unknown_grader_is_an_error_with_its_line(tmp_path):
    path = write(tmp_path, MINIMAL.replace("graders: [tests]", "graders: [testz]"))
    with pytest.raises(SpecError, match="unknown grader 'testz'") as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) == 16


def test_non_positive_weight_is_an_error_with_its_line(tmp_path):
    path = write(tmp_path, MINIMAL.replace("weight: 2", "weight: 0"))
    with pytest.raises(SpecError, match="greater than 0") as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) == 7


def test_nested_grader_weight_error_points_at_that_line(tmp_path):
    path = write(tmp_path, MINIMAL.replace("weight: 3", "weight: -1"))
    with pytest.raises(SpecError) as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) == 27


def test_thresholds_not_increasing_is_an_error_with_its_line(tmp_path):
    path = write(tmp_path, MINIMAL.replace("[0.2, 0.4, 0.6, 0.8]", "[0.2, 0.6, 0.4, 0.8]"))
    with pytest.raises(SpecError, match="strictly increasing") as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) == 3


@pytest.mark.parametrize(
    "thresholds", ["[0.0, 0.4, 0.6, 0.8]", "[0.2, 0.4, 0.6, 1.2]", "[0.2, 0.4, 0.6]"]
)
def test_thresholds_out_of_range_or_wrong_count_are_rejected(tmp_path, thresholds):
    path = write(tmp_path, MINIMAL.replace("[0.2, 0.4, 0.6, 0.8]", thresholds))
    with pytest.raises(SpecError, match="thresholds|threshold"):
        load_rubric(path, known_graders=GRADERS)


def test_missing_level_descriptor_is_an_error_with_its_line(tmp_path):
    text = MINIMAL.replace(
        "levels: {0: none, 1: weak, 2: partial, 3: solid, 4: excellent}\n"
        "    questions:\n      - id: tests-first",
        "levels: {0: none, 1: weak, 3: solid, 4: excellent}\n"
        "    questions:\n      - id: tests-first",
    )
    path = write(tmp_path, text)
    with pytest.raises(SpecError, match="exactly the levels") as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) == 17


def test_bad_trigger_is_rejected(tmp_path):
    path = write(tmp_path, MINIMAL.replace('["level<=1"]', '["level<=9"]'))
    with pytest.raises(SpecError, match="trigger") as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) == 21


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(
        tmp_path,
        MINIMAL.replace("    weight: 1\n    graders: [tests]", "    weight: 1\n   graders: [tests"),
    )
    with pytest.raises(SpecError, match="invalid YAML") as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) >= 15


def test_unknown_key_is_rejected(tmp_path):
    path = write(tmp_path, MINIMAL.replace("    weight: 2\n", "    weight: 2\n    wieght: 3\n"))
    with pytest.raises(SpecError, match="wieght") as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) == 8


def test_duplicate_criterion_ids_are_rejected(tmp_path):
    path = write(tmp_path, MINIMAL.replace("id: tests\n", "id: explore\n"))
    with pytest.raises(SpecError, match="duplicate criterion ids: explore"):
        load_rubric(path, known_graders=GRADERS)


def test_rubric_hash_is_stable_and_content_sensitive(tmp_path):
    first = mini(tmp_path)
    assert rubric_hash(first) == rubric_hash(mini(tmp_path))
    changed = load_rubric(
        write(tmp_path, MINIMAL.replace("weight: 2", "weight: 3")), known_graders=GRADERS
    )
    assert rubric_hash(changed) != rubric_hash(first)


# --- scoring -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "score,level", [(0.0, 0), (0.19, 0), (0.2, 1), (0.59, 2), (0.6, 3), (0.8, 4), (1.0, 4)]
)
def test_level_is_the_number_of_thresholds_reached(score, level):
    assert level_for(score, [0.2, 0.4, 0.6, 0.8]) == level


def test_criterion_score_is_the_weighted_mean_and_total_is_weighted(tmp_path):
    scored = score_rubric(
        mini(tmp_path),
        {
            "exploration": result("exploration", 0.5),
            "tests": result("tests", 1.0),
            "code_quality": result("code_quality", 1.0),
            "documentation": result("documentation", 0.2),
        },
    )
    both = scored.criterion("both")
    assert both.score == pytest.approx((3 * 1.0 + 1 * 0.2) / 4)
    assert both.level == 4
    assert scored.criterion("explore").level == 2
    assert scored.criterion("explore").effective_weight == pytest.approx(0.5)
    assert scored.total == pytest.approx(100 * (2 * 0.5 + 1 * 1.0 + 1 * 0.8) / 4, abs=0.05)


def test_not_applicable_grader_is_left_out_of_its_criterion(tmp_path):
    scored = score_rubric(
        mini(tmp_path),
        {
            "exploration": result("exploration", 0.5),
            "tests": result("tests", 1.0),
            "code_quality": result("code_quality", None),
            "documentation": result("documentation", 0.2),
        },
    )
    assert scored.criterion("both").score == pytest.approx(0.2)
    assert scored.criterion("both").grader_scores == {"code_quality": None, "documentation": 0.2}


def test_all_not_applicable_criterion_drops_out_and_weights_renormalise(tmp_path):
    scored = score_rubric(
        mini(tmp_path),
        {
            "exploration": result("exploration", 0.5),
            "tests": result("tests", None),
            "code_quality": result("code_quality", 1.0),
            "documentation": result("documentation", 1.0),
        },
    )
    tests = scored.criterion("tests")
    assert not tests.applicable and tests.score is None and tests.level is None
    assert tests.weight == 1 and tests.effective_weight == 0
    assert scored.criterion("explore").effective_weight == pytest.approx(2 / 3, abs=1e-6)
    assert scored.criterion("both").effective_weight == pytest.approx(1 / 3, abs=1e-6)
    assert scored.total == pytest.approx(100 * (2 * 0.5 + 1.0) / 3, abs=0.05)


def test_harness_fault_is_never_scored(tmp_path):
    fault = GraderResult(
        grader="documentation", version="1", score=1.0, reason="grader error: KeyError('x')"
    )
    scored = score_rubric(
        mini(tmp_path),
        {
            "exploration": result("exploration", 0.5),
            "tests": result("tests", 0.5),
            "code_quality": result("code_quality", 1.0),
            "documentation": fault,
        },
    )
    both = scored.criterion("both")
    assert both.harness_fault and both.score is None and both.level is None
    assert both.status == "not graded (harness fault)" and both.effective_weight == 0
    assert scored.harness_fault
    assert scored.total == pytest.approx(50.0)  # only explore and tests (both 0.5) count


def test_missing_grader_result_counts_as_harness_fault(tmp_path):
    scored = score_rubric(
        mini(tmp_path), {"exploration": result("exploration", 1.0), "tests": result("tests", 1.0)}
    )
    assert scored.criterion("both").harness_fault
    assert "no result" in scored.criterion("both").note
    assert scored.total == 100.0


def test_nothing_graded_means_no_total(tmp_path):
    scored = score_rubric(mini(tmp_path), {name: result(name, None) for name in GRADERS})
    assert scored.total is None


def test_check_ids_narrow_a_criterion_to_some_checks(tmp_path):
    text = MINIMAL.replace(
        "graders: [tests]", "graders:\n      - grader: tests\n        checks: [tests.a, b]"
    )
    narrowed = load_rubric(write(tmp_path, text), known_graders=GRADERS)
    tests = GraderResult.from_checks(
        "tests",
        "1",
        [
            Check(id="a", passed=True, sentence="a"),
            Check(id="b", passed=False, sentence="b"),
            Check(id="c", passed=False, weight=10, sentence="c"),
        ],
    )
    scored = score_rubric(
        narrowed,
        {
            "tests": tests,
            "exploration": result("exploration", 1),
            "code_quality": result("code_quality", 1),
            "documentation": result("documentation", 1),
        },
    )
    assert scored.criterion("tests").score == pytest.approx(0.5)


# --- questions -----------------------------------------------------------------------------------


def test_accuracy_only_submission_is_asked_about_evaluation_first():
    weak = make_result("weak")
    assert 3 <= len(weak.questions) <= 6
    assert weak.questions[0].id == "imbalance-accuracy"
    assert "accuracy misleading" in weak.questions[0].text
    ids = [q.id for q in weak.questions]
    assert "imbalance-resample-split" in ids
    assert "tests-first" in ids  # no tests at all → level 0 → "which part would you test first"
    assert len(ids) == len(set(ids))


def test_strong_submission_gets_generic_questions_to_reach_three():
    strong = make_result("strong")
    assert len(strong.questions) == 3
    assert all(q.trigger is None for q in strong.questions)


def test_questions_are_deterministic_and_tailored():
    loaded = rubric()
    graders = weak_graders()
    first = select_questions(loaded, score_rubric(loaded, graders), graders)
    second = select_questions(
        loaded,
        score_rubric(loaded, dict(reversed(graders.items()))),
        dict(reversed(graders.items())),
    )
    assert [q.id for q in first] == [q.id for q in second]
    strong = select_questions(loaded, score_rubric(loaded, strong_graders()), strong_graders())
    assert {q.id for q in first}.isdisjoint({q.id for q in strong})


def test_red_flags_come_before_failed_checks_and_levels():
    loaded = rubric()
    graders = strong_graders()
    graders["tests"] = GraderResult.from_checks(
        "tests",
        "1",
        [Check(id="assertions", passed=True, sentence="x")],
        red_flags=[RedFlag(id="tampering", severity="high", sentence="conftest edits")],
    )
    questions = select_questions(loaded, score_rubric(loaded, graders), graders)
    assert questions[0].id == "tests-tampering"
    assert questions[0].why == "red flag tests.tampering (high)"


def test_batch_flags_can_trigger_questions():
    loaded = rubric()
    graders = strong_graders()
    questions = select_questions(
        loaded,
        score_rubric(loaded, graders),
        graders,
        extra_flags=[FlagRef(id="similarity.copied", severity="high")],
    )
    assert questions[0].id == "similarity-copied"


def test_at_most_six_questions():
    loaded = rubric()
    graders = weak_graders()
    for name in ("tests", "code_quality", "version_control"):
        graders[name].red_flags.append(RedFlag(id="assert_free", severity="high", sentence="x"))
    questions = select_questions(loaded, score_rubric(loaded, graders), graders)
    assert len(questions) == 6


def test_rubric_file_round_trips_through_yaml(tmp_path):
    loaded = rubric()
    dumped = tmp_path / "copy.yaml"
    dumped.write_text(yaml.safe_dump(loaded.model_dump(mode="json", exclude_none=True)))
    assert rubric_hash(load_rubric(dumped, known_graders=GRADERS)) == rubric_hash(loaded)


def test_registry_harness_fault_shape_is_never_scored(tmp_path):
    from graders.registry import harness_fault

    class Broken:
        name = "tests"
        version = "1"

    fault = harness_fault(Broken(), "KeyError('junit')")
    assert fault.details["harness_fault"] is True
    scored = score_rubric(
        mini(tmp_path),
        {
            "exploration": result("exploration", 1.0),
            "tests": fault,
            "code_quality": result("code_quality", 1.0),
            "documentation": result("documentation", 1.0),
        },
    )
    assert scored.criterion("tests").harness_fault and scored.criterion("tests").score is None
    assert scored.harness_fault and scored.total == 100.0
