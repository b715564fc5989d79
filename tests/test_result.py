"""The canonical result: building, red flags, faults, schema, loading with caps."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from fixtures.report_samples import ASSIGNMENT, make_result, rubric, strong_graders
from pydantic import ValidationError

from harness.result import (
    GradingResult,
    ResultError,
    RunInfo,
    SubmissionInfo,
    attach_similarity,
    build_result,
    dump_result,
    harness_error_result,
    load_result,
    result_schema,
    write_result,
)


def test_result_carries_rubric_total_flags_and_questions():
    weak = make_result("weak")
    assert weak.schema_version == "1.0"
    assert weak.rubric is not None and weak.total == weak.rubric.total
    assert weak.run.rubric == "ml-take-home" and len(weak.run.rubric_hash) == 64
    severities = [f.severity for f in weak.red_flags]
    assert severities == sorted(severities, key=["high", "medium", "low"].index)
    assert {"imbalance.accuracy_only", "imbalance.resample_before_split"} <= {
        f.id for f in weak.red_flags
    }
    assert all(f.id.startswith(f.grader + ".") for f in weak.red_flags)
    assert 3 <= len(weak.questions) <= 6


def test_grader_fault_is_flagged_and_left_out_of_the_total():
    fault = make_result("fault")
    strong = make_result("strong")
    code = fault.rubric.criterion("code_quality")
    assert code.harness_fault and code.score is None
    assert fault.rubric.harness_fault
    assert any(f.id == "harness.grader_fault" and f.severity == "high" for f in fault.red_flags)
    # the other criteria are identical, so the renormalised total differs from the strong one
    assert fault.total != strong.total and fault.total is not None


@pytest.mark.parametrize("status", ["rejected", "harness_error"])
def test_rejected_or_harness_error_has_no_total(status):
    result = build_result(
        submission=SubmissionInfo(name="x", content_hash="sha256:" + "0" * 64),
        assignment=ASSIGNMENT,
        run=RunInfo(harness_version="0.1.0"),
        status=status,
        status_reason="zip slip" if status == "rejected" else "docker died",
        stages={},
        grader_results={},
        rubric=rubric(),
    )
    assert result.total is None and result.rubric is None and result.questions == []


def test_harness_error_graders_are_flagged_even_without_rubric_scores():
    graders = strong_graders()
    graders["tests"] = graders["tests"].model_copy(update={"reason": "grader error: boom"})
    result = build_result(
        submission=SubmissionInfo(name="x", content_hash="sha256:" + "0" * 64),
        assignment=ASSIGNMENT,
        run=RunInfo(harness_version="0.1.0"),
        status="harness_error",
        stages={},
        grader_results=graders,
        rubric=rubric(),
    )
    assert [f.id for f in result.red_flags if f.grader == "harness"] == ["harness.grader_fault"]


def test_round_trip_is_lossless_and_canonical(tmp_path):
    weak = make_result("weak")
    path = write_result(weak, tmp_path / "result.json")
    loaded = load_result(path)
    assert loaded == weak
    assert dump_result(loaded) == path.read_text(encoding="utf-8")
    data = json.loads(path.read_text())
    assert list(data) == sorted(data)


def test_load_result_refuses_oversized_files(tmp_path):
    path = write_result(make_result("strong"), tmp_path / "result.json")
    with pytest.raises(ResultError, match="cap"):
        load_result(path, max_bytes=100)


def test_load_result_names_the_invalid_field(tmp_path):
    data = json.loads(dump_result(make_result("strong")))
    data["status"] = "excellent"
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultError, match="status"):
        load_result(path)


def test_load_result_rejects_unknown_schema_version(tmp_path):
    data = json.loads(dump_result(make_result("strong")))
    data["schema_version"] = "9.9"
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultError, match="schema_version"):
        load_result(path)


def test_exported_schema_is_up_to_date(repo_root):
    committed = json.loads((repo_root / "docs" / "result.schema.json").read_text())
    assert committed == json.loads(json.dumps(result_schema())), (
        "docs/result.schema.json is stale: run python -c 'from harness.result import "
        'export_result_schema; export_result_schema("docs/result.schema.json")\''
    )
    assert committed["properties"]["schema_version"]["const"] == "1.0"


def test_result_model_forbids_unknown_fields():
    data = json.loads(dump_result(make_result("strong")))
    data["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        GradingResult.model_validate(data)


def fake_snapshot(**extra):
    commit = SimpleNamespace(sha="abc", author_name="Ada Lovelace",
                             author_email="ada@example.com", date="2026-11-20T09:00:00+00:00",
                             message="explore data")
    last = SimpleNamespace(**{**vars(commit), "date": "2026-11-22T21:00:00+00:00"})
    return SimpleNamespace(name="ada", content_hash="sha256:" + "12" * 32, kind="git",
                           files=["a.py", "b.ipynb"], git_commits=[commit, last],
                           git_commit_count=2, **extra)


def test_build_result_from_pipeline_objects():
    assignment = SimpleNamespace(spec=SimpleNamespace(slug="churn", title="Churn"),
                                 content_hash=lambda: "sha256:" + "cd" * 32)
    result = build_result(
        snapshot=fake_snapshot(), assignment=assignment, rubric=rubric(),
        grader_results=strong_graders(), stages={}, status="graded",
        run_info={"harness_version": "0.1.0", "image": "img", "image_digest": "",
                  "timings": {"run": 3.0}, "container_starts": 1, "mode": "sandbox"},
        source_display="ada.bundle")
    assert result.submission.name == "ada" and result.submission.files == 2
    assert result.submission.source == "ada.bundle"
    assert result.assignment.slug == "churn" and result.assignment.content_hash.endswith("cd")
    assert result.git.commit_count == 2 and result.git.span_days == 2.5
    assert result.git.authors == ["Ada Lovelace <ada@example.com>"]
    assert result.run.timings == {"run": 3.0} and result.total is not None


def test_rejected_submission_without_snapshot():
    result = build_result(snapshot=None, assignment=ASSIGNMENT, rubric=rubric(),
                          grader_results={}, stages={}, status="rejected",
                          status_reason="zip slip", source_display="evil.zip",
                          run_info={"harness_version": "0.1.0"})
    assert result.submission.name == "evil" and result.submission.content_hash == ""
    assert result.total is None


def test_harness_error_result_has_no_score():
    result = harness_error_result(name="bob", assignment=ASSIGNMENT, rubric=rubric(),
                                  reason="RuntimeError: docker went away", image="img")
    assert result.status == "harness_error" and result.total is None and result.rubric is None
    assert "docker went away" in result.status_reason


def test_attach_similarity_adds_pairs_flag_and_question():
    weak = make_result("weak")
    pair = SimpleNamespace(first="other", second="sam-hurried", score=0.87,
                           excerpts=[("theirs = 1", "mine = 1")], second_is_public=False)
    unrelated = SimpleNamespace(first="x", second="y", score=0.99, excerpts=[])
    updated = attach_similarity(weak, "sam-hurried", [pair, unrelated],
                                content_hashes={"other": "sha256:" + "aa" * 32})
    assert [p.other for p in updated.similarity] == ["other"]
    assert updated.similarity[0].excerpts[0].excerpt == "mine = 1"
    assert updated.similarity[0].excerpts[0].other_excerpt == "theirs = 1"
    flag = next(f for f in updated.red_flags if f.id == "similarity.copied")
    assert flag.severity == "high" and "87%" in flag.sentence
    assert "similarity-copied" in [q.id for q in updated.questions]
    strong = attach_similarity(make_result("strong"), "sam-hurried", [pair])
    assert strong.questions[0].id == "similarity-copied"  # the only red flag
    assert 3 <= len(updated.questions) <= 6
    assert weak.similarity == [] and attach_similarity(weak, "nobody", [pair]) is weak
