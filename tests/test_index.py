"""The batch index: every submission listed, one CSV row each, formula-safe, hashed script."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from fixtures.report_samples import hostile_result, make_result

from harness.report import render_reports
from harness.report.index import SORT_SCRIPT, csv_safe, index_csp, render_index, script_hash


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("batch")
    results = [make_result(kind) for kind in ("weak", "strong", "fault", "failed")]
    results.append(hostile_result())
    results.append(make_result("weak", name='=HYPERLINK("http://evil","x")'))
    pairs = []
    for index, result in enumerate(results):
        written = render_reports(result, tmp_path / "reports" / f"s{index}", formats=("html",))
        pairs.append((result, written["html"]))
    return results, pairs, tmp_path


def test_index_lists_every_submission_and_links_reports(batch):
    results, pairs, root = batch
    index, _ = render_index(
        pairs, root, similarity=[{"a": "ada-lovelace", "b": "sam-hurried", "score": 0.91}]
    )
    html = index.read_text()
    rows = re.findall(r"<tr>\s*<td class=\"cand\"", html)
    assert len(rows) == len(results)
    for number in range(len(results)):
        assert f'href="./reports/s{number}/report.html"' in html
    assert "Similarity" in html and "91%" in html
    assert "<script>window" not in html


def test_index_rows_are_sorted_by_total(batch):
    results, pairs, root = batch
    html = render_index(pairs, root)[0].read_text()
    totals = [float(t) for t in re.findall(r'<td class="num" data-sort="([0-9.]+)"><b>', html)]
    assert totals == sorted(totals, reverse=True) and len(totals) == len(results)


def test_csv_has_one_row_per_submission_and_is_formula_safe(batch):
    results, pairs, root = batch
    _, summary = render_index(pairs, root)
    rows = list(csv.DictReader(io.StringIO(summary.read_text())))
    assert len(rows) == len(results)
    assert {"candidate", "status", "total", "tests_level", "tests_score"} <= set(rows[0])
    evil = next(r for r in rows if "HYPERLINK" in r["candidate"])
    assert evil["candidate"].startswith("'=")
    strong = next(r for r in rows if r["candidate"] == "ada-lovelace")
    assert strong["total"] == "92.6" and strong["exploration_level"] == "4"
    fault = next(r for r in rows if r["candidate"] == "grace-hopper")
    assert fault["code_quality_level"] == "" and fault["high_red_flags"] == "1"


@pytest.mark.parametrize(
    "value,expected",
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=x", "'\t=x"),
        ("plain", "plain"),
        (None, ""),
        (3, "3"),
    ],
)
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected


def test_blind_index_hides_names(batch):
    _results, pairs, root = batch
    index, summary = render_index(
        pairs,
        root / "blind",
        blind=True,
        similarity=[{"a": "ada-lovelace", "b": "sam-hurried", "score": 0.9}],
    )
    for path in (index, summary):
        text = path.read_text()
        assert "ada-lovelace" not in text and "sam-hurried" not in text
    assert "Candidate 1f0c1f0c" in index.read_text()


def test_the_only_script_is_allowed_by_its_hash(batch):
    _, pairs, root = batch
    html = render_index(pairs, root)[0].read_text()
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    assert scripts == [SORT_SCRIPT]
    assert script_hash() in index_csp() and script_hash() in unescape(html)
