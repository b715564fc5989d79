"""The Markdown summary: deterministic (snapshots) and safe to paste into an ATS."""

from __future__ import annotations

import os
import re

import pytest
from fixtures.report_samples import SCRIPT, hostile_result, make_result

from harness.report import prepare
from harness.report.markdown import md_escape, render_markdown

SNAPSHOTS = os.path.join(os.path.dirname(__file__), "snapshots")


def check_snapshot(name: str, text: str) -> None:
    """Compare with tests/snapshots/<name>; UPDATE_SNAPSHOTS=1 rewrites it."""
    path = os.path.join(SNAPSHOTS, name)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not os.path.exists(path):
        os.makedirs(SNAPSHOTS, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        if os.environ.get("UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"snapshot {name} was missing and has been written; re-run")
    with open(path, encoding="utf-8") as handle:
        assert text == handle.read(), f"{name} changed (UPDATE_SNAPSHOTS=1 to accept)"


@pytest.mark.parametrize("kind", ["strong", "weak", "fault", "failed"])
def test_markdown_matches_snapshot(kind):
    check_snapshot(f"summary_{kind}.md", render_markdown(make_result(kind)))


def test_blind_markdown_matches_snapshot():
    check_snapshot(
        "summary_weak_blind.md", render_markdown(prepare(make_result("weak"), blind=True))
    )


def test_markdown_is_deterministic():
    assert render_markdown(make_result("weak")) == render_markdown(make_result("weak"))


def test_markdown_has_total_levels_flags_and_questions():
    text = render_markdown(make_result("weak"))
    assert "Total: **20.3 / 100**" in text
    assert "| Tests | 0/4 □□□□ | 0% | 10% |" in text
    assert "**high** `imbalance.accuracy_only`" in text
    assert "### Questions to ask" in text and "\n6. " in text


def test_fault_summary_says_it_is_provisional():
    text = render_markdown(make_result("fault"))
    assert "Provisional" in text
    assert "| Code quality | not graded (harness fault) | – | – |" in text


def test_candidate_text_cannot_inject_markdown_or_html():
    text = render_markdown(hostile_result())
    assert SCRIPT not in text and "<script" not in text and "<img" not in text
    assert "javascript:" in text  # the text is kept...
    assert not re.search(r"(?<!\\)\]\(", text)  # ...but no unescaped link or image syntax
    for line in text.splitlines():
        if line.startswith("| ") and "---" not in line:
            assert line.count(" | ") == 3, line  # no extra table cells


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("a|b", "a\\|b"),
        ("[x](javascript:y)", "\\[x\\](javascript:y)"),
        ("R&D (2%)", "R&D (2%)"),
        ("<b>", "&lt;b&gt;"),
        ("line\nbreak", "line break"),
        ("`code`", "\\`code\\`"),
    ],
)
def test_md_escape(raw, expected):
    assert md_escape(raw) == expected
