"""Reports say plainly what static grading could not judge (graders' ``details.not_judged``)."""

from __future__ import annotations

from fixtures.report_samples import make_result

from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.result import MAX_NOT_JUDGED, not_judged_notes


def static_result(notes):
    result = make_result("strong")
    result.run.mode = "static"
    result.graders["modeling"].details["not_judged"] = notes
    return result


def test_notes_are_read_from_a_string_or_a_list_and_capped():
    result = static_result(["whether the reported scores were reproduced", "  ", 7])
    assert not_judged_notes(result.graders["modeling"]) == [
        "whether the reported scores were reproduced"
    ]
    result.graders["modeling"].details["not_judged"] = "x" * 1000
    (note,) = not_judged_notes(result.graders["modeling"])
    assert len(note) == 300
    result.graders["modeling"].details["not_judged"] = [f"note {i}" for i in range(20)]
    assert len(not_judged_notes(result.graders["modeling"])) == MAX_NOT_JUDGED


def test_static_markdown_lists_what_was_not_judged():
    text = render_markdown(static_result(["whether the reported scores were reproduced"]))
    assert "### Not judged statically" in text
    assert "- modeling: whether the reported scores were reproduced" in text


def test_sandbox_markdown_has_no_static_section():
    result = static_result(["whether the reported scores were reproduced"])
    result.run.mode = "sandbox"
    assert "Not judged statically" not in render_markdown(result)


def test_html_shows_the_notes_escaped_under_the_grader():
    html = render_html(static_result(["<script>alert(1)</script> the figures' content"]))
    assert "Could not be judged from the files alone" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
