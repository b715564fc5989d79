"""Open reports in Debian's headless Chromium: hostile content never runs, nothing is fetched.

Uses Playwright's Python API with the system browser (playwright never downloads one).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.browser import NEEDS_CHROMIUM, launch_chromium
from fixtures.report_samples import hostile_artifacts, hostile_result, make_result

from harness.report import render_reports
from harness.report.index import render_index

pytestmark = [
    pytest.mark.browser,
    NEEDS_CHROMIUM,
]


@pytest.fixture(scope="module")
def browser():
    yield from launch_chromium()


class Watch:
    """Everything a page does that a report must never do."""

    def __init__(self, page, url: str):
        self.url = url
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("dialog", self._dialog)
        page.on("console", lambda message: self.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if u != self.url and not u.startswith("data:")]


def open_page(browser, path: Path):
    context = browser.new_context(java_script_enabled=True, offline=True)
    page = context.new_page()
    url = path.resolve().as_uri()
    watch = Watch(page, url)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)  # let any delayed handler (onerror, onload) fire
    return context, page, watch


def test_hostile_report_runs_no_script_and_fetches_nothing(browser, tmp_path):
    artifacts = hostile_artifacts(tmp_path / "artifacts")
    report = render_reports(
        hostile_result(), tmp_path / "out", formats=("html",), artifacts_root=artifacts
    )["html"]
    context, page, watch = open_page(browser, report)
    try:
        assert page.evaluate("typeof window.__pwned") == "undefined"
        # the title shows the hostile name as text; a script would have replaced it
        assert page.title().startswith("evil<script>window.__pwned=1")
        assert page.title() != "PWNED"
        assert page.evaluate("document.scripts.length") == 0
        assert page.evaluate("document.querySelectorAll('svg, iframe, object, embed').length") == 0
        assert watch.dialogs == []
        assert watch.errors == []
        assert watch.console == []  # not even a CSP violation report: nothing tried to load
        assert watch.foreign_requests() == []
        # the payload is visible as text
        assert "window.__pwned=1" in page.inner_text("body")
        # clicking every link stays on the page (only in-page anchors exist)
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert hrefs and all(h.startswith("#") for h in hrefs)
    finally:
        context.close()


def test_report_images_are_data_uris_and_render(browser, tmp_path):
    report = render_reports(make_result("strong"), tmp_path, formats=("html",))["html"]
    context, page, watch = open_page(browser, report)
    try:
        widths = page.eval_on_selector_all(".plots img", "els => els.map(e => e.naturalWidth)")
        assert len(widths) == 3 and all(w > 100 for w in widths)
        assert watch.foreign_requests() == [] and watch.console == []
    finally:
        context.close()


def test_index_sorts_with_its_hashed_script_only(browser, tmp_path):
    pairs = []
    for kind in ("weak", "strong", "failed"):
        result = make_result(kind)
        html = render_reports(result, tmp_path / kind, formats=("html",))["html"]
        pairs.append((result, html))
    hostile = hostile_result()
    pairs.append(
        (hostile, render_reports(hostile, tmp_path / "hostile", formats=("html",))["html"])
    )
    index, _ = render_index(pairs, tmp_path)
    context, page, watch = open_page(browser, index)
    try:

        def first_column():
            return page.eval_on_selector_all(
                "#submissions tbody tr", "rows => rows.map(r => r.cells[2].innerText.trim())"
            )

        assert first_column()[0] == "92.6"
        # the table fits a 1280-px window: no horizontal scrollbar
        page.set_viewport_size({"width": 1280, "height": 900})
        assert page.evaluate(
            "(() => { const c = document.querySelector('#submissions').parentElement;"
            " return c.scrollWidth <= c.clientWidth; })()")
        page.click("#submissions th:nth-child(3)")  # Total, ascending
        ascending = first_column()
        assert ascending == sorted(ascending, key=float)
        page.click("#submissions th:nth-child(3)")  # descending
        assert first_column() == sorted(ascending, key=float, reverse=True)
        assert watch.console == [] and watch.errors == [] and watch.dialogs == []
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert watch.foreign_requests() == []
    finally:
        context.close()


def test_the_watch_would_catch_a_script_and_a_fetch(browser, tmp_path):
    """Control: the same checks fail on a page that does run a script and fetch something."""
    page_path = tmp_path / "unsafe.html"
    page_path.write_text(
        "<html><head><title>ok</title></head><body>"
        "<img src='http://127.0.0.1:9/beacon.png'>"
        "<script>window.__pwned=1;document.title='PWNED';console.log('ran')</script>"
        "</body></html>"
    )
    context, page, watch = open_page(browser, page_path)
    try:
        assert page.evaluate("window.__pwned") == 1 and page.title() == "PWNED"
        assert any(u.startswith("http://127.0.0.1:9/") for u in watch.foreign_requests())
        assert ("log", "ran") in watch.console
    finally:
        context.close()


def _hostile_submission(root: Path) -> Path:
    """A real submission folder whose every part tries to inject markup or script."""
    import json

    root.mkdir(parents=True)
    script = "<script>window.__pwned=1;document.title='PWNED';alert(1)</script>"
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned=4;alert(4)">'
           "<script>window.__pwned=5</script><image href='http://127.0.0.1:9/svg.png'/></svg>")
    notebook = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {},
             "source": [f"# Fraud {script}\n",
                        ("Look at [this](javascript:window.__pwned=3) and "
                         "<img src=x onerror=\"window.__pwned=2;alert(2)\"> "
                         "<iframe src='http://127.0.0.1:9/frame'></iframe>\n")]},
            {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": 1,
             "source": ["import pandas as pd\n", "df = pd.read_csv('data/train.csv')\n",
                        "df.describe()\n"],
             "outputs": [
                 {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                  "data": {"text/html": [(f"<b>table</b>{script}"
                                          "<img src='http://127.0.0.1:9/out.png'>")],
                           "text/plain": ["table"]}},
                 {"output_type": "display_data", "metadata": {},
                  "data": {"image/svg+xml": [svg], "text/plain": ["<Figure>"]}},
                 {"output_type": "stream", "name": "stdout",
                  "text": [f"{script}\n"]},
             ]},
        ],
    }
    (root / "solution.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    (root / "README.md").write_text(
        f"# Approach {script}\n\n"
        "[docs](javascript:window.__pwned=6) <a href=\"javascript:alert(7)\" "
        "onmouseover=\"window.__pwned=7\">hover</a>\n\n"
        "![beacon](http://127.0.0.1:9/readme.png) <img src=x onerror=alert(8)>\n",
        encoding="utf-8",
    )
    (root / "model.py").write_text(
        '"""Model <script>window.__pwned=9</script> <img src=x onerror=alert(9)>."""\n\n'
        "import pandas as pd\n\n\n"
        "def train(path='/home/evil/<b>data</b>.csv'):\n"
        '    """Train <svg onload=alert(10)></svg>."""\n'
        "    return pd.read_csv(path)\n",
        encoding="utf-8",
    )
    try:
        (root / "<img src=x onerror=alert(11)>.py").write_text("X = 1\n", encoding="utf-8")
    except OSError:  # a filesystem that refuses the name: keep the payload in a README
        (root / "NOTES.md").write_text("<img src=x onerror=alert(11)>.py\n", encoding="utf-8")
    return root


def test_real_hostile_submission_graded_statically_runs_nothing(browser, tmp_path):
    """Grade a hostile submission through the real pipeline (no sandbox) and open its report
    and the batch index: no script, no dialog, no request but the page itself and data: URIs."""
    from click.testing import CliRunner

    from harness.cli import main

    submission = _hostile_submission(tmp_path / "hostile")
    out = tmp_path / "out"
    outcome = CliRunner().invoke(
        main, ["grade", "fraud-detection", str(submission), "--no-run", "-o", str(out),
               "--format", "html,json,md"], catch_exceptions=False)
    assert outcome.exit_code in (0, 1), outcome.output  # 1: graded, below the pass mark
    report = out / "hostile" / "report.html"
    assert report.is_file(), outcome.output
    text = report.read_text(encoding="utf-8")
    assert "Graded statically" in text  # graded without running, and the report says so
    for page_path in (report, out / "index.html"):
        context, page, watch = open_page(browser, page_path)
        try:
            page.hover("body")
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert page.title() != "PWNED"
            assert watch.dialogs == []
            assert watch.errors == []
            assert watch.foreign_requests() == []
            assert page.evaluate(
                "document.querySelectorAll('iframe, object, embed, svg').length") == 0
            if page_path == report:
                assert page.evaluate("document.scripts.length") == 0
                assert watch.console == []
                hrefs = page.eval_on_selector_all(
                    "a[href]", "els => els.map(e => e.getAttribute('href'))")
                assert all(h.startswith("#") for h in hrefs), hrefs
                assert page.evaluate(
                    "[...document.querySelectorAll('*')].filter(e => [...e.attributes]"
                    ".some(a => a.name.startsWith('on'))).length") == 0
        finally:
            context.close()
    # the payloads reached the report (the graders read them) and are shown as escaped text
    assert "&lt;script&gt;window.__pwned=1" in text
