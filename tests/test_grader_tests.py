"""The tests grader: static discovery, sandbox results, coverage, assert-free tests, tampering."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures_graders import by_id, cell_locations, make_context, write_files

from graders.base import Artifacts, GraderContext, GraderResult, StageRecord
from graders.registry import is_harness_fault, run_grader
from graders.testing import TestsGrader, coverage_band, parse_junit

MODEL = (
    "def fit(x):\n    return x\n\n\ndef predict(x):\n    if x:\n        return 1\n    return 0\n"
)
TESTS = """import numpy as np
import pytest
from model import fit


def check_shape(value):
    assert value is not None


def test_fit_returns_input():
    assert fit(1) == 1


def test_fit_runs():
    fit(2)


def test_raises():
    with pytest.raises(TypeError):
        fit()


def test_numpy_helper():
    np.testing.assert_allclose(fit(1.0), 1.0)


def test_via_helper():
    check_shape(fit(3))


class TestModel:
    def test_method_asserts(self):
        self.assertEqual(fit(1), 1)

    def helper(self):
        pass
"""

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="99">
<testcase classname="tests.test_model" name="test_fit_returns_input" time="0.001"/>
<testcase classname="tests.test_model" name="test_fit_runs" time="0.001"/>
<testcase classname="tests.test_model" name="test_raises" time="0.001">
  <failure message="Failed: DID NOT RAISE">trace</failure></testcase>
<testcase classname="tests.test_model" name="test_numpy_helper" time="0.001">
  <skipped type="pytest.skip" message="no numpy"/></testcase>
<testcase classname="tests.test_model.TestModel" name="test_method_asserts" time="0.001">
  <error message="fixture 'self' not found">trace</error></testcase>
<testcase classname="tests.test_model" name="test_via_helper[1]" time="0.001"/>
</testsuite></testsuites>
"""


def grade(context: GraderContext) -> GraderResult:
    """Run the grader the way the pipeline does; fail on any contract breach."""
    result = run_grader(TestsGrader(), context)
    assert not is_harness_fault(result), result.reason
    return result


def submission(root: Path) -> None:
    """A small package with one model module and one test file."""
    write_files(root, {"model.py": MODEL, "tests/test_model.py": TESTS})


def artifacts_with(
    tmp_path: Path,
    junit: str | None = None,
    coverage: dict | None = None,
    stage: StageRecord | None = None,
    environment: dict | None = None,
) -> Artifacts:
    """Artifacts holding the given junit text / coverage dict / tests stage record."""
    root = tmp_path / "artifacts"
    root.mkdir()
    paths: dict[str, Path | None] = {"junit_xml": None, "coverage_json": None}
    if junit is not None:
        paths["junit_xml"] = root / "junit.xml"
        paths["junit_xml"].write_text(junit, encoding="utf-8")
    if coverage is not None:
        paths["coverage_json"] = root / "coverage.json"
        paths["coverage_json"].write_text(json.dumps(coverage), encoding="utf-8")
    environment_json = None
    if environment is not None:
        environment_json = root / "environment.json"
        environment_json.write_text(json.dumps(environment), encoding="utf-8")
    stages = {"tests": stage} if stage is not None else {}
    return Artifacts(root=root, stages=stages, environment_json=environment_json, **paths)


def snapshot(tmp_path: Path) -> Path:
    root = tmp_path / "snap"
    root.mkdir()
    return root


def test_no_tests_scores_zero_with_a_sentence(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"model.py": MODEL})
    result = grade(make_context(root, artifacts=artifacts_with(tmp_path)))
    assert not result.not_applicable
    assert result.score == 0.0
    [check] = result.checks
    assert check.id == "tests.present" and not check.passed
    assert check.sentence == "No tests: no test_*.py or *_test.py file defines a test function."
    assert result.reason == "No tests were written, so this scores 0."


def test_no_run_is_not_applicable_but_keeps_findings(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    result = grade(make_context(root))  # artifacts None: graded with --no-run
    assert result.not_applicable and result.score is None
    assert result.checks == []
    assert result.reason == (
        "tests were not run (graded with --no-run): 6 test functions found in 1 file, 1 assert-free"
    )
    assert result.details == {
        "test_files": ["tests/test_model.py"],
        "test_functions": 6,
        "assert_free": 1,
    }
    [flag] = result.red_flags
    assert (flag.id, flag.severity) == ("tests.assert_free", "medium")
    assert cell_locations(flag) == [("tests/test_model.py", None, 14)]


def test_no_run_without_tests_is_not_applicable_too(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"model.py": MODEL, "tests/test_model.py": "import model\n"})
    result = grade(make_context(root))
    assert result.not_applicable
    assert result.reason == (
        "tests were not run (graded with --no-run): 0 test functions found in 1 file, 0 assert-free"
    )


def test_static_checks_with_a_run(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    result = grade(make_context(root, artifacts=artifacts_with(tmp_path)))
    assert [c.id for c in result.checks] == ["tests.present", "tests.assertions"]
    assert [c.id for c in result.checks if c.passed] == ["tests.present"]
    assertions = by_id(result.checks)["tests.assertions"]
    assert [(e.path, e.line, e.note) for e in assertions.evidence] == [
        ("tests/test_model.py", 14, "test_fit_runs")
    ]


def test_junit_outcomes_and_coverage(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    coverage = {
        "totals": {"percent_covered": 40.0},
        "files": {
            "model.py": {"summary": {"covered_lines": 4, "num_statements": 5}},
            "/workspace/tests/test_model.py": {
                "summary": {"covered_lines": 0, "num_statements": 9}
            },
            "/usr/lib/python3/site.py": {"summary": {"covered_lines": 0, "num_statements": 99}},
        },
    }
    stage = StageRecord(stage="tests", verdict="exit_nonzero", exit_code=1, wall_time_s=2.0)
    artifacts = artifacts_with(tmp_path, JUNIT, coverage, stage)
    result = grade(make_context(root, artifacts=artifacts))
    checks = by_id(result.checks)
    assert [c.id for c in result.checks if c.passed] == ["tests.present", "tests.coverage"]
    assert [c.id for c in result.checks if not c.passed] == ["tests.assertions", "tests.pass"]
    run = checks["tests.pass"]
    assert run.sentence == (
        "In the sandbox 3 tests passed, 1 failed, 1 errored and 1 were skipped."
    )
    assert run.evidence[0].metric == {"passed": 3, "failed": 1, "error": 1, "skipped": 1}
    assert [(e.path, e.line, e.note) for e in run.evidence[1:]] == [
        ("tests/test_model.py", 18, "failed"),
        ("tests/test_model.py", 32, "error"),
    ]
    cov = checks["tests.coverage"]
    assert cov.sentence == (
        "The tests cover 80% of 5 statements in 1 candidate modules (high; at least 50% expected)."
    )
    assert [(e.path, e.metric) for e in cov.evidence[1:]] == [
        ("model.py", {"percent_covered": 80.0, "statements": 5})
    ]
    assert result.details["junit"]["failed"] == 1
    assert result.details["coverage_percent"] == 80.0
    assert result.reason == (
        "6 tests found statically; in the sandbox 3 passed, 1 failed, 1 errored, 1 skipped."
    )


def test_timed_out_tests_stage_fails_the_run_check(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    stage = StageRecord(stage="tests", verdict="timeout", reason="killed after 600 s")
    result = grade(make_context(root, artifacts=artifacts_with(tmp_path, stage=stage)))
    run = by_id(result.checks)["tests.pass"]
    assert not run.passed
    assert run.sentence.startswith("The tests stage ended with verdict timeout: killed after 600 s")


def test_tests_stage_missing_means_not_run(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    result = grade(make_context(root, artifacts=artifacts_with(tmp_path)))
    assert "tests.pass" not in by_id(result.checks)
    assert (
        result.reason
        == "6 tests found statically; not run (the sandbox did not run a tests stage)."
    )


def test_conftest_hooks_and_internal_patches_are_tampering(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    write_files(
        root,
        {
            "conftest.py": "import pytest\n\n\n@pytest.fixture\ndef data():\n    return 1\n\n\n"
            "def pytest_runtest_makereport(item, call):\n    pass\n",
            "tests/test_patch.py": "import _pytest.runner as runner\n\n"
            "runner.call_and_report = None\n\n\ndef test_x():\n    assert True\n",
            "sitecustomize.py": "import os\n",
        },
    )
    result = grade(make_context(root))
    [flag] = [f for f in result.red_flags if f.id == "tests.tampering"]
    assert flag.severity == "high"
    assert [(e.path, e.line, e.note) for e in flag.evidence] == [
        ("conftest.py", 9, "defines the pytest hook pytest_runtest_makereport"),
        ("sitecustomize.py", None, "runs automatically when Python starts"),
        ("tests/test_patch.py", 3, "overwrites runner.call_and_report"),
    ]


def test_plain_fixtures_in_conftest_are_not_tampering(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    write_files(
        root,
        {
            "conftest.py": "import pytest\n\n\ndef pytest_configure(config):\n"
            "    config.addinivalue_line('markers', 'slow')\n",
            ".venv/lib/python3.11/site-packages/distutils-precedence.pth": "import os\n",
        },
    )
    environment = {"packages": {}, "integrity": {"conftest": ["conftest.py"], "pth_files": []}}
    artifacts = artifacts_with(tmp_path, environment=environment)
    result = grade(make_context(root, artifacts=artifacts))
    assert [f.id for f in result.red_flags] == ["tests.assert_free"]


def test_hostile_junit_is_refused() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><testsuite>&a;</testsuite>'
    assert parse_junit(bomb) is None
    assert parse_junit("<html/>") is None
    assert parse_junit("not xml") is None
    assert [c.outcome for c in parse_junit(JUNIT) or []] == [
        "passed",
        "passed",
        "failed",
        "skipped",
        "error",
        "passed",
    ]


def test_coverage_bands() -> None:
    assert [coverage_band(p) for p in (95.0, 80.0, 79.9, 50.0, 10.0, 0.0)] == [
        "high",
        "high",
        "moderate",
        "moderate",
        "low",
        "low",
    ]


def test_sandbox_error_in_tests_stage_is_not_scored(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    stage = StageRecord(stage="tests", verdict="sandbox_error", reason="engine went away")
    result = grade(make_context(root, artifacts=artifacts_with(tmp_path, JUNIT, stage=stage)))
    assert [c.id for c in result.checks] == ["tests.present", "tests.assertions"]
    assert result.reason == (
        "6 tests found statically; run not scored: the sandbox failed (not the candidate's fault)."
    )


def test_collection_error_points_at_the_test_module(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    junit = (
        '<testsuites><testsuite name="pytest"><testcase classname="" name="tests.test_model">'
        '<error message="collection failure">ImportError: no module named model</error>'
        "</testcase></testsuite></testsuites>"
    )
    result = grade(make_context(root, artifacts=artifacts_with(tmp_path, junit)))
    run = by_id(result.checks)["tests.pass"]
    assert not run.passed
    assert [(e.path, e.line, e.note) for e in run.evidence[1:]] == [
        ("tests/test_model.py", None, "error")
    ]


def test_helpers_that_assert_through_other_helpers_count(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "test_chain.py": "def _inner(x):\n    assert x\n\n\ndef outer(x):\n    _inner(x)\n\n\n"
            "def test_uses_outer():\n    outer(1)\n\n\ndef test_silent():\n    outer\n",
        },
    )
    result = grade(make_context(root, artifacts=artifacts_with(tmp_path)))
    silent = by_id(result.checks)["tests.assertions"]
    assert [(e.path, e.line, e.note) for e in silent.evidence] == [
        ("test_chain.py", 13, "test_silent")
    ]


def test_sandbox_inventory_adds_hooks_the_static_view_missed(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    write_files(root, {"tests/conftest.py": "def pytest_terminal_summary(:\n"})  # unparsable
    inventory = {
        "conftest": ["tests/conftest.py"],
        "pytest_hooks": [
            {
                "path": "tests/conftest.py",
                "hooks": ["pytest_configure", "pytest_terminal_summary"],
                "plugins": False,
                "parse_error": False,
            },
            {"path": "../outside/conftest.py", "hooks": ["pytest_runtest_makereport"]},
        ],
    }
    artifacts = artifacts_with(tmp_path, environment={"packages": {}, "integrity": inventory})
    result = grade(make_context(root, artifacts=artifacts))
    [flag] = [f for f in result.red_flags if f.id == "tests.tampering"]
    assert [(e.path, e.note) for e in flag.evidence] == [
        ("tests/conftest.py", "defines pytest_terminal_summary (sandbox inventory)")
    ]


# --- cross-checking the readings of one run ---------------------------------------------------

TWO_TESTS = (
    "from model import fit\n\n\ndef test_a():\n    assert fit(1) == 2\n\n\n"
    "def test_b():\n    assert fit(2) == 3\n"
)


def junit_cases(passed: int = 0, failed: int = 0) -> str:
    """A JUnit document with ``passed`` passing and ``failed`` failing cases of test_two."""
    cases = [f'<testcase classname="test_two" name="test_{i}"/>' for i in range(passed)]
    cases += [
        f'<testcase classname="test_two" name="test_f{i}"><failure message="boom"/></testcase>'
        for i in range(failed)
    ]
    return f"<testsuites><testsuite>{''.join(cases)}</testsuite></testsuites>"


def evidence_line(exit_code: int, passed: int, failed: int, summary: str, planted=()) -> str:
    """The last stdout line the checks stage prints after pytest exits."""
    counts = {
        "tests": passed + failed,
        "passed": passed,
        "failed": failed,
        "error": 0,
        "skipped": 0,
    }
    document = {
        "exit_code": exit_code,
        "timed_out": False,
        "junit_counts": counts,
        "summary_line": summary,
        "planted": list(planted),
    }
    return "TAKEHOME_TESTS_EVIDENCE " + json.dumps(document)


def run_stage(exit_code: int, stdout: str = "") -> StageRecord:
    verdict = "ok" if exit_code == 0 else "exit_nonzero"
    return StageRecord(stage="tests", verdict=verdict, exit_code=exit_code, stdout_tail=stdout)


def two_test_submission(tmp_path: Path) -> Path:
    root = snapshot(tmp_path)
    write_files(root, {"model.py": MODEL, "test_two.py": TWO_TESTS})
    return root


def tampering(result: GraderResult):
    return [f for f in result.red_flags if f.id == "tests.tampering"]


def test_consistent_readings_pass_without_a_flag(tmp_path: Path) -> None:
    root = two_test_submission(tmp_path)
    stage = run_stage(0, "noise\n" + evidence_line(0, 2, 0, "2 passed in 0.10s"))
    result = grade(
        make_context(root, artifacts=artifacts_with(tmp_path, junit_cases(2), stage=stage))
    )
    assert by_id(result.checks)["tests.pass"].passed
    assert tampering(result) == []
    assert "run_contradictions" not in result.details


def test_forged_junit_is_caught_and_never_passes(tmp_path: Path) -> None:
    root = two_test_submission(tmp_path)
    stage = run_stage(1, evidence_line(1, 0, 2, "2 failed in 0.10s", planted=["junit.xml"]))
    artifacts = artifacts_with(tmp_path, junit_cases(12), stage=stage)
    result = grade(make_context(root, artifacts=artifacts))
    run = by_id(result.checks)["tests.pass"]
    assert not run.passed
    assert run.evidence[0].metric == {"passed": 0, "failed": 2, "error": 0, "skipped": 0}
    assert "at most 0 tests passed, at least 2 failed" in run.sentence
    [flag] = tampering(result)
    assert flag.severity == "high"
    assert (
        "candidate code wrote the harness's own files while the tests ran "
        "(takehome/junit.xml)" in flag.sentence
    )
    assert (
        "the JUnit report read as pytest exited says 0 passed, 2 failed, 0 errored but "
        "the published junit.xml says 12 passed, 0 failed, 0 errored" in flag.sentence
    )
    problems = result.details["run_contradictions"]
    assert (
        "pytest exited with 1 (some tests failed) but the published junit.xml says "
        "12 passed, 0 failed, 0 errored" in problems
    )
    assert (
        "the published junit.xml lists 12 test cases but only 2 test functions exist and "
        "nothing is parametrised" in problems
    )
    assert "at worst 0 passed, 2 failed" in (result.reason or "")


def test_forged_summary_line_is_a_contradiction(tmp_path: Path) -> None:
    root = two_test_submission(tmp_path)
    stage = run_stage(1, evidence_line(1, 0, 2, "12 passed in 0.01s"))
    result = grade(
        make_context(root, artifacts=artifacts_with(tmp_path, junit_cases(0, 2), stage=stage))
    )
    [flag] = tampering(result)
    assert "pytest's summary line ('12 passed in 0.01s') says 12 passed, 0 failed" in flag.sentence
    assert not by_id(result.checks)["tests.pass"].passed


def test_host_exit_code_contradicting_the_junit_is_flagged(tmp_path: Path) -> None:
    root = two_test_submission(tmp_path)  # no evidence line: an old or killed stage script
    result = grade(
        make_context(root, artifacts=artifacts_with(tmp_path, junit_cases(2), stage=run_stage(1)))
    )
    [flag] = tampering(result)
    assert (
        "pytest exited with 1 (some tests failed) but the published junit.xml says 2 passed"
        in flag.sentence
    )
    assert not by_id(result.checks)["tests.pass"].passed


def test_stage_record_disagreeing_with_the_host_exit_code(tmp_path: Path) -> None:
    root = two_test_submission(tmp_path)
    stage = run_stage(1, evidence_line(0, 2, 0, "2 passed in 0.10s"))
    result = grade(
        make_context(root, artifacts=artifacts_with(tmp_path, junit_cases(2), stage=stage))
    )
    assert (
        "the tests stage exited with 1 but stage output says pytest exited with 0"
        in (result.details["run_contradictions"])
    )


def test_rewritten_tests_json_disagrees_with_the_stage_output(tmp_path: Path) -> None:
    root = two_test_submission(tmp_path)
    stage = run_stage(1, evidence_line(1, 0, 2, "2 failed in 0.10s"))
    artifacts = artifacts_with(tmp_path, junit_cases(0, 2), stage=stage)
    forged = json.loads(evidence_line(0, 2, 0, "2 passed in 0.1s").split(" ", 1)[1])
    (artifacts.root / "tests.json").write_text(json.dumps({"evidence": forged}))
    result = grade(make_context(root, artifacts=artifacts))
    assert result.details["run_contradictions"] == [
        "tests.json disagrees with what the tests stage printed (rewritten)"
    ]


def test_more_cases_than_functions_is_fine_when_parametrised(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "model.py": MODEL,
            "test_two.py": "import pytest\n\n\n@pytest.mark.parametrize('x', range(12))\n"
            "def test_a(x):\n    assert x >= 0\n",
        },
    )
    stage = run_stage(0, evidence_line(0, 12, 0, "12 passed in 0.10s"))
    result = grade(
        make_context(root, artifacts=artifacts_with(tmp_path, junit_cases(12), stage=stage))
    )
    assert tampering(result) == []
    assert by_id(result.checks)["tests.pass"].passed


def test_teardown_error_slack_in_the_summary_is_not_tampering(tmp_path: Path) -> None:
    root = two_test_submission(tmp_path)
    junit = (
        '<testsuites><testsuite><testcase classname="test_two" name="test_a"/>'
        '<testcase classname="test_two" name="test_b"><error message="teardown"/></testcase>'
        "</testsuite></testsuites>"
    )
    document = json.loads(evidence_line(1, 1, 0, "2 passed, 1 error in 0.1s").split(" ", 1)[1])
    document["junit_counts"] = {"tests": 2, "passed": 1, "failed": 0, "error": 1, "skipped": 0}
    stage = run_stage(1, "TAKEHOME_TESTS_EVIDENCE " + json.dumps(document))
    result = grade(make_context(root, artifacts=artifacts_with(tmp_path, junit, stage=stage)))
    assert tampering(result) == []
    assert not by_id(result.checks)["tests.pass"].passed


def test_a_second_summary_line_is_a_contradiction(tmp_path: Path) -> None:
    root = two_test_submission(tmp_path)
    document = json.loads(evidence_line(0, 2, 0, "2 passed in 0.01s").split(" ", 1)[1])
    document["summary_lines"] = ["2 failed in 0.10s", "2 passed in 0.01s"]
    stage = run_stage(0, "TAKEHOME_TESTS_EVIDENCE " + json.dumps(document))
    result = grade(
        make_context(root, artifacts=artifacts_with(tmp_path, junit_cases(2), stage=stage))
    )
    expected = (
        "pytest's output holds 2 different summary lines ('2 failed in 0.10s'; "
        "'2 passed in 0.01s') where pytest prints one"
    )
    assert result.details["run_contradictions"] == [expected]
    assert not by_id(result.checks)["tests.pass"].passed


def test_nested_and_inherited_test_classes_explain_extra_cases(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "model.py": MODEL,
            "test_two.py": "class TestA:\n    def test_a(self):\n        assert 1\n\n\n"
            "class TestB(TestA):\n    pass\n",
        },
    )
    stage = run_stage(0, evidence_line(0, 2, 0, "2 passed in 0.10s"))
    artifacts = artifacts_with(tmp_path, junit_cases(2), stage=stage)
    assert tampering(grade(make_context(root, artifacts=artifacts))) == []
