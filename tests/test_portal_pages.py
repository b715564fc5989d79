"""What the candidate's page is built from: Markdown rendered without raw HTML, public files only."""

from __future__ import annotations

from harness.assignment import load_assignment
from harness.portal.pages import markdown_file_html, public_files


def test_markdown_passes_no_raw_html_or_script_links(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text("# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) "
                   "<img src=x onerror=alert(1)>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    html = markdown_file_html(doc)
    assert "<h1>Title</h1>" in html and "<table>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript:' not in html
    assert "&lt;script&gt;" in html


def test_only_the_public_folder_is_offered(tmp_path):
    assignment = load_assignment("fraud-detection")
    files = public_files(assignment)
    assert set(files) == {"train.csv", "sample_test_features.csv"}
    assert all(path.parent == assignment.public_dir for path in files.values())
