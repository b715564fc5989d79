"""The HTML report: escaping, CSP, image sniffing, blind mode, all formats agree."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from fixtures.report_samples import (
    IMG,
    SCRIPT,
    hostile_artifacts,
    hostile_result,
    make_result,
    png_bytes,
)

from harness.report import render_reports
from harness.report.blind import blind_result, pseudonym
from harness.report.gradescope import GradescopeResults, render_gradescope
from harness.report.html import CSP, highlight_excerpt, render_html, sniff_image


class Inventory(HTMLParser):
    """Every tag, attribute and script/style in a document."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def inventory(html: str) -> Inventory:
    parser = Inventory()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def hostile_html(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    artifacts = hostile_artifacts(root / "artifacts")
    return render_html(hostile_result(), artifacts_root=artifacts)


def test_hostile_content_never_becomes_markup(hostile_html):
    tags = inventory(hostile_html).tags
    names = {tag for tag, _ in tags}
    assert "script" not in names and "svg" not in names and "iframe" not in names
    assert "link" not in names and "object" not in names and "embed" not in names
    for tag, attrs in tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("href", "src"):
            value = attrs.get(name) or ""
            assert not value.lower().startswith(("javascript:", "http:", "https:", "//")), value
            if tag == "img" and name == "src":
                assert value.startswith(("data:image/png;base64,", "data:image/jpeg;base64,"))
            if tag == "a" and name == "href":
                assert value.startswith("#"), value
    assert SCRIPT not in hostile_html and IMG not in hostile_html
    assert "&lt;script&gt;window.__pwned=1" in hostile_html  # shown, escaped


def test_csp_meta_is_first_and_strict(hostile_html):
    head = hostile_html.split("<head>", 1)[1]
    metas = re.findall(r"<meta [^>]*>", head)
    assert 'charset="utf-8"' in metas[0]
    assert 'http-equiv="Content-Security-Policy"' in metas[1]
    assert "default-src 'none'" in CSP and "img-src data:" in CSP and "script-src" not in CSP


def test_only_real_png_is_embedded(hostile_html):
    images = [a["src"] for t, a in inventory(hostile_html).tags if t == "img"]
    candidate = [src for src in images if src.startswith("data:image/png;base64,")]
    # the one real PNG plus the three held-out plots takehome drew
    assert len(candidate) == 1 + 3
    assert "figures/fake.png: not a PNG or JPEG" in hostile_html
    assert "figures/page.png: not a PNG or JPEG" in hostile_html
    assert "../secret.png: outside the artifacts folder" in hostile_html
    assert "figures/link.png: outside the artifacts folder" in hostile_html


@pytest.mark.parametrize(
    "data,mime",
    [
        (png_bytes(), "image/png"),
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"GIF89a", None),
        (b"\x89PNG but not really", None),
    ],
)
def test_image_sniffing(data, mime):
    assert sniff_image(data) == mime


def test_highlighted_excerpts_are_escaped():
    html = str(highlight_excerpt("x = '<script>alert(1)</script>'", "a.py"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    html = str(highlight_excerpt("<img src=x onerror=alert(1)>", "page.html"))
    assert "<img" not in html and "&lt;img" in html


def test_report_sections_for_a_typical_result(tmp_path):
    html = render_html(make_result("weak"))
    for text in (
        "sam-hurried",
        "20.3",
        "Questions to ask",
        "Held-out performance",
        "average_precision",
        "Confusion matrix",
        "as submitted, not reproduced",
        "imbalance.accuracy_only",
        "image digest",
        "Reproducibility and run",
    ):
        assert text in html, text
    assert html == render_html(make_result("weak"))  # deterministic


def test_harness_fault_is_visible_in_the_report():
    html = render_html(make_result("fault"))
    assert "not graded (harness fault)" in html
    assert "The total leaves them out and is provisional" in html


def test_execution_failure_shows_the_failing_cell():
    html = render_html(make_result("failed"))
    assert "solution.ipynb cell 7" in html and "exit_nonzero" in html
    assert "did not run to completion" in html


def test_blind_hides_identity_in_every_format(tmp_path):
    strong = make_result("strong")
    written = render_reports(
        strong, tmp_path, formats=("html", "json", "md", "gradescope"), blind=True
    )
    alias = pseudonym(strong.submission.content_hash)
    assert alias == "Candidate 1f0c1f0c"
    for path in written.values():
        text = path.read_text()
        for secret in (
            "ada-lovelace",
            "Ada Lovelace",
            "Lovelace",
            "ada@example.com",
            "submissions/strong.bundle",
        ):
            assert secret.lower() not in text.lower(), (path.name, secret)
    assert alias in written["html"].read_text()
    assert json.loads(written["json"].read_text())["blind"] is True


def test_blind_masks_emails_and_other_candidates():
    hostile = hostile_result()
    blind = blind_result(hostile)
    dumped = blind.model_dump_json()
    assert "x@evil.example" not in dumped and blind.git.authors == []
    assert blind.similarity[0].other == "Candidate aaaaaaaa"
    assert blind.submission.content_hash == hostile.submission.content_hash
    assert blind.graders.keys() == hostile.graders.keys()


def test_all_formats_render_from_the_same_result(tmp_path):
    weak = make_result("weak")
    written = render_reports(weak, tmp_path, formats=("html", "json", "md", "gradescope"))
    assert set(written) == {"html", "json", "md", "gradescope"}
    assert json.loads(written["json"].read_text())["total"] == weak.total
    assert "20.3" in written["md"].read_text() and "20.3" in written["html"].read_text()


def test_unknown_format_is_an_error(tmp_path):
    from contracts.errors import TakehomeError

    with pytest.raises(TakehomeError, match="pdf"):
        render_reports(make_result("weak"), tmp_path, formats=("pdf",))


@pytest.mark.parametrize("kind", ["strong", "weak", "fault", "failed"])
def test_gradescope_export_has_the_expected_shape(kind):
    result = make_result(kind)
    document = render_gradescope(result)
    GradescopeResults.model_validate(document)
    assert document["max_score"] == 100
    assert len(document["tests"]) == len(result.rubric.criteria)
    assert sum(t["max_score"] for t in document["tests"]) == pytest.approx(100, abs=0.05)
    assert sum(t["score"] for t in document["tests"]) == pytest.approx(result.total, abs=0.1)
    assert document["score"] == result.total
    for test in document["tests"]:
        assert set(test) == {"name", "score", "max_score", "output", "visibility"}
        assert 0 <= test["score"] <= test["max_score"]


def test_blind_replaces_whole_words_only():
    weak = make_result("weak", name="Ada")
    weak.graders["exploration"].checks[0].sentence = "Ada used an adapter; ada@x.org wrote it."
    blind = blind_result(weak)
    sentence = blind.graders["exploration"].checks[0].sentence
    assert sentence.startswith("Candidate 9b7e9b7e used an adapter;")
    assert "[email hidden]" in sentence


def test_prose_in_a_notebook_is_not_highlighted_as_broken_python():
    prose = "* `device_type` is missing for every POS transaction, so it stays a category."
    html = str(highlight_excerpt(prose, "analysis.ipynb"))
    assert "border" not in html  # pygments marks Error tokens with a red border
    assert "`device_type`" in html
    code = str(highlight_excerpt("df = pd.read_csv('x.csv')", "analysis.ipynb"))
    assert "style=" in code
