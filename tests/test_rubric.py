"""Rubric loading (errors with line numbers), scoring, renormalisation, faults and questions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fixtures.report_samples import GRADERS, make_result, rubric, strong_graders, weak_graders

from contracts.errors import SpecError
from graders.base import Check, GraderResult, RedFlag
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
    assert len(loaded.criteria) == 9
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
    # data quality is a criterion of its own: its leakage question takes a slot of its own
    assert "leakage-preprocessing" in ids
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


# --- caps ----------------------------------------------------------------------------------------

CAPPED = MINIMAL.replace(
    "    levels: {0: none, 1: weak, 2: partial, 3: solid, 4: excellent}\n"
    "    questions:\n      - id: tests-first",
    "    levels: {0: none, 1: weak, 2: partial, 3: solid, 4: excellent}\n"
    "    caps:\n"
    "      - when: tests.tampering\n"
    "        max_level: 1\n"
    "        reason: the test run was tampered with\n"
    "      - when: tests.coverage\n"
    "        max_level: 3\n"
    "      - when: code_quality.secrets\n"
    "        min_severity: high\n"
    "        max_level: 0\n"
    "        reason: a credential is in the code\n"
    "    questions:\n      - id: tests-first",
)
CAP_LINE = 18  # "    caps:" in CAPPED; its first entry starts on the next line


def capped(tmp_path: Path) -> Rubric:
    return load_rubric(write(tmp_path, CAPPED), known_graders=GRADERS)


def graded_tests(*, coverage: bool = True, flags: list[RedFlag] | None = None) -> GraderResult:
    return GraderResult.from_checks(
        "tests",
        "1",
        [
            Check(id="pass", passed=True, weight=3, sentence="all pass"),
            Check(id="coverage", passed=coverage, sentence="coverage is 12%"),
        ],
        red_flags=flags,
    )


def graded_with(tests: GraderResult, **others: GraderResult) -> dict[str, GraderResult]:
    results = {name: result(name, 1.0) for name in ("exploration", "code_quality", "documentation")}
    results["tests"] = tests
    results.update(others)
    return results


def test_cap_that_does_not_lower_the_level_is_not_recorded(tmp_path):
    scored = score_rubric(capped(tmp_path), graded_with(graded_tests(coverage=False)))
    tests = scored.criterion("tests")
    assert tests.score == pytest.approx(0.75)  # 3 of 4: level 3 anyway, the cap does not lower it
    assert tests.level == 3 and tests.uncapped_level is None and tests.caps == []


def test_red_flag_caps_the_level_below_what_the_score_reaches(tmp_path):
    flag = RedFlag(id="tampering", severity="high", sentence="conftest rewrites outcomes")
    scored = score_rubric(capped(tmp_path), graded_with(graded_tests(flags=[flag])))
    tests = scored.criterion("tests")
    assert tests.score == 1.0 and tests.uncapped_level == 4 and tests.level == 1
    assert tests.descriptor == "weak"  # the capped level's descriptor, not the score's
    [cap] = tests.caps
    assert (cap.trigger, cap.kind, cap.max_level) == ("tests.tampering", "red_flag", 1)
    assert cap.reason == "the test run was tampered with"
    assert cap.sentence == "conftest rewrites outcomes"
    assert tests.note == (
        "Level capped at 1 (the score alone reaches 4): red flag tests.tampering "
        "(the test run was tampered with)."
    )
    # caps bound the level, not the score: the total is still score-based
    assert scored.total == 100.0


def test_failed_check_cap_lowers_a_perfect_looking_score(tmp_path):
    tests = GraderResult.from_checks(
        "tests",
        "1",
        [
            Check(id="pass", passed=True, weight=9, sentence="all pass"),
            Check(id="coverage", passed=False, sentence="coverage is 12%"),
        ],
    )
    scored = score_rubric(capped(tmp_path), graded_with(tests)).criterion("tests")
    assert scored.score == pytest.approx(0.9) and scored.uncapped_level == 4
    assert scored.level == 3
    assert [(c.trigger, c.kind) for c in scored.caps] == [("tests.coverage", "failed_check")]


def test_cap_needs_its_minimum_severity(tmp_path):
    def code_quality(severity: str) -> GraderResult:
        return GraderResult(
            grader="code_quality",
            version="1",
            score=1.0,
            red_flags=[RedFlag(id="secrets", severity=severity, sentence="AKIA[masked]")],
        )

    low = score_rubric(
        capped(tmp_path), graded_with(graded_tests(), code_quality=code_quality("low"))
    )
    assert low.criterion("tests").level == 4 and low.criterion("tests").caps == []
    high = score_rubric(
        capped(tmp_path), graded_with(graded_tests(), code_quality=code_quality("high"))
    )
    assert high.criterion("tests").level == 0  # a flag from another grader can cap too
    assert high.criterion("tests").caps[0].trigger == "code_quality.secrets"


def test_only_the_binding_caps_are_recorded(tmp_path):
    flags = [RedFlag(id="tampering", severity="high", sentence="x")]
    tests = GraderResult.from_checks(
        "tests",
        "1",
        [
            Check(id="pass", passed=True, weight=9, sentence="all pass"),
            Check(id="coverage", passed=False, sentence="12%"),
        ],
        red_flags=flags,
    )
    scored = score_rubric(capped(tmp_path), graded_with(tests)).criterion("tests")
    assert scored.level == 1 and [c.trigger for c in scored.caps] == ["tests.tampering"]


def test_a_check_that_was_not_run_does_not_trigger_a_cap(tmp_path):
    tests = GraderResult.from_checks(
        "tests", "1", [Check(id="pass", passed=True, sentence="all pass")]
    )  # no coverage check at all (coverage not measured)
    scored = score_rubric(capped(tmp_path), graded_with(tests)).criterion("tests")
    assert scored.level == 4 and scored.caps == []


def test_caps_do_not_apply_to_criteria_that_were_not_graded(tmp_path):
    flag = RedFlag(id="tampering", severity="high", sentence="x")
    tests = GraderResult(
        grader="tests", version="1", not_applicable=True, reason="n/a", red_flags=[flag]
    )
    scored = score_rubric(capped(tmp_path), graded_with(tests)).criterion("tests")
    assert scored.level is None and scored.caps == [] and scored.uncapped_level is None


@pytest.mark.parametrize(
    "old,new,message,line",
    [
        (
            "        max_level: 1\n",
            "        max_level: 4\n",
            "less than or equal to 3",
            CAP_LINE + 2,
        ),
        ("      - when: tests.tampering", "      - when: tampering", "cap trigger", CAP_LINE + 1),
        (
            "        max_level: 1\n",
            "        max_level: 1\n        maximum: 2\n",
            "maximum",
            CAP_LINE + 3,
        ),
        (
            "        min_severity: high",
            "        min_severity: severe",
            "min_severity",
            CAP_LINE + 7,
        ),
    ],
)
def test_invalid_caps_are_errors_with_their_line(tmp_path, old, new, message, line):
    path = write(tmp_path, CAPPED.replace(old, new, 1))
    with pytest.raises(SpecError, match=message) as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) == line


def test_cap_naming_an_unknown_grader_is_an_error_with_its_line(tmp_path):
    path = write(tmp_path, CAPPED.replace("when: tests.coverage", "when: testz.coverage"))
    with pytest.raises(SpecError, match="unknown grader 'testz'") as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) == CAP_LINE + 4


def test_duplicate_caps_are_rejected(tmp_path):
    path = write(tmp_path, CAPPED.replace("when: tests.coverage", "when: tests.tampering"))
    with pytest.raises(SpecError, match="same trigger twice: tests.tampering"):
        load_rubric(path, known_graders=GRADERS)


def test_rubrics_without_the_new_keys_keep_their_hash(tmp_path):
    # the hash of MINIMAL before caps, levels_by_task and task_types existed
    assert rubric_hash(mini(tmp_path)) == (
        "a5f6e44971ce8f737ea0f3dc2931a7979adc0e7971e54ea75f5f009fe8854dde"
    )
    assert rubric_hash(capped(tmp_path)) != rubric_hash(mini(tmp_path))


def test_results_without_caps_or_task_type_still_validate():
    weak = make_result("weak")
    data = weak.model_dump(mode="json")
    del data["rubric"]["task_type"]
    for criterion in data["rubric"]["criteria"]:
        criterion.pop("caps")
        criterion.pop("uncapped_level")
    from harness.result import GradingResult

    loaded = GradingResult.model_validate(data)
    assert loaded.rubric is not None and loaded.rubric.task_type is None
    assert all(c.caps == [] for c in loaded.rubric.criteria)


# --- task types: descriptors ---------------------------------------------------------------------

TASKED = MINIMAL.replace(
    "    levels: {0: none, 1: weak, 2: partial, 3: solid, 4: excellent}\n"
    "    questions:\n      - id: explore-generic",
    "    levels: {0: none, 1: weak, 2: partial, 3: solid, 4: excellent}\n"
    "    levels_by_task:\n"
    "      regression: {0: no look at the target, 2: some looks}\n"
    "    questions:\n      - id: explore-generic",
)


def test_task_descriptors_replace_the_defaults_for_that_task(tmp_path):
    loaded = load_rubric(write(tmp_path, TASKED), known_graders=GRADERS)
    graders = graded_with(result("tests", 1.0), exploration=result("exploration", 0.5))
    regression = score_rubric(loaded, graders, task_type="regression").criterion("explore")
    assert regression.level_descriptors == [
        "no look at the target",
        "weak",
        "some looks",
        "solid",
        "excellent",
    ]
    assert regression.descriptor == "some looks"
    binary = score_rubric(loaded, graders, task_type="binary_classification")
    assert binary.criterion("explore").descriptor == "partial"
    assert binary.task_type == "binary_classification"
    assert score_rubric(loaded, graders).task_type is None  # nothing tells the task type


def test_unknown_task_type_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown task type"):
        score_rubric(mini(tmp_path), {}, task_type="ranking")


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("regression: {0:", "regresion: {0:", "levels_by_task"),
        ("0: no look at the target, 2:", "7: no look at the target, 2:", "levels must be 0"),
        ("0: no look at the target, 2:", "0: ' ', 2:", "empty descriptor"),
    ],
)
def test_invalid_task_descriptors_are_errors_with_their_line(tmp_path, old, new, message):
    path = write(tmp_path, TASKED.replace(old, new))
    with pytest.raises(SpecError, match=message) as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) in (10, 11)


def test_invalid_question_task_type_is_an_error_with_its_line(tmp_path):
    text = MINIMAL.replace(
        "        text: What did you look at first?\n",
        "        text: What did you look at first?\n        task_types: [classification]\n",
    )
    path = write(tmp_path, text)
    with pytest.raises(SpecError, match="task_types") as excinfo:
        load_rubric(path, known_graders=GRADERS)
    assert error_line(excinfo, path) == 13


# --- the default rubric's descriptors --------------------------------------------------------------


def test_default_descriptors_name_leakage_only_conditionally():
    for criterion in rubric().criteria:
        for task in (None, "binary_classification", "multiclass_classification", "regression"):
            for level, text in enumerate(criterion.descriptors_for(task)):
                if "leak" in text.lower():
                    assert "red flag" in text, (criterion.id, task, level, text)


def test_reproducibility_mentions_history_only_when_it_was_submitted():
    repro = rubric().criterion("reproducibility")
    for text in repro.descriptors_for(None):
        if "commit" in text or "history" in text:
            assert "when git history was submitted" in text, text


def test_regression_descriptors_do_not_talk_about_classes():
    imbalance = rubric().criterion("imbalance")
    regression = imbalance.descriptors_for("regression")
    assert not any("minority" in text or "class balance" in text for text in regression)
    assert any("skew" in text for text in regression)
    classification = imbalance.descriptors_for("binary_classification")
    assert any("class balance" in text for text in classification)
    data = rubric().criterion("data_quality").descriptors_for("regression")
    assert not any("imbalance" in text or "stratif" in text for text in data)


def test_default_rubric_caps_name_known_graders_and_useful_levels():
    loaded = rubric()
    caps = {(c.id, cap.when): cap.max_level for c in loaded.criteria for cap in c.caps}
    assert caps[("code_quality", "code_quality.notebook_only")] == 2
    assert caps[("reproducibility", "reproducibility.failed_to_run")] == 1
    assert all(cap.split(".", 1)[0] in GRADERS for _, cap in caps)
