"""End to end: a real ``takehome serve`` over really graded rounds, driven in Debian's Chromium.

Once per module: the bundled fraud-detection examples are graded in the sandbox (``takehome
grade``, Docker), a hostile submission is graded statically (``--no-run``), and the server runs
as a subprocess on a free loopback port with an account made by ``takehome users add``.
Screenshots of the main pages go to ``/tmp/takehome-web-shots``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fixtures.browser import NEEDS_CHROMIUM, launch_chromium
from fixtures.report_samples import hostile_result
from fixtures.web_samples import add_to_round

REPO = Path(__file__).resolve().parent.parent
TAKEHOME = [sys.executable, "-m", "harness.cli"]
PASSWORD = "a long browser test password"
SHOTS = Path("/tmp/takehome-web-shots")

pytestmark = [
    pytest.mark.docker,
    pytest.mark.browser,
    NEEDS_CHROMIUM,
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_hostile_submission(folder: Path) -> Path:
    """A submission whose file names, notebook outputs and markdown are all script attempts."""
    folder.mkdir(parents=True)
    (folder / "<svg onload=alert('file')>.py").write_text(
        "def clean(x):\n    return x  # <script>window.__pwned='py'</script>\n")
    (folder / "README.md").write_text(
        "# Fraud <script>window.__pwned='readme'</script>\n\n"
        "[click](javascript:window.__pwned='link') <img src=x onerror=\"alert('readme')\">\n")
    notebook = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {},
             "source": ["# EDA <script>window.__pwned='md'</script>\n",
                        "<img src=x onerror=\"alert('markdown')\">"]},
            {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": 1,
             "source": ["import pandas as pd\n", "df = pd.read_csv('data/train.csv')\n",
                        "df.head()"],
             "outputs": [
                 {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                  "data": {"text/html": ["<script>alert('html output')</script><b>t</b>"],
                           "text/plain": ["<script>alert('plain output')</script>"]}},
                 {"output_type": "stream", "name": "stdout",
                  "text": ["<img src=x onerror=\"alert('stdout')\">\n"]},
                 {"output_type": "display_data", "metadata": {},
                  "data": {"image/svg+xml": [("<svg xmlns='http://www.w3.org/2000/svg' "
                                              "onload=\"alert('svg')\"></svg>")],
                           "text/plain": ["<Figure>"]}}]},
        ],
    }
    (folder / "solution.ipynb").write_text(json.dumps(notebook))
    return folder


def run(*args: str, stdin: str | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    outcome = subprocess.run([*TAKEHOME, *args], cwd=REPO, input=stdin, text=True,
                             capture_output=True, timeout=timeout, check=False)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    return outcome


@pytest.fixture(scope="module")
def served(sandbox_image, tmp_path_factory):
    """(base URL, rounds folder): graded rounds behind a real server on a free port."""
    root = tmp_path_factory.mktemp("web") / "rounds"
    examples = sorted(str(p) for p in (REPO / "assignments/fraud-detection/examples").iterdir())
    run("grade", "fraud-detection", *examples, "-o", str(root / "fraud-detection"))
    hostile = write_hostile_submission(root.parent / "subs" / "<img src=x onerror=alert(1)>")
    run("grade", "fraud-detection", str(hostile), "--no-run", "-o", str(root / "hostile"))
    # plus a result whose name and every other string is an attack (the intake would have
    # cleaned the name of a real submission)
    add_to_round(root / "hostile", hostile_result(), folder_name="evil")
    run("users", "add", str(root), "dana", "--password-stdin", stdin=PASSWORD + "\n")
    port = free_port()
    log = (root.parent / "serve.log").open("w")
    server = subprocess.Popen([*TAKEHOME, "serve", str(root), "--port", str(port)], cwd=REPO,
                              stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/login", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((root.parent / "serve.log").read_text()) from None
                time.sleep(0.3)
        yield base, root
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    yield from launch_chromium()


class Watch:
    """Dialogs, page errors and requests to anything but the server, for one browser page."""

    def __init__(self, page, base: str):
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", lambda r: None if r.url.startswith((base, "data:"))
                else self.foreign.append(r.url))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def log_in(page, base: str) -> None:
    page.goto(base + "/")
    assert "/login" in page.url
    page.fill("#username", "dana")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(base + "/")


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def names(page) -> list[str]:
    return page.locator("#candidates a.cand-link b").all_inner_texts()


def test_interviewer_reviews_and_decides_in_the_browser(served, browser, tmp_path):
    base, root = served
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  accept_downloads=True)
    page = context.new_page()
    watch = Watch(page, base)
    page.goto(base + "/login")
    shot(page, "login")
    log_in(page, base)
    shot(page, "rounds")
    page.click("a[href='/rounds/fraud-detection']")
    page.wait_for_selector("#candidates")
    assert names(page) == ["strong", "weak", "broken"]  # by total, highest first
    shot(page, "round")

    # sort by name, then back by total ascending
    page.click("th a[data-sort=name]")
    page.wait_for_url("**sort=name**")
    assert names(page) == ["broken", "strong", "weak"]
    page.click("th a[data-sort=total]")
    page.wait_for_url("**sort=total&dir=desc**")
    page.click("th a[data-sort=total]")
    page.wait_for_url("**sort=total&dir=asc**")
    assert names(page)[0] == "broken"

    # filter: only candidates with a high red flag
    page.select_option("select[name=flags]", "high")
    page.click("#apply-filters")
    page.wait_for_url("**flags=high**")
    assert "strong" not in names(page)
    page.goto(base + "/rounds/fraud-detection")

    # compare two candidates
    page.check("tr[data-candidate] >> nth=0 >> input[name=c]")
    page.check("tr[data-candidate] >> nth=1 >> input[name=c]")
    page.click("#compare")
    page.wait_for_selector("#compare-table")
    headers = page.locator("#compare-table thead th").all_inner_texts()
    assert headers[1:] == ["strong", "weak"]
    assert page.locator("#compare-table tr[data-criterion=tests] td").count() == 3
    shot(page, "compare")

    # the strong candidate's report: their own figure and the held-out plots, really loaded
    page.goto(base + "/rounds/fraud-detection")
    page.click("a.cand-link:has-text('strong')")
    frame = page.frame_locator("#report")
    assert frame.locator("img.cand").count() >= 1
    assert frame.locator(".plots img").count() >= 2
    widths = frame.locator("img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert widths and all(w > 0 for w in widths)

    # blind mode: names are gone from the table until it is switched off again
    page.goto(base + "/rounds/fraud-detection")
    page.click("#blind-toggle")
    page.wait_for_selector("#blind-toggle:has-text('on')")
    assert all(name.startswith("Candidate ") for name in names(page))
    page.click("#blind-toggle")
    page.wait_for_selector("#blind-toggle:has-text('off')")
    assert sorted(names(page)) == ["broken", "strong", "weak"]

    # open a report
    page.goto(base + "/rounds/fraud-detection")
    page.click("a.cand-link:has-text('weak')")
    page.wait_for_selector("#levels")
    frame = page.frame_locator("#report")
    assert frame.locator("h1").inner_text() == "weak"
    assert frame.locator("#summary").is_visible()
    shot(page, "candidate")

    # override a level with a reason
    form = page.locator("form[data-criterion=tests]")
    automatic = page.locator("#crit-tests .lvl").inner_text()
    form.locator("select[name=level]").select_option("3")
    form.locator("input[name=reason]").fill("Tests live in checks/; the grader missed them.")
    form.locator("button").click()
    page.wait_for_selector("#saved")
    audit = page.locator("#audit-list").inner_text()
    assert f"tests: level {automatic} → level 3" in audit
    assert "Tests live in checks/" in audit
    frame = page.frame_locator("#report")
    frame.get_by_text("Reviewed by dana").first.wait_for()
    assert page.locator("#crit-tests .lvl").inner_text() == "3"

    # record a decision
    page.select_option("#decision-select", "advance")
    page.fill("#decision-reason", "Good instincts; verify the tests in the call.")
    page.click("#decision-save")
    page.wait_for_selector("#decision-pill")
    assert page.locator("#decision-pill").inner_text() == "advance"
    assert "decision: none → advance" in page.locator("#audit-list").inner_text()
    shot(page, "candidate-reviewed")

    # the round's audit list and the CSV export
    page.goto(base + "/rounds/fraud-detection/audit")
    assert page.locator("#audit-table tbody tr").count() == 2
    shot(page, "audit")
    page.goto(base + "/rounds/fraud-detection")
    assert "3*" in page.locator("tr[data-candidate]:has-text('weak')").inner_text()
    with page.expect_download() as download:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    weak = next(r for r in rows if r["candidate"] == "weak")
    assert (weak["decision"], weak["decision_reviewer"], weak["tests_level"]) == (
        "advance", "dana", "3")
    assert {r["candidate"] for r in rows} == {"strong", "weak", "broken"}

    # the files on disk follow (what `takehome report` and the next `grade` read)
    overrides = root / "fraud-detection" / "weak" / "result.overrides.yaml"
    deadline = time.monotonic() + 30
    while not overrides.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "reviewer: dana" in overrides.read_text()

    # log out: the pages are gone
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto(base + "/rounds/fraud-detection")
    assert "/login" in page.url and page.locator("#candidates").count() == 0
    assert watch.dialogs == [] and watch.errors == [] and watch.foreign == []
    context.close()


def test_hostile_submissions_run_no_script_in_the_browser(served, browser):
    base, _ = served
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    watch = Watch(page, base)
    log_in(page, base)
    page.goto(base + "/rounds/hostile")
    ids = page.locator("tr[data-candidate]").evaluate_all(
        "rows => rows.map(r => r.dataset.candidate)")
    assert len(ids) == 2
    # the hostile name is shown as text, not markup
    assert page.get_by_text("evil<script>", exact=False).count() >= 1
    shot(page, "hostile-round")
    urls = ["/rounds/hostile", "/rounds/hostile/audit",
            f"/rounds/hostile/compare?c={ids[0]}&c={ids[1]}"]
    for cid in ids:
        urls += [f"/rounds/hostile/c/{cid}", f"/rounds/hostile/c/{cid}/report"]
    for url in urls:
        page.goto(base + url)
        page.wait_for_load_state("load")
        page.mouse.move(200, 300)
        for frame in page.frames:
            assert frame.evaluate("() => window.__pwned === undefined"), (url, frame.url)
    # the notebook's markdown and outputs reached the report, escaped
    page.goto(base + f"/rounds/hostile/c/{ids[0]}/report")
    body = page.locator("body").inner_text() + page.content()
    assert "&lt;script&gt;" in body or "<script>window.__pwned" in page.locator(
        "body").inner_text()
    # an interviewer's note cannot inject either
    page.goto(base + f"/rounds/hostile/c/{ids[0]}")
    shot(page, "hostile-candidate")
    note = page.locator("#questions form").first
    assert note.count() == 1
    note.locator("textarea").fill("<img src=x onerror=\"alert('note')\">")
    note.locator("button").click()
    page.wait_for_selector("#saved")
    assert "onerror" in page.locator("#audit-list").inner_text()
    assert "onerror" in page.locator("#questions textarea").first.input_value()
    assert watch.dialogs == [], watch.dialogs
    assert watch.errors == [] and watch.foreign == [], (watch.errors, watch.foreign)
    context.close()
