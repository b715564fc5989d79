"""`takehome report` re-renders in place, applies overrides everywhere the interviewer looks
(report, Markdown, batch index, summary.csv) and finds the candidate's figures in the batch's
work folder."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from fixtures.report_samples import make_result, png_bytes

from harness.cli import main
from harness.report import find_artifacts_root, render_reports
from harness.report.index import refresh_index, render_index
from harness.result import SimilarityPair, write_result


@pytest.fixture
def batch(tmp_path):
    """A batch folder laid out like `takehome grade` leaves it (artifacts under .work/runs)."""
    out = tmp_path / "batch"
    strong = make_result("strong", name="ada")
    weak = make_result("weak", name="sam")
    weak = weak.model_copy(update={"similarity": [SimilarityPair(other="ada", score=0.91)]})
    strong = strong.model_copy(update={"similarity": [SimilarityPair(other="sam", score=0.91)]})
    pairs = []
    for result in (strong, weak):
        folder = out / result.submission.name
        written = render_reports(result, folder, formats=("html", "md"))
        write_result(result, folder / "result.json")
        pairs.append((result, written["html"]))
    render_index(pairs, out, similarity=[{"a": "ada", "b": "sam", "score": 0.91}])
    digest = strong.submission.content_hash.split(":")[-1]
    figures = out / ".work" / "runs" / digest[:16] / "artifacts" / "figures"
    figures.mkdir(parents=True)
    (figures / "hist_tenure.png").write_bytes(png_bytes())
    return out


def _invoke(*args: str):
    outcome = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    return outcome


def _csv_rows(path):
    return {row["candidate"]: row for row in csv.DictReader(io.StringIO(path.read_text()))}


def test_review_then_report_updates_report_index_and_csv_in_place(batch):
    result_file = batch / "sam" / "result.json"
    original = result_file.read_bytes()
    before = _csv_rows(batch / "summary.csv")["sam"]
    outcome = _invoke("review", str(result_file), "--criterion", "tests", "--level", "3",
                      "--reviewer", "Dana", "--reason", "Tests live in checks/, not scanned.")
    assert "takehome report" in outcome.output  # tells the interviewer what to do next
    outcome = _invoke("report", str(result_file))
    assert result_file.read_bytes() == original  # never written
    assert not (batch / "sam" / "report").exists()  # in place, not in a sub-folder
    html = (batch / "sam" / "report.html").read_text()
    assert "Reviewed by Dana" in html and "Tests live in checks/, not scanned." in html
    md = (batch / "sam" / "summary.md").read_text()
    assert "3/4 (reviewed; auto 0)" in md and "Tests live in checks/, not scanned." in md
    index = (batch / "index.html").read_text()
    assert 'class="small rev">*</span>' in index  # the reviewed marker the legend promises
    assert "reviewed by Dana" in index and "auto " in index
    after = _csv_rows(batch / "summary.csv")["sam"]
    assert after["tests_level"] == "3" and before["tests_level"] == "0"
    assert after["reviewed"] == "tests"
    assert float(after["total"]) > float(before["total"])
    assert after["automatic_total"] == before["total"]
    assert "index\t" in outcome.output and "csv\t" in outcome.output


def test_report_in_place_finds_figures_in_the_batch_work_folder(batch):
    result_file = batch / "ada" / "result.json"
    from harness.result import load_result

    assert find_artifacts_root(result_file, load_result(result_file)) is not None
    _invoke("report", str(result_file))
    html = (batch / "ada" / "report.html").read_text()
    assert 'class="cand" src="data:image/png;base64,' in html
    assert "figure not available" not in html


def test_missing_artifacts_say_so_instead_of_blaming_the_file(tmp_path):
    written = render_reports(make_result("strong"), tmp_path, formats=("html",))
    html = written["html"].read_text()
    assert "figure not available (artifacts not found)" in html
    assert "not a PNG" not in html


def test_refreshed_index_keeps_similarity_with_links(batch):
    refresh_index(batch)
    index = (batch / "index.html").read_text()
    assert 'href="./ada/report.html#similarity"' in index
    assert 'href="./sam/report.html#similarity"' in index
    assert "91%" in index


def test_report_refuses_json_in_place_but_allows_it_elsewhere(batch, tmp_path):
    result_file = batch / "sam" / "result.json"
    outcome = CliRunner().invoke(main, ["report", str(result_file), "--format", "json"])
    assert outcome.exit_code == 1 and "overwrite" in outcome.output
    _invoke("report", str(result_file), "-o", str(tmp_path / "elsewhere"))
    assert {p.name for p in (tmp_path / "elsewhere").iterdir()} == {
        "report.html", "result.json", "summary.md"}


def test_report_outside_a_batch_touches_no_index(tmp_path):
    folder = tmp_path / "alone"
    write_result(make_result("weak"), folder / "result.json")
    outcome = _invoke("report", str(folder / "result.json"))
    assert "index" not in outcome.output
    assert not (tmp_path / "index.html").exists()
    assert {p.name for p in folder.iterdir()} == {"report.html", "result.json", "summary.md"}


def test_index_title_primary_metric_and_static_note(tmp_path):
    static = make_result("weak", name="quiet")
    static = static.model_copy(update={"run": static.run.model_copy(update={"mode": "static"})})
    pairs = [(make_result("strong"), tmp_path / "a" / "report.html"),
             (static, tmp_path / "b" / "report.html")]
    index, summary = render_index(pairs, tmp_path)
    html = index.read_text()
    assert "<h1>Predict churn (2% positives) — 2 submissions</h1>" in html
    assert "1 submission was graded statically" in html and "static, not run" in html
    rows = _csv_rows(summary)
    assert rows["quiet"]["mode"] == "static"
    metric = rows["ada-lovelace"]["primary_metric"]
    assert metric and f">{metric.replace('_', ' ')}</th>" in html
    assert rows["ada-lovelace"]["primary_value"]


def test_details_that_repeat_checks_are_hidden_and_the_rest_collapsed():
    from graders.base import GraderResult
    from harness.report.html import ImageBudget, _grader_view

    heldout = GraderResult(
        grader="heldout_metrics", version="1", score=0.8,
        details={"primary_metric": "average_precision", "primary_value": 0.7,
                 "metrics": {"average_precision": 0.7, "roc_auc": 0.9}, "n_rows": 5000,
                 "validation": {"ok": True, "errors": [], "warnings": [], "n_rows": 5000}})
    view = _grader_view("heldout_metrics", heldout, ImageBudget(None))
    assert view["details"] == [("n_rows", "5,000")]
    assert ("validation.n_rows", "5,000") in view["more_details"]
    shown = [k for k, _ in view["details"] + view["more_details"]]
    assert not {"validation.errors", "validation.ok", "validation.warnings"} & set(shown)
    assert view["heldout"]["metrics"] == [("roc_auc", 0.9)]  # the primary is shown above it
    lint = GraderResult(
        grader="code_quality", version="1", score=0.8,
        details={"pylint_score": 9.3, "pylint_message_types": {"error": 0, "warning": 2},
                 "candidate_lint_config": []})
    view = _grader_view("code_quality", lint, ImageBudget(None))
    assert view["details"] == [("pylint_score", "9.3")]
    assert [k for k, _ in view["more_details"]] == ["pylint_message_types.error",
                                                    "pylint_message_types.warning"]


def test_refreshing_a_blind_batch_keeps_it_blind(tmp_path):
    out = tmp_path / "blind"
    pairs = []
    for result, other in ((make_result("strong", name="ada"), "sam"),
                          (make_result("weak", name="sam"), "ada")):
        result = result.model_copy(update={"similarity": [SimilarityPair(other=other,
                                                                         score=0.9)]})
        folder = out / result.submission.name
        written = render_reports(result, folder, formats=("html", "json"), blind=True)
        pairs.append((result, written["html"]))
    render_index(pairs, out, similarity=[{"a": "ada", "b": "sam", "score": 0.9}], blind=True)
    _invoke("review", str(out / "sam" / "result.json"), "--criterion", "tests", "--level", "2",
            "--reviewer", "Dana", "--reason", "ok")
    _invoke("report", str(out / "sam" / "result.json"))
    index = (out / "index.html").read_text()
    assert "· blind" in index and "Candidate " in index
    assert "<b><a" in index and ">ada<" not in index and ">sam<" not in index
    assert "90%" in index  # the similarity pair survived, under pseudonyms
    assert _csv_rows(out / "summary.csv")  # every candidate is a pseudonym
    assert all(name.startswith("Candidate ") for name in _csv_rows(out / "summary.csv"))
