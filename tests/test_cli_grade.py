"""The `takehome grade`, `check` and `demo` verbs from the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.cli import main


def examples(repo_root, slug):
    return repo_root / "assignments" / slug / "examples"


def test_no_run_grades_statically_without_the_sandbox(repo_root, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # proves no Docker use
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "grade", "fraud-detection", str(examples(repo_root, "fraud-detection") / "weak"),
        "--no-run", "-o", str(out), "--format", "json,md", "--json", str(tmp_path / "r.json"),
    ])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["run"]["mode"] == "static"
    assert data["graders"]["heldout_metrics"]["not_applicable"] is True
    assert data["graders"]["exploration"]["score"] is not None
    assert {f["id"] for f in data["red_flags"]} >= {"imbalance.accuracy_only", "exploration.none"}
    assert (out / "weak" / "summary.md").is_file()
    assert not (out / "weak" / "report.html").exists()  # only the formats asked for


def test_blind_mode_hides_the_submission_name(repo_root, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "grade", "diabetes-progression", str(examples(repo_root, "diabetes-progression") / "strong"),
        "--no-run", "--blind", "-o", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert not (out / "strong").exists(), "folder names must not reveal the submission's name"
    [report] = list(out.glob("candidate-*/report.html"))
    html = report.read_text(encoding="utf-8")
    assert "Candidate " in html
    assert ">strong<" not in html
    assert "strong/" not in (out / "index.html").read_text(encoding="utf-8")


def test_unknown_format_is_a_one_line_error(repo_root, tmp_path):
    result = CliRunner().invoke(main, [
        "grade", "fraud-detection", str(examples(repo_root, "fraud-detection") / "weak"),
        "--no-run", "--format", "pdf", "-o", str(tmp_path),
    ])
    assert result.exit_code == 1
    assert "unknown report format" in result.output


def test_unknown_assignment_names_the_fix(tmp_path):
    result = CliRunner().invoke(main, ["grade", "no-such-assignment", str(tmp_path), "--no-run"])
    assert result.exit_code == 1
    assert "no-such-assignment" in result.output


@pytest.mark.docker
def test_check_passes_a_good_submission_and_explains_a_broken_one(repo_root, tmp_path,
                                                                   sandbox_image):
    good = CliRunner().invoke(main, [
        "check", "diabetes-progression", str(examples(repo_root, "diabetes-progression") / "strong"),
        "-o", str(tmp_path / "good"),
    ])
    assert good.exit_code == 0, good.output
    assert "OK" in good.output
    broken = CliRunner().invoke(main, [
        "check", "diabetes-progression", str(examples(repo_root, "diabetes-progression") / "broken"),
        "-o", str(tmp_path / "broken"),
    ])
    assert broken.exit_code == 1
    assert "the run failed" in broken.output
    assert "predictions.csv" in broken.output
    assert "fix:" in broken.output


def test_a_review_survives_regrading_the_batch(repo_root, tmp_path):
    """Overrides recorded with `takehome review` are applied when the batch is graded again."""
    out = tmp_path / "out"
    args = ["grade", "fraud-detection", str(examples(repo_root, "fraud-detection") / "weak"),
            "--no-run", "-o", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    result_json = out / "weak" / "result.json"
    reviewed = CliRunner().invoke(main, [
        "review", str(result_json), "--criterion", "tests", "--level", "3",
        "--reviewer", "Dana", "--reason", "tests were in a separate branch",
    ])
    assert reviewed.exit_code == 0, reviewed.output
    before = result_json.read_bytes()
    assert CliRunner().invoke(main, args).exit_code == 0
    assert result_json.read_bytes() == before  # the canonical result is never rewritten
    assert "Dana" in (out / "weak" / "report.html").read_text(encoding="utf-8")
    assert "Dana" in (out / "weak" / "summary.md").read_text(encoding="utf-8")
