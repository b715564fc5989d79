"""End to end: the bundled examples graded through the real sandbox, graders, rubric and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.assignment import load_assignment
from harness.batch import grade_batch
from harness.grade import prepare_settings

pytestmark = pytest.mark.docker

ASSIGNMENTS = ["fraud-detection", "diabetes-progression"]


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded_examples(request, sandbox_image, tmp_path_factory):
    """Each assignment's examples graded once as a batch (strong, weak, broken)."""
    assignment = load_assignment(request.param)
    out = tmp_path_factory.mktemp(f"e2e-{request.param}")
    settings = prepare_settings(assignment, True, out / ".work")
    examples = sorted((assignment.root / "examples").iterdir())
    outcome = grade_batch(assignment, examples, out, settings=settings, jobs=2)
    by_name = {item.name: item for item in outcome.items}
    return assignment, outcome, by_name, out, settings


def test_every_example_gets_a_result_and_reports(graded_examples):
    _, outcome, by_name, out, _ = graded_examples
    assert set(by_name) == {"strong", "weak", "broken"}
    for item in outcome.items:
        assert item.result is not None
        assert item.result.status != "harness_error", item.result.status_reason
        for fmt in ("html", "json", "md"):
            assert item.reports[fmt].is_file()
    assert outcome.index_html and outcome.index_html.is_file()
    index = outcome.index_html.read_text(encoding="utf-8")
    for name in by_name:
        assert name in index
    rows = (out / "summary.csv").read_text(encoding="utf-8").strip().splitlines()
    assert len(rows) == 1 + len(by_name)


def test_strong_example_beats_weak_on_every_criterion(graded_examples):
    _, _, by_name, _, _ = graded_examples
    strong = {c.id: c for c in by_name["strong"].result.rubric.criteria}
    weak = {c.id: c for c in by_name["weak"].result.rubric.criteria}
    assert by_name["strong"].result.total > by_name["weak"].result.total
    for criterion_id, criterion in strong.items():
        other = weak[criterion_id]
        if not criterion.applicable or not other.applicable:
            continue
        assert criterion.score > other.score, criterion_id


def test_strong_example_writes_valid_predictions(graded_examples):
    _, _, by_name, _, _ = graded_examples
    heldout = by_name["strong"].result.graders["heldout_metrics"]
    assert heldout.score is not None and heldout.score > 0.5
    assert heldout.details["primary_value"] is not None


def test_broken_example_fails_with_the_failing_cell(graded_examples):
    _, _, by_name, _, _ = graded_examples
    result = by_name["broken"].result
    assert result.status == "execution_failed"
    assert result.stages["run"].verdict == "exit_nonzero"
    repro = result.graders["reproducibility"]
    failing = [
        c for c in repro.checks if not c.passed and any(e.cell is not None for e in c.evidence)
    ]
    assert failing, "the failing cell is shown as evidence"
    heldout = result.graders["heldout_metrics"]
    assert heldout.score == 0.0


def test_hidden_labels_never_appear_in_reports(graded_examples):
    assignment, outcome, _, _, _ = graded_examples
    labels_file = assignment.hidden_labels_csv.read_text(encoding="utf-8")
    first_rows = labels_file.splitlines()[1:4]
    for item in outcome.items:
        for path in item.reports.values():
            text = path.read_text(encoding="utf-8")
            for row in first_rows:
                assert row not in text


def test_grading_twice_gives_identical_scores(graded_examples, tmp_path):
    assignment, _, by_name, _, settings = graded_examples
    strong = assignment.root / "examples" / "strong"
    again = grade_batch(assignment, [strong], tmp_path, settings=settings, jobs=1)
    first = by_name["strong"].result
    second = again.items[0].result
    assert second.total == first.total
    assert {k: v.score for k, v in second.graders.items()} == {
        k: v.score for k, v in first.graders.items()
    }
    assert [c.model_dump() for c in second.rubric.criteria] == [
        c.model_dump() for c in first.rubric.criteria
    ]


def test_result_json_round_trips(graded_examples):
    from harness.result import load_result

    _, outcome, _, _, _ = graded_examples
    for item in outcome.items:
        loaded = load_result(item.reports["json"])
        assert loaded.total == item.result.total
        json.loads(Path(item.reports["json"]).read_text())
