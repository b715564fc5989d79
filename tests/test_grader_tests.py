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
    assert check.sentence == "No tests: no .py file defines a test function."
    assert result.reason == "No tests were written, so this scores 0."


LADDER = ["tests.present", "tests.meaningful", "tests.suite", "tests.comprehensive"]


def test_no_run_is_judged_by_reading_the_tests(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    result = grade(make_context(root))  # artifacts None: graded with --no-run
    assert not result.not_applicable
    assert [c.id for c in result.checks] == LADDER
    assert [c.passed for c in result.checks] == [True, True, False, False]
    assert result.score == 0.5  # two rungs of four: level 2
    assert result.reason.startswith("Judged by reading the tests only (not run")
    assert all(c.sentence.endswith("(read, not run).") for c in result.checks)
    assert result.details["test_files"] == ["tests/test_model.py"]
    assert (result.details["test_functions"], result.details["assert_free"]) == (6, 1)
    assert result.details["judged_from"] == "reading only"
    assert result.details["static_level"] == 2
    [flag] = result.red_flags
    assert (flag.id, flag.severity) == ("tests.assert_free", "medium")
    assert cell_locations(flag) == [("tests/test_model.py", None, 14)]


def test_no_run_without_tests_scores_zero(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"model.py": MODEL, "tests/test_model.py": "import model\n"})
    result = grade(make_context(root))
    assert not result.not_applicable and result.score == 0.0
    [check] = result.checks
    assert check.sentence == "1 test file but no test function (def test...) in them."
    assert result.reason == "No tests were written, so this scores 0."


def test_static_checks_with_a_run(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    submission(root)
    result = grade(make_context(root, artifacts=artifacts_with(tmp_path)))
    assert [c.id for c in result.checks] == LADDER
    assert [c.id for c in result.checks if c.passed] == ["tests.present", "tests.meaningful"]
    meaningful = by_id(result.checks)["tests.meaningful"]
    assert meaningful.sentence == (
        "4 tests assert on results of the candidate's own code (3 check computed values, "
        "1 only expect an error) (read, not run)."
    )
    [flag] = [f for f in result.red_flags if f.id == "tests.assert_free"]
    assert [(e.path, e.line, e.note) for e in flag.evidence] == [
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
    assert [c.id for c in result.checks if c.passed] == [
        "tests.present",
        "tests.meaningful",
        "tests.coverage",
    ]
    assert [c.id for c in result.checks if not c.passed] == [
        "tests.suite",
        "tests.comprehensive",
        "tests.pass",
    ]
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
        "6 tests found statically; in the sandbox 3 passed, 1 failed, 1 errored, 1 skipped. "
        "Read: 4 of 6 tests meaningful, 1 of 1 candidate modules exercised, CI absent."
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
    assert result.reason.startswith(
        "6 tests found statically; not run (the sandbox did not run a tests stage); judged by "
        "reading the tests only: 4 of 6 tests meaningful"
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
    assert [c.id for c in result.checks] == LADDER
    assert result.reason.startswith(
        "6 tests found statically; run not scored: the sandbox failed (not the candidate's "
        "fault); judged by reading the tests only"
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
    [silent] = [f for f in result.red_flags if f.id == "tests.assert_free"]
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


# --- reading the suite (static judgement) ----------------------------------------------------

FEATURES = '''"""Feature helpers."""


def scale(values):
    """Divide by the largest value."""
    top = max(values)
    return [v / top for v in values]


def clip_negative(values):
    if values is None:
        raise ValueError("no values")
    return [max(v, 0) for v in values]
'''
MODELS = """class Model:
    def __init__(self, threshold=0.5):
        self.threshold = threshold

    def predict(self, scores):
        return [int(s >= self.threshold) for s in scores]
"""
PIPELINE = """from src.features import scale
from src.models import Model


def run(values):
    return Model().predict(scale(values))
"""
CONFTEST = """import pytest


@pytest.fixture
def values():
    return [1.0, 2.0, 4.0]
"""
FEATURE_TESTS = """import pytest

from src.features import clip_negative, scale


def test_scale_max_is_one(values):
    assert max(scale(values)) == 1.0


def test_scale_keeps_order(values):
    assert scale(values) == sorted(scale(values))


def test_scale_values(values):
    assert scale(values) == [0.25, 0.5, 1.0]


def test_clip_negative():
    assert clip_negative([-1, 2]) == [0, 2]


def test_clip_none_raises():
    with pytest.raises(ValueError):
        clip_negative(None)


@pytest.mark.parametrize("given,expected", [([0], [0]), ([-3], [0])])
def test_clip_cases(given, expected):
    assert clip_negative(given) == expected
"""
MODEL_TESTS = """import pytest

from src.models import Model


def test_default_threshold():
    assert Model().predict([0.4, 0.6]) == [0, 1]


def test_custom_threshold():
    assert Model(threshold=0.9).predict([0.8]) == [0]


def test_empty_scores():
    assert Model().predict([]) == []


def test_threshold_attribute():
    assert Model(0.3).threshold == 0.3
"""
PIPELINE_TESTS = """from src.pipeline import run


def test_pipeline_end_to_end(values):
    assert run(values) == [0, 1, 1]


def test_pipeline_single_value():
    assert run([5.0]) == [1]
"""
CI = """name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install -r requirements.txt
      - run: python -m pytest -q
"""


def real_suite(root: Path, ci: bool = True) -> None:
    """Three modules, a conftest fixture, 12 value tests with edge cases and a pipeline test."""
    files = {
        "src/__init__.py": "",
        "src/features.py": FEATURES,
        "src/models.py": MODELS,
        "src/pipeline.py": PIPELINE,
        "tests/conftest.py": CONFTEST,
        "tests/test_features.py": FEATURE_TESTS,
        "tests/test_models.py": MODEL_TESTS,
        "tests/test_pipeline.py": PIPELINE_TESTS,
    }
    if ci:
        files[".github/workflows/ci.yml"] = CI
    write_files(root, files)


def rung_results(result: GraderResult) -> list[bool]:
    return [by_id(result.checks)[check_id].passed for check_id in LADDER]


def test_real_suite_with_fixtures_and_ci_reads_as_level_four(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    real_suite(root)
    result = grade(make_context(root))
    assert rung_results(result) == [True, True, True, True]
    assert result.score == 1.0
    details = result.details
    assert (details["meaningful"], details["value_tests"], details["broken"]) == (12, 11, 0)
    assert details["exercised_modules"] == ["src/features.py", "src/models.py", "src/pipeline.py"]
    assert details["ci"] == [".github/workflows/ci.yml"]
    assert details["fixtures"] == 1
    full = by_id(result.checks)["tests.comprehensive"]
    assert "CI runs the tests (.github/workflows/ci.yml)" in full.sentence
    assert (full.evidence[0].path, full.evidence[0].line) == (".github/workflows/ci.yml", 9)
    assert "integration test" in {e.note for e in full.evidence}


def test_same_suite_without_ci_stops_at_level_three(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    real_suite(root, ci=False)
    write_files(
        root, {".github/workflows/run.yml": CI.replace("python -m pytest -q", "python main.py")}
    )
    result = grade(make_context(root))
    assert rung_results(result) == [True, True, True, False]
    assert result.score == 0.75
    full = by_id(result.checks)["tests.comprehensive"]
    assert full.sentence.startswith("Missing: no CI runs the tests")


def test_placeholders_only_is_level_zero(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "model.py": MODEL,
            "tests/test_model.py": "import model\n\n\ndef test_a():\n    pass\n\n\n"
            'def test_b():\n    """TODO."""\n\n\ndef test_c():\n    assert True\n\n\n'
            "def test_d():\n    assert 1 == 1\n",
        },
    )
    result = grade(make_context(root))
    assert result.score == 0.0 and not result.not_applicable
    present = by_id(result.checks)["tests.present"]
    assert not present.passed
    assert present.sentence.startswith("Only empty placeholders")
    assert result.details["placeholders"] == 4


def test_tests_importing_what_does_not_exist_are_broken(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "src/__init__.py": "",
            "src/features.py": FEATURES,
            "src/models.py": MODELS,
            "tests/test_missing.py": "from src.cleaning import fill\n\n\n"
            "def test_fill():\n    assert fill([None]) == [0]\n",
            "tests/test_names.py": "from src.features import Scaler\n\n\n"
            "def test_scaler():\n    assert Scaler().fit([1]) == [1]\n",
            "tests/test_calls.py": "from src.models import Model\nfrom src.features import scale\n\n\n"
            "def test_kind():\n    assert Model(kind='rf').threshold == 0.5\n\n\n"
            "def test_method():\n    model = Model()\n    assert model.fit([1]) == 1\n\n\n"
            "def test_scale():\n    assert scale([1], [2]) == [1]\n",
        },
    )
    result = grade(make_context(root))
    assert rung_results(result) == [True, False, False, False]
    assert result.details["broken"] == 5
    [flag] = [f for f in result.red_flags if f.id == "tests.broken"]
    assert flag.severity == "medium"
    assert [(e.path, e.line, e.note) for e in flag.evidence] == [
        ("tests/test_missing.py", 1, "no module src.cleaning in the submission"),
        ("tests/test_names.py", 1, "src.features defines no Scaler"),
    ]
    meaningful = by_id(result.checks)["tests.meaningful"]
    assert meaningful.sentence.startswith("No test asserts on what the candidate's code computes")
    assert "5 cannot import what they test" in meaningful.sentence


def test_call_checks_follow_the_candidates_signatures(tmp_path: Path) -> None:
    from graders.source import load_source
    from graders.testing_static import read_suite

    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "src/models.py": MODELS,
            "tests/test_calls.py": "import pytest\nfrom src.models import Model\n\n\n"
            "def test_kind():\n    assert Model(kind='rf').threshold == 0.5\n\n\n"
            "def test_method():\n    model = Model()\n    assert model.fit([1]) == 1\n\n\n"
            "def test_expected_error():\n    with pytest.raises(TypeError):\n"
            "        Model(1, 2, 3)\n\n\n"
            "def test_fine():\n    model = Model(0.2)\n    model.extra = 1\n"
            "    assert model.predict([0.5]) == [1] and model.extra == 1\n",
        },
    )
    reading = read_suite(load_source(root), root)
    assert {t.name: t.broken for t in reading.tests} == {
        "test_kind": "calls Model with kind=, which it does not accept",
        "test_method": "uses Model.fit, which Model does not define",
        "test_expected_error": None,
        "test_fine": None,
    }


def test_non_standard_file_names_are_found_when_they_are_tests(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "model.py": MODEL,
            "checks/validate_model.py": "import pytest\nfrom model import fit, predict\n\n\n"
            "def test_fit():\n    assert fit(2) == 2\n\n\n"
            "def test_predict():\n    assert predict(0) == 0\n",
            "tests/model_checks.py": "from model import predict\n\n\n"
            "class TestPredict:\n    def test_one(self):\n        assert predict(1) == 1\n",
            "evaluate.py": "def test_model(model, rows):\n    return model.score(rows)\n",
            "vendor/lib/test_vendored.py": "def test_x():\n    assert 1\n",
        },
    )
    result = grade(make_context(root))
    assert result.details["test_files"] == ["checks/validate_model.py", "tests/model_checks.py"]
    assert result.details["test_functions"] == 3
    assert rung_results(result) == [True, True, False, False]


def test_token_and_non_portable_tests_are_level_one(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "model.py": MODEL,
            "tests/test_smoke.py": "import pandas as pd\nfrom model import fit\n\n\n"
            "def test_runs():\n    assert fit(1) is not None\n\n\n"
            "def test_on_my_data():\n    frame = pd.read_csv('/home/me/train.csv')\n"
            "    assert fit(frame).shape == (10, 2)\n\n\n"
            "def test_on_unshipped_data():\n    frame = pd.read_csv('data/train.csv')\n"
            "    assert len(fit(frame)) == 10\n\n\n"
            "def test_no_candidate_code():\n    assert sorted([2, 1]) == [1, 2]\n",
        },
    )
    result = grade(make_context(root))
    assert rung_results(result) == [True, False, False, False]
    meaningful = by_id(result.checks)["tests.meaningful"]
    assert "2 cannot run elsewhere" in meaningful.sentence
    assert "1 never call the candidate's own code" in meaningful.sentence
    notes = {e.note for e in meaningful.evidence}
    assert "hard-coded absolute path '/home/me/train.csv'" in notes
    assert "reads 'data/train.csv', which the submission does not ship" in notes


def test_sys_path_folders_resolve_candidate_imports(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "scripts/prep.py": FEATURES,
            "tests/test_prep.py": "import os\nimport sys\n\n"
            "sys.path.append(os.path.join(os.path.dirname(__file__), '..', 'scripts'))\n\n"
            "from prep import scale\n\n\ndef test_scale():\n    assert scale([2]) == [1.0]\n",
        },
    )
    result = grade(make_context(root))
    assert result.details["exercised_modules"] == ["scripts/prep.py"]
    assert rung_results(result) == [True, True, False, False]


def _scored(result: GraderResult):
    from harness.rubric import load_rubric, score_rubric

    return score_rubric(load_rubric("ml-take-home"), {"tests": result}).criterion("tests")


def test_sandbox_run_refines_the_reading(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    real_suite(root)
    ok = StageRecord(stage="tests", verdict="ok", exit_code=0)
    passing = artifacts_with(tmp_path, junit_cases(passed=13), stage=ok)
    result = grade(make_context(root, artifacts=passing))
    assert result.details["judged_from"] == "reading and sandbox run"
    assert not result.checks[0].sentence.endswith("(read, not run).")
    assert _scored(result).level == 4

    failing_dir = tmp_path / "failing"
    failing_dir.mkdir()
    bad = StageRecord(stage="tests", verdict="exit_nonzero", exit_code=1)
    failing = artifacts_with(failing_dir, junit_cases(passed=12, failed=1), stage=bad)
    failed = grade(make_context(root, artifacts=failing))
    assert rung_results(failed) == [True, True, True, True]  # the reading is unchanged
    scored = _scored(failed)
    assert (scored.uncapped_level, scored.level) == (4, 2)  # failing tests cap it

    low_dir = tmp_path / "low"
    low_dir.mkdir()
    coverage = {
        "files": {"src/features.py": {"summary": {"covered_lines": 4, "num_statements": 20}}}
    }
    low = artifacts_with(low_dir, junit_cases(passed=13), coverage, stage=ok)
    measured = grade(make_context(root, artifacts=low))
    assert measured.details["coverage_percent"] == 20.0
    suite = by_id(measured.checks)["tests.suite"]
    assert not suite.passed  # measured coverage replaces the module count
    assert "measured coverage 20% (at least 30%)" in suite.sentence
    assert _scored(measured).level == 2


def test_hostile_class_cycles_and_odd_imports_do_not_break_the_reading(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "src/loop.py": "class A(B):\n    pass\n\n\nclass B(A):\n    pass\n",
            "tests/test_loop.py": "from src.loop import A\nfrom ... import nothing\n"
            "from . import sibling\n\n\ndef test_a():\n    a = A()\n    assert a.x == 1\n",
        },
    )
    first = grade(make_context(root))
    second = grade(make_context(root))
    assert first.model_dump() == second.model_dump()  # deterministic
    assert first.details["test_functions"] == 1


def test_data_paths_built_from_a_configured_folder_are_portable(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "model.py": MODEL,
            "tests/test_data.py": "import os\nimport pandas as pd\nfrom model import fit\n\n\n"
            "def test_configured():\n"
            "    frame = pd.read_csv(os.path.join(os.environ['DATA'], 'train.csv'))\n"
            "    assert len(fit(frame)) == 10\n\n\n"
            "def test_literal():\n    frame = pd.read_csv(os.path.join('data', 'train.csv'))\n"
            "    assert len(fit(frame)) == 10\n",
        },
    )
    result = grade(make_context(root))
    assert result.details["meaningful"] == 1
    meaningful = by_id(result.checks)["tests.meaningful"]
    assert meaningful.passed
    assert [e.note for e in meaningful.evidence] == ["test_configured"]


API = (
    "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.post('/predict')\n"
    "def predict(row: dict):\n    return {'label': int(row.get('x', 0) > 1)}\n"
)


def _api_suite(root: Path, body: str) -> GraderResult:
    write_files(root, {
        "app/__init__.py": "",
        "app/api.py": API,
        "tests/test_api.py": "from fastapi.testclient import TestClient\n"
                             "from app.api import app\n\nclient = TestClient(app)\n\n\n"
                             f"def test_predict():\n    response = client.post('/predict', "
                             f"json={{'x': 3}})\n{body}",
    })  # fmt: skip
    return grade(make_context(root))


def test_a_client_built_at_module_level_from_the_app_exercises_it(tmp_path: Path) -> None:
    result = _api_suite(snapshot(tmp_path), "    assert response.json()['label'] == 1\n")
    assert rung_results(result)[:2] == [True, True]
    assert result.details["meaningful"] == 1


def test_status_codes_and_keys_present_are_smoke_checks_not_values(tmp_path: Path) -> None:
    body = ("    assert response.status_code == 200\n    assert 'label' in response.json()\n"
            "    assert isinstance(response.json()['label'], int)\n")
    result = _api_suite(snapshot(tmp_path), body)
    assert rung_results(result)[:2] == [True, False]
    assert result.details["meaningful"] == 0
    unittest_style = tmp_path / "unittest"
    unittest_style.mkdir()
    body = ("    self_check = __import__('unittest').TestCase()\n"
            "    self_check.assertEqual(response.status_code, 200)\n"
            "    self_check.assertIn('label', response.json())\n")
    assert _api_suite(unittest_style, body).details["meaningful"] == 0
