"""The speed work keeps every bundled example's results: same levels, totals and verdicts.

Each assignment's examples are graded once as a batch (-j 2) through the real sandbox, as
``takehome grade`` does since issue 15: graders loaded and warmed up while the sandbox runs,
reports rendered as each submission finishes, numpy held-out metrics. The same artifacts are
then graded the way v1.0 did, one grader after the other once the sandbox had finished, and
the held-out metrics are recomputed with v1.0's algorithm (scikit-learn point metrics, the
weight-matrix bootstrap): the grader results, the rubric levels and totals must be the same,
the confidence interval within ``CI_TOL``.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_heldout_speed import CI_TOL, POINT_TOL, sklearn_metric, v1_ci, v1_metric

from contracts.predictions import validate_predictions
from graders.base import GraderContext
from graders.heldout_metrics import load_truth
from graders.registry import load_graders, run_grader
from harness.assignment import load_assignment
from harness.batch import grade_batch
from harness.grade import prepare_settings
from harness.result import build_result
from harness.rubric import load_rubric
from harness.stages import run_stages

VERDICTS = {"strong": ("graded", "ok"), "weak": ("graded", "ok"),
            "broken": ("execution_failed", "exit_nonzero")}


@pytest.fixture(scope="module", params=["fraud-detection", "diabetes-progression"])
def graded(request, sandbox_image, tmp_path_factory):
    assignment = load_assignment(request.param)
    out = tmp_path_factory.mktemp(f"speed-{request.param}")
    settings = prepare_settings(assignment, True, out / ".work")
    captured = {}

    def capturing_runner(snapshot, task, **kwargs):
        artifacts = run_stages(snapshot, task, **kwargs)
        captured[snapshot.content_hash] = (snapshot, artifacts)
        return artifacts

    examples = sorted((assignment.root / "examples").iterdir())
    outcome = grade_batch(assignment, examples, out, settings=settings, jobs=2,
                          stage_runner=capturing_runner)
    return assignment, settings, outcome, captured


def _sequential(assignment, settings, snapshot, artifacts):
    context = GraderContext(snapshot.root, snapshot.to_meta(), assignment, artifacts,
                            reference_scores=dict(settings.reference_scores))
    return {g.name: run_grader(g, context) for g in load_graders()}


def _summary(result):
    return (result.score, result.not_applicable,
            [(c.id, c.passed) for c in result.checks], [f.id for f in result.red_flags])


def test_levels_totals_and_verdicts_equal_a_sequential_v1_grading(graded):
    assignment, settings, outcome, captured = graded
    rubric = load_rubric(assignment.spec.rubric)
    for item in outcome.items:
        result = item.result
        status, run_verdict = VERDICTS[item.name]
        assert result.status == status, (item.name, result.status_reason)
        assert result.stages["run"].verdict == run_verdict
        snapshot, artifacts = captured[result.submission.content_hash]
        sequential = _sequential(assignment, settings, snapshot, artifacts)
        assert {n: _summary(r) for n, r in sequential.items()} == {
            n: _summary(r) for n, r in result.graders.items()}, item.name
        again = build_result(snapshot=snapshot, assignment=assignment, rubric=rubric,
                             grader_results=sequential, stages=dict(artifacts.stages),
                             run_info=result.run.model_dump(), status=result.status,
                             status_reason=result.status_reason, source_display=item.source.name)
        assert again.total == result.total, item.name
        assert [(c.id, c.level) for c in again.rubric.criteria] == [
            (c.id, c.level) for c in result.rubric.criteria], item.name


def test_heldout_metrics_equal_the_v1_algorithm(graded):
    assignment, _, outcome, captured = graded
    spec = assignment.spec
    truth = load_truth(assignment)
    for item in outcome.items:
        details = item.result.graders["heldout_metrics"].details
        _, artifacts = captured[item.result.submission.content_hash]
        if artifacts.predictions is None:
            assert details["primary_value"] is None
            continue
        check = validate_predictions(artifacts.predictions, task_type=spec.task_type,
                                     id_column=spec.id_column, expected_ids=truth.ids,
                                     classes=spec.classes)
        y = np.array(truth.y)
        for name, value in details["metrics"].items():
            assert value == pytest.approx(sklearn_metric(name, spec, y, check.values),
                                          abs=POINT_TOL), (item.name, name)
        low, high, valid = v1_ci(v1_metric(spec, spec.primary_metric, y, check.values), len(y))
        assert details["ci"]["low"] == pytest.approx(low, abs=CI_TOL)
        assert details["ci"]["high"] == pytest.approx(high, abs=CI_TOL)
        assert details["ci"]["valid_resamples"] == valid
