"""Reviewer overrides: `takehome review` writes YAML, `takehome report` applies it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from fixtures.report_samples import make_result

from contracts.errors import SpecError
from harness.cli import main
from harness.overrides import (
    OverridesFile,
    apply_overrides,
    load_overrides,
    overrides_path_for,
    record_review,
)
from harness.result import write_result
from harness.rubric import CriterionReview


@pytest.fixture()
def result_file(tmp_path):
    return write_result(make_result("weak"), tmp_path / "alice" / "result.json")


def review(result_file, *args):
    runner = CliRunner()
    outcome = runner.invoke(main, ["review", str(result_file), *args], catch_exceptions=False)
    return outcome


def test_review_and_report_round_trip(result_file, tmp_path):
    original = result_file.read_bytes()
    automatic = json.loads(original)["total"]
    outcome = review(
        result_file,
        "--criterion",
        "tests",
        "--level",
        "3",
        "--reviewer",
        "Dana",
        "--reason",
        "Tests live in checks/, the grader missed them.",
        "--note",
        "Confirmed in the call.",
    )
    assert outcome.exit_code == 0, outcome.output
    overrides = overrides_path_for(result_file)
    assert overrides.name == "result.overrides.yaml" and overrides.is_file()
    loaded = load_overrides(overrides)
    assert loaded.criteria["tests"].level == 3
    assert loaded.criteria["tests"].notes == ["Confirmed in the call."]

    out = tmp_path / "rendered"
    outcome = CliRunner().invoke(
        main,
        ["report", str(result_file), "-o", str(out), "--format", "json,md,html"],
        catch_exceptions=False,
    )
    assert outcome.exit_code == 0, outcome.output
    assert result_file.read_bytes() == original  # never modified
    rendered = json.loads((out / "result.json").read_text())
    tests = next(c for c in rendered["rubric"]["criteria"] if c["id"] == "tests")
    assert tests["level"] == 3 and tests["automatic_level"] == 0
    assert tests["review"]["reviewer"] == "Dana"
    assert tests["descriptor"] == tests["level_descriptors"][3]  # the reviewed level's words
    assert rendered["rubric"]["automatic_total"] == automatic
    assert rendered["total"] == pytest.approx(automatic + 100 * 0.10 * 0.75, abs=0.11)
    html = (out / "report.html").read_text()
    assert "Reviewed by Dana" in html and "automatic level 0" in html
    assert "reviewed by Dana" in (out / "summary.md").read_text()


def test_notes_accumulate_and_latest_level_wins(result_file):
    review(
        result_file,
        "--criterion",
        "tests",
        "--level",
        "2",
        "--reviewer",
        "A",
        "--reason",
        "r1",
        "--note",
        "n1",
    )
    review(
        result_file,
        "--criterion",
        "tests",
        "--level",
        "1",
        "--reviewer",
        "B",
        "--reason",
        "r2",
        "--note",
        "n2",
    )
    entry = load_overrides(overrides_path_for(result_file)).criteria["tests"]
    assert (entry.level, entry.reviewer, entry.reason, entry.notes) == (1, "B", "r2", ["n1", "n2"])


def test_review_of_unknown_criterion_fails(result_file):
    outcome = CliRunner().invoke(
        main,
        [
            "review",
            str(result_file),
            "--criterion",
            "vibes",
            "--level",
            "2",
            "--reviewer",
            "A",
            "--reason",
            "r",
        ],
    )
    assert outcome.exit_code == 1
    assert "unknown criterion 'vibes'" in outcome.output
    assert not overrides_path_for(result_file).exists()


def test_review_level_out_of_range_is_a_usage_error(result_file):
    outcome = CliRunner().invoke(
        main,
        [
            "review",
            str(result_file),
            "--criterion",
            "tests",
            "--level",
            "5",
            "--reviewer",
            "A",
            "--reason",
            "r",
        ],
    )
    assert outcome.exit_code == 2


def test_confirming_the_automatic_level_keeps_the_score():
    weak = make_result("weak")
    level = weak.rubric.criterion("modeling").level
    reviewed = apply_overrides(
        weak,
        OverridesFile(
            criteria={"modeling": CriterionReview(level=level, reviewer="A", reason="agree")}
        ),
    )
    assert reviewed.total == weak.total
    assert reviewed.rubric.criterion("modeling").status == "reviewed"


def test_review_can_grade_a_criterion_the_harness_could_not():
    fault = make_result("fault")
    reviewed = apply_overrides(
        fault,
        OverridesFile(
            criteria={
                "code_quality": CriterionReview(
                    level=4, reviewer="A", reason="read the code myself"
                )
            }
        ),
    )
    code = reviewed.rubric.criterion("code_quality")
    assert code.graded and code.score == 1.0 and code.automatic_level is None
    assert not reviewed.rubric.harness_fault
    assert fault.rubric.criterion("code_quality").harness_fault  # the original is untouched


def test_overrides_for_unknown_criteria_are_rejected():
    with pytest.raises(SpecError, match="unknown criteria: nope"):
        apply_overrides(
            make_result("weak"),
            OverridesFile(criteria={"nope": CriterionReview(level=1, reviewer="A", reason="r")}),
        )


def test_invalid_overrides_file_names_the_line(tmp_path):
    path = tmp_path / "result.overrides.yaml"
    path.write_text(
        "schema_version: '1.0'\ncriteria:\n  tests:\n    level: 7\n    reviewer: A\n    reason: r\n"
    )
    with pytest.raises(SpecError, match=r"result.overrides.yaml:4: criteria.tests.level"):
        load_overrides(path)


def test_record_review_is_timestamped(tmp_path):
    when = datetime(2026, 11, 26, 6, 40, tzinfo=UTC)
    updated = record_review(
        make_result("weak"),
        tmp_path / "o.yaml",
        criterion="tests",
        level=2,
        reviewer="A",
        reason="r",
        now=when,
    )
    assert updated.criteria["tests"].at == "2026-11-26T06:40:00+00:00"


def test_report_refuses_to_overwrite_the_result(result_file):
    outcome = CliRunner().invoke(
        main, ["report", str(result_file), "-o", str(result_file.parent), "--format", "json"]
    )
    assert outcome.exit_code == 1 and "overwrite" in outcome.output
