"""While the sandbox runs, the pipeline loads and warms up the graders and runs the
snapshot-only ones; the others wait for the artifacts; results are those of a sequential run."""

from __future__ import annotations

import threading

from graders.base import Artifacts, GraderContext, GraderResult, StageRecord
from graders.registry import reads_artifacts, warm_up_graders
from harness import pipeline
from harness.assignment import load_assignment
from harness.intake import IntakeCaps, ingest
from harness.pipeline import GradeSettings, grade_snapshot, run_graders
from harness.rubric import load_rubric


class _Grader:
    version = "1"

    def __init__(self, name: str, seen: dict, ran: threading.Event | None = None):
        self.name = name
        self._seen = seen
        self._ran = ran

    def grade(self, context: GraderContext) -> GraderResult:
        self._seen[self.name] = context.artifacts
        if self._ran is not None:
            self._ran.set()
        return GraderResult(grader=self.name, version=self.version, score=1.0)


class _StaticGrader(_Grader):
    reads_artifacts = False

    def warm_up(self, assignment) -> None:
        self._seen["warmed"] = assignment


class _BrokenWarmUp(_Grader):
    def warm_up(self, assignment) -> None:
        raise RuntimeError("only an optimisation")


def test_snapshot_only_graders_run_while_the_sandbox_runs(tmp_path, monkeypatch):
    assignment = load_assignment("diabetes-progression")
    snapshot = ingest(assignment.root / "examples" / "weak", tmp_path / "snapshots", IntakeCaps())
    seen: dict = {}
    ran = threading.Event()
    graders = [_StaticGrader("a_static", seen, ran), _Grader("b_late", seen)]
    monkeypatch.setattr(pipeline, "load_graders", lambda: graders)
    artifacts_root = tmp_path / "artifacts"

    def stage_runner(snapshot, assignment, *, image, work_dir, progress, slots):
        seen["during_sandbox"] = ran.wait(30)  # the static grader ran before the sandbox ended
        seen["late_ran_during_sandbox"] = "b_late" in seen
        artifacts_root.mkdir()
        return Artifacts(root=artifacts_root, stages={"run": StageRecord(stage="run",
                                                                         verdict="ok")})

    graded = grade_snapshot(snapshot, assignment, load_rubric(assignment.spec.rubric),
                            GradeSettings(image="takehome-sandbox:none", run=True),
                            tmp_path / "work", stage_runner=stage_runner)
    assert seen["during_sandbox"] is True
    assert seen["late_ran_during_sandbox"] is False
    assert seen["a_static"] is None  # snapshot-only graders never see artifacts
    assert seen["b_late"].root == artifacts_root
    assert seen["warmed"] is assignment
    assert graded.result.status == "graded"


def test_results_equal_a_sequential_run(tmp_path):
    assignment = load_assignment("diabetes-progression")
    snapshot = ingest(assignment.root / "examples" / "strong", tmp_path / "s", IntakeCaps())
    seen: dict = {}
    graders = [_StaticGrader("a_static", seen), _BrokenWarmUp("b_late", seen)]
    warm_up_graders(graders, assignment)  # a failing warm-up is ignored
    context = GraderContext(snapshot.root, snapshot.to_meta(), assignment,
                            Artifacts(root=tmp_path, stages={}))
    done = {"a_static": GraderResult(grader="a_static", version="1", score=0.25)}
    merged = run_graders(context, graders=graders, done=done)
    assert merged["a_static"].score == 0.25  # kept as computed meanwhile, not re-run
    assert merged["b_late"].score == 1.0
    assert list(merged) == sorted(merged)
    assert [reads_artifacts(g) for g in graders] == [False, True]
