"""graders.registry: plugin discovery through entry points, and safe grader runs."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from fixtures_graders import make_artifacts, make_context, write_files

from graders import registry
from graders.base import Check, Evidence, GraderContext, GraderResult
from graders.registry import (
    GraderLoadError,
    discover_graders,
    is_harness_fault,
    load_graders,
    run_grader,
)

GROUP = registry.ENTRY_POINT_GROUP


class GoodGrader:
    name = "good"
    version = "1"

    def grade(self, context: GraderContext) -> GraderResult:
        return GraderResult.from_checks(self.name, self.version, [])


class WrongName(GoodGrader):
    name = "something_else"


class NeedsArguments(GoodGrader):
    def __init__(self, level: int) -> None:
        self.level = level


class NoGrade:
    name = "no_grade"
    version = "1"


def _fake_points(monkeypatch: pytest.MonkeyPatch, **points: str) -> None:
    found = {name: [EntryPoint(name, value, GROUP)] for name, value in points.items()}
    monkeypatch.setattr(registry, "_entry_points", lambda: found)


def test_builtin_graders_load_sorted_by_name() -> None:
    graders, failures = discover_graders()
    names = [g.name for g in graders]
    assert names == sorted(names)
    assert {"exploration", "imbalance", "data_quality", "modeling"} <= set(names)
    assert all(isinstance(g.version, str) and g.version for g in graders)
    assert [g.name for g in load_graders(["modeling", "exploration"])] == [
        "exploration",
        "modeling",
    ]
    del failures  # other helpers' graders may still be missing while they are written


def test_failing_plugins_are_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_points(
        monkeypatch,
        good="test_registry:GoodGrader",
        missing="no_such_module_xyz:Grader",
        renamed="test_registry:WrongName",
        needs_args="test_registry:NeedsArguments",
        no_grade="test_registry:NoGrade",
    )
    graders, failures = discover_graders()
    assert [g.name for g in graders] == ["good"]
    reasons = {f.name: f.reason for f in failures}
    assert sorted(reasons) == ["missing", "needs_args", "no_grade", "renamed"]
    assert reasons["missing"].startswith("cannot be imported: ModuleNotFoundError")
    assert reasons["needs_args"].startswith("cannot be built without arguments")
    assert "must equal the entry point name 'renamed'" in reasons["renamed"]
    assert reasons["no_grade"].startswith("breaks the grader contract")
    with pytest.raises(GraderLoadError) as raised:
        load_graders()
    assert "grader plugin 'missing' (no_such_module_xyz:Grader)" in str(raised.value)
    assert [g.name for g in load_graders(strict=False)] == ["good"]


def test_unknown_grader_name_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_points(monkeypatch, good="test_registry:GoodGrader")
    with pytest.raises(GraderLoadError, match="'nope'.*no such grader is registered"):
        load_graders(["nope"])


class _Scripted:
    """A grader returning whatever the test tells it to (or raising it)."""

    name = "scripted"
    version = "1"

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome

    def grade(self, context: GraderContext) -> GraderResult:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome  # type: ignore[return-value]


def _result(*evidence: Evidence) -> GraderResult:
    check = Check(id="scripted.x", passed=True, sentence="s", evidence=list(evidence))
    return GraderResult.from_checks("scripted", "1", [check])


def test_grader_exception_becomes_a_harness_fault(tmp_path: Path) -> None:
    result = run_grader(_Scripted(ZeroDivisionError("boom")), make_context(tmp_path))
    assert result.score is None and result.not_applicable
    assert result.reason == "grader error: ZeroDivisionError: boom"
    assert is_harness_fault(result)
    assert "ZeroDivisionError" in result.details["traceback"]


@pytest.mark.parametrize(
    ("outcome", "problem"),
    [
        ({"score": 1}, "grade() returned dict, not GraderResult"),
        (GraderResult.from_checks("other", "1", []), "result names grader 'other'"),
        (
            GraderResult.model_construct(
                grader="scripted", version="1", score=1.5, not_applicable=False, checks=[],
                red_flags=[], details={}, reason=None,
            ),
            "fails validation",
        ),
        (
            GraderResult(grader="scripted", version="1", score=None),
            "score must be None exactly when not_applicable is True",
        ),
        (_result(Evidence(path="missing.py")), "evidence path 'missing.py' is not a file"),
        (_result(Evidence(path="../outside.py")), "evidence path '../outside.py'"),
        (_result(Evidence(path="artifact:nope.csv")), "evidence artifact 'nope.csv'"),
        (_result(Evidence(image="fig.png")), "evidence image 'fig.png' does not exist"),
        (_result(Evidence(path="a.py", line=0)), "evidence line 0 is not 1-based"),
        (
            GraderResult.from_checks("scripted", "1", [], details={"x": object()}),
            "cannot be written as JSON",
        ),
    ],
)  # fmt: skip
def test_invalid_results_become_harness_faults(
    tmp_path: Path, outcome: object, problem: str
) -> None:
    snapshot = tmp_path / "snap"
    write_files(snapshot, {"a.py": "x = 1"})
    write_files(tmp_path, {"outside.py": "x = 1"})
    context = make_context(snapshot, artifacts=make_artifacts(tmp_path / "artifacts"))
    result = run_grader(_Scripted(outcome), context)
    assert is_harness_fault(result)
    assert result.score is None and result.not_applicable
    assert result.reason.startswith("grader error: invalid result: ")
    assert problem in result.reason


def test_valid_result_with_snapshot_and_artifact_evidence_passes(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap"
    write_files(snapshot, {"nb/a.ipynb": "{}"})
    artifacts = make_artifacts(tmp_path / "artifacts", predictions="id,label\n1,0\n")
    write_files(artifacts.root, {"figures/f.png": b"png"})
    expected = _result(
        Evidence(path="nb/a.ipynb", cell=0, line=1),
        Evidence(path="artifact:predictions.csv"),
        Evidence(image="figures/f.png"),
        Evidence(metric={"x": 1.0}),
    )
    result = run_grader(_Scripted(expected), make_context(snapshot, artifacts=artifacts))
    assert result is expected
